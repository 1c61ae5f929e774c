/**
 * The routes in the URL: every page's path parses to its route (ids decoded), unknown paths are
 * "not found", and a schedule's pages belong to the "Schedules" entry of the navigation.
 */
import { describe, expect, it } from "vitest";
import { navItems, parseRoute, schedulePath, sectionOf } from "../../client/src/models/router";

describe("routes", () => {
  it("parses every page's path", () => {
    expect(parseRoute("/")).toEqual({ name: "home" });
    expect(parseRoute("/settings")).toEqual({ name: "settings" });
    expect(parseRoute("/chats/c%201")).toEqual({ name: "chat", chatId: "c 1" });
    expect(parseRoute("/schedules")).toEqual({ name: "schedules" });
    expect(parseRoute("/schedules/")).toEqual({ name: "schedules" });
    expect(parseRoute("/schedules/new")).toEqual({ name: "schedule-new" });
    expect(parseRoute(schedulePath("s/1"))).toEqual({ name: "schedule", scheduleId: "s/1" });
    expect(parseRoute(`${schedulePath("s1")}/edit`)).toEqual({ name: "schedule-edit", scheduleId: "s1" });
    expect(parseRoute("/schedules/s1/runs")).toEqual({ name: "not-found", path: "/schedules/s1/runs" });
  });

  it("puts a schedule's pages under the Schedules entry of the navigation", () => {
    expect(navItems.map((i) => i.label)).toEqual(["Chats", "Schedules", "Settings"]);
    for (const path of ["/schedules", "/schedules/new", "/schedules/s1", "/schedules/s1/edit"]) {
      expect(sectionOf(parseRoute(path))).toBe("schedules");
    }
    expect(sectionOf(parseRoute("/settings"))).toBe("settings");
    expect(sectionOf(parseRoute("/chats/c1"))).toBe("chat");
  });
});
