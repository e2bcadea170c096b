import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { CpuTurns } from "../../../agent/transport/cpu-turns.js";

/** Busy work of at least `ms` (wall clock), like an RSA decrypt. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Counts event-loop turns: the number goes up once per check phase while it runs. */
function turnCounter(): { now(): number; stop(): void } {
  let turn = 0;
  let running = true;
  const tick = () => {
    turn += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return { now: () => turn, stop: () => (running = false) };
}

describe("CPU turns", () => {
  test("a burst is let through in arrival order, the next caller in a later turn once the budget is spent", async () => {
    const turns = new CpuTurns(1);
    const counter = turnCounter();
    const ran: { id: number; turn: number }[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, id) => {
        await turns.take();
        ran.push({ id, turn: counter.now() });
        spin(1.2);
      }),
    );
    counter.stop();
    assert.deepEqual(ran.map((r) => r.id), Array.from({ length: 12 }, (_, i) => i));
    const perTurn = new Map<number, number>();
    for (const r of ran) perTurn.set(r.turn, (perTurn.get(r.turn) ?? 0) + 1);
    // Each caller's work (≥ 1.2 ms) spends the 1 ms budget: the next one waits for a later turn.
    assert.equal(perTurn.size, 12, `callers per turn: ${JSON.stringify([...perTurn])}`);
    assert.equal(turns.waitingCount(), 0);
  });

  test("cheap work within the budget all passes in the same turn", async () => {
    const turns = new CpuTurns(10_000);
    let immediateRan = false;
    setImmediate(() => (immediateRan = true));
    const seen: boolean[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        await turns.take();
        seen.push(immediateRan);
      }),
    );
    assert.deepEqual(seen, Array.from({ length: 20 }, () => false));
  });

  test("a later burst starts a fresh turn", async () => {
    const turns = new CpuTurns(1);
    await turns.take();
    spin(2);
    await new Promise((r) => setImmediate(r));
    let immediateRan = false;
    setImmediate(() => (immediateRan = true));
    await turns.take();
    // The budget spent before the pause does not count against the new burst.
    assert.equal(immediateRan, false);
  });

  test("a budget must be above zero", () => {
    for (const bad of [0, -1, Number.NaN]) assert.throws(() => new CpuTurns(bad), RangeError);
  });
});
