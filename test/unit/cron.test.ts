/**
 * Cron math of the scheduler under plain Node: validation of expressions and zones, occurrences in
 * Europe/Berlin and America/New_York across both DST changes of 2026, and how a tick merges missed
 * occurrences after downtime.
 */
import { describe, expect, it } from "vitest";
import { checkCron, localIso, nextOccurrences, planOccurrence } from "../../worker/scheduler/cron";

const at = (iso: string) => Date.parse(iso);
const local = (times: number[], zone: string) => times.map((t) => localIso(t, zone));
const berlin = (cron: string) => ({ cron, timezone: "Europe/Berlin" });
const newYork = (cron: string) => ({ cron, timezone: "America/New_York" });
const NOW = at("2026-12-01T12:00:00Z");

describe("checkCron", () => {
  it.each([
    ["0 7 * * 1-5", "Europe/Berlin"],
    ["*/15 9-17 * * mon-fri", "America/New_York"],
    ["0 0 L * *", "UTC"],
    ["30 2 1,15 * *", "Asia/Kolkata"],
  ])("accepts %s in %s", (cron, zone) => {
    expect(checkCron(cron, zone, NOW)).toEqual({ ok: true, spec: { cron, timezone: zone } });
  });

  it("stores a normalized expression and the zone's canonical name", () => {
    expect(checkCron("  0   7 * *\t1-5 ", "europe/berlin", NOW)).toEqual({
      ok: true,
      spec: { cron: "0 7 * * 1-5", timezone: "Europe/Berlin" },
    });
  });

  it.each([
    ["0 0 7 * * 1-5", /exactly 5 fields.*has 6/],
    ["0 7 * *", /exactly 5 fields.*has 4/],
    ["", /exactly 5 fields.*has 0/],
    ["@daily", /exactly 5 fields/],
    ["2030-01-01T00:00:00", /exactly 5 fields/],
    ["61 * * * *", /Invalid cron expression/],
    ["0 25 * * *", /Invalid cron expression/],
    ["0 0 * * funday", /Invalid cron expression/],
    ["0 0 31 2 *", /never fires/],
    [`0 0 * * ${"1,".repeat(80)}1`, /at most 120 characters/],
  ])("rejects the expression %j", (cron, message) => {
    const result = checkCron(cron, "UTC", NOW);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe("invalid_cron");
      expect(result.message).toMatch(message);
    }
  });

  it.each(["Mars/Olympus", "Europe/Berlin/Extra/Deep", "+01:00", "GMT+1 ", "", "../etc/passwd"])(
    "rejects the zone %j",
    (zone) => {
      const result = checkCron("0 7 * * *", zone, NOW);
      expect(result).toMatchObject({ ok: false, code: "invalid_timezone" });
    },
  );
});

describe("occurrences across the DST changes of 2026", () => {
  it("Berlin, spring forward (29 March): a daily 02:30 runs at 03:00, right after the gap, once", () => {
    const times = nextOccurrences(berlin("30 2 * * *"), at("2026-03-27T00:00:00Z"), 4);
    expect(local(times, "Europe/Berlin")).toEqual([
      "2026-03-27T02:30:00+01:00",
      "2026-03-28T02:30:00+01:00",
      "2026-03-29T03:00:00+02:00",
      "2026-03-30T02:30:00+02:00",
    ]);
  });

  it("Berlin, fall back (25 October): a daily 02:30 runs once in the repeated hour, at its first pass", () => {
    const times = nextOccurrences(berlin("30 2 * * *"), at("2026-10-23T12:00:00Z"), 3);
    expect(local(times, "Europe/Berlin")).toEqual([
      "2026-10-24T02:30:00+02:00",
      "2026-10-25T02:30:00+02:00",
      "2026-10-26T02:30:00+01:00",
    ]);
  });

  it("Berlin: an every-30-minutes schedule keeps 30 real minutes between runs through both changes", () => {
    const fall = nextOccurrences(berlin("*/30 * * * *"), at("2026-10-24T23:00:00Z"), 8);
    expect(local(fall, "Europe/Berlin")).toEqual([
      "2026-10-25T01:30:00+02:00",
      "2026-10-25T02:00:00+02:00",
      "2026-10-25T02:30:00+02:00",
      "2026-10-25T02:00:00+01:00",
      "2026-10-25T02:30:00+01:00",
      "2026-10-25T03:00:00+01:00",
      "2026-10-25T03:30:00+01:00",
      "2026-10-25T04:00:00+01:00",
    ]);
    const spring = nextOccurrences(berlin("*/30 * * * *"), at("2026-03-29T00:00:00Z"), 4);
    expect(local(spring, "Europe/Berlin")).toEqual([
      "2026-03-29T01:30:00+01:00",
      "2026-03-29T03:00:00+02:00",
      "2026-03-29T03:30:00+02:00",
      "2026-03-29T04:00:00+02:00",
    ]);
    for (const times of [fall, spring]) {
      const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
      expect(new Set(gaps)).toEqual(new Set([30 * 60_000]));
    }
  });

  it("Berlin: an hourly schedule runs 25 times on the day that has 25 hours, and 23 on the one with 23", () => {
    const fallDay = nextOccurrences(berlin("0 * * * *"), at("2026-10-24T22:00:00Z") - 1, 30).filter(
      (t) => t < at("2026-10-25T23:00:00Z"),
    );
    expect(fallDay).toHaveLength(25);
    expect(new Set(fallDay).size).toBe(25);
    const springDay = nextOccurrences(berlin("0 * * * *"), at("2026-03-28T23:00:00Z") - 1, 30).filter(
      (t) => t < at("2026-03-29T22:00:00Z"),
    );
    expect(springDay).toHaveLength(23);
  });

  it("New York, spring forward (8 March): 09:00 on weekdays stays 09:00 local, 02:30 daily runs at 03:00", () => {
    const weekdays = nextOccurrences(newYork("0 9 * * 1-5"), at("2026-03-06T00:00:00Z"), 2);
    expect(local(weekdays, "America/New_York")).toEqual(["2026-03-06T09:00:00-05:00", "2026-03-09T09:00:00-04:00"]);
    const nightly = nextOccurrences(newYork("30 2 * * *"), at("2026-03-07T00:00:00Z"), 3);
    expect(local(nightly, "America/New_York")).toEqual([
      "2026-03-07T02:30:00-05:00",
      "2026-03-08T03:00:00-04:00",
      "2026-03-09T02:30:00-04:00",
    ]);
  });

  it("New York, fall back (1 November): 01:30 daily runs once although 01:30 happens twice", () => {
    const nightly = nextOccurrences(newYork("30 1 * * *"), at("2026-10-31T00:00:00Z"), 3);
    expect(local(nightly, "America/New_York")).toEqual([
      "2026-10-31T01:30:00-04:00",
      "2026-11-01T01:30:00-04:00",
      "2026-11-02T01:30:00-05:00",
    ]);
    const weekdays = nextOccurrences(newYork("0 9 * * 1-5"), at("2026-10-30T00:00:00Z"), 2);
    expect(local(weekdays, "America/New_York")).toEqual(["2026-10-30T09:00:00-04:00", "2026-11-02T09:00:00-05:00"]);
  });
});

describe("planOccurrence", () => {
  it("runs the due occurrence and moves to the next one", () => {
    const spec = berlin("0 7 * * *");
    const due = at("2026-06-01T05:00:00Z");
    expect(planOccurrence(spec, due, due)).toEqual({ runFor: due, missed: null, next: at("2026-06-02T05:00:00Z") });
    // A tick a few seconds late is still the same single occurrence.
    expect(planOccurrence(spec, due, due + 5000).missed).toBeNull();
  });

  it("after a day of downtime, an hourly schedule runs once for the latest hour and counts the rest", () => {
    const spec = berlin("0 * * * *");
    const plan = planOccurrence(spec, at("2026-06-01T10:00:00Z"), at("2026-06-02T10:20:00Z"));
    expect(plan).toEqual({
      runFor: at("2026-06-02T10:00:00Z"),
      missed: { count: 24, capped: false, first: at("2026-06-01T10:00:00Z"), last: at("2026-06-02T09:00:00Z") },
      next: at("2026-06-02T11:00:00Z"),
    });
  });

  it("caps the count of missed occurrences after long downtime", () => {
    const plan = planOccurrence(berlin("* * * * *"), at("2026-06-01T00:00:00Z"), at("2026-06-08T00:00:30Z"));
    expect(plan.runFor).toBe(at("2026-06-08T00:00:00Z"));
    expect(plan.missed).toMatchObject({ count: 100, capped: true, first: at("2026-06-01T00:00:00Z") });
    expect(plan.missed?.last).toBe(at("2026-06-07T23:59:00Z"));
  });

  it("a fixed-time schedule due across the repeated hour is one run, not two", () => {
    const spec = berlin("30 2 * * *");
    const plan = planOccurrence(spec, at("2026-10-25T00:30:00Z"), at("2026-10-25T01:45:00Z"));
    expect(plan).toEqual({ runFor: at("2026-10-25T00:30:00Z"), missed: null, next: at("2026-10-26T01:30:00Z") });
  });
});
