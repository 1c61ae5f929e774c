/**
 * The resume law as a property test: a listener that drops at random points and reconnects with
 * the last seq it saw receives every event exactly once, in order, including events appended while
 * it was connecting. Seeded, so a failure names the trial that reproduces it.
 */
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../worker/protocol/events";
import { mulberry32 } from "../unit/prng";
import { createChat, type Session, signUp } from "./helpers";
import { append, type Listener, openSse, openWs, room } from "./stream-helpers";

const TRIALS_PER_TRANSPORT = 200;

async function trial(session: Session, seed: number, transport: "ws" | "sse"): Promise<void> {
  const { int, chance } = mulberry32(seed);
  const chat = await createChat(session);
  const messageId = crypto.randomUUID();
  const total = int(5, 40);

  // The appender writes in random chunks (text deltas get coalesced, usage events do not),
  // interleaved with the listener's drops and reconnects.
  let finalHead: number | null = null;
  const appended = (async () => {
    for (let written = 0; written < total; ) {
      const n = Math.min(total - written, int(1, 5));
      const drafts = Array.from({ length: n }, (_, i) =>
        chance(0.5)
          ? { kind: "text_delta", messageId, payload: { text: `#${written + i};` } }
          : { kind: "usage", messageId, payload: { inputTokens: written + i, outputTokens: 0 } },
      );
      written += n;
      await append(chat.id, drafts);
      if (chance(0.5)) await new Promise((r) => setTimeout(r, int(0, 3)));
    }
    finalHead = (await room(chat.id).flush(chat.id)).head;
  })();

  const received: Envelope[] = [];
  let cursor = 0;
  for (let connection = 1; finalHead === null || cursor < finalHead; connection++) {
    const listener: Listener =
      transport === "ws" ? await openWs(session, chat.id, cursor) : await openSse(session, chat.id, { after: cursor });
    // Drop after a random number of frames (0: right after connecting); stop dropping eventually.
    const budget = connection > 20 ? Number.POSITIVE_INFINITY : int(0, 8);
    for (let read = 0; read < budget && (finalHead === null || cursor < finalHead); read++) {
      const next = listener.next();
      // Wake up when the appender finishes too: the listener may already have everything.
      let frame = await Promise.race([next, appended.then(() => "appended" as const)]);
      if (frame === "appended") {
        if (finalHead !== null && cursor >= finalHead) break;
        frame = await next;
      }
      if (!frame) break;
      if (frame.type === "events") received.push(...frame.events);
      cursor = received.at(-1)?.seq ?? 0;
    }
    listener.close();
  }
  await appended;
  expect(
    received.map((e) => e.seq),
    `seed ${seed} over ${transport}`,
  ).toEqual(Array.from({ length: finalHead ?? 0 }, (_, i) => i + 1));
}

describe("resume law", () => {
  for (const transport of ["ws", "sse"] as const) {
    it(`${transport}: random drops and reconnects see every event once, in order (${TRIALS_PER_TRANSPORT} seeded trials)`, async () => {
      const session = await signUp();
      for (let seed = 1; seed <= TRIALS_PER_TRANSPORT; seed++) await trial(session, seed * 7919, transport);
    }, 120_000);
  }
});
