import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { nextOccurrence, parseSchedule, ScheduleError } from "../../../../dev/functions-host/ncrontab.js";
import { startLocalRunner } from "../../../../dev/functions-host/local-runner.js";

const next = (schedule: string, after: string) => nextOccurrence(schedule, new Date(after)).toISOString();

describe("NCRONTAB schedules in the local runner", () => {
  test("the key rotation schedule fires daily at 03:00 UTC, strictly after the given time", () => {
    assert.equal(next("0 0 3 * * *", "2026-12-01T02:59:59.500Z"), "2026-12-01T03:00:00.000Z");
    assert.equal(next("0 0 3 * * *", "2026-12-01T03:00:00.000Z"), "2026-12-02T03:00:00.000Z");
    assert.equal(next("0 0 3 * * *", "2026-12-31T04:00:00.000Z"), "2027-01-01T03:00:00.000Z");
  });

  test("steps, ranges, lists and names", () => {
    assert.equal(next("*/15 * * * * *", "2026-12-01T10:00:14.000Z"), "2026-12-01T10:00:15.000Z");
    assert.equal(next("0 5/20 * * * *", "2026-12-01T10:26:00.000Z"), "2026-12-01T10:45:00.000Z");
    // Weekdays only: Saturday 5 December 2026 → Monday the 7th.
    assert.equal(next("0 30 9 * * 1-5", "2026-12-05T00:00:00.000Z"), "2026-12-07T09:30:00.000Z");
    assert.equal(next("0 30 9 * * Mon-Fri", "2026-12-05T00:00:00.000Z"), "2026-12-07T09:30:00.000Z");
    assert.equal(next("0 0 0 1 Jan,Jul *", "2026-12-01T00:00:00.000Z"), "2027-01-01T00:00:00.000Z");
    assert.equal(next("0 0 0 1 1,7 *", "2027-01-01T00:00:00.000Z"), "2027-07-01T00:00:00.000Z");
    // Sunday may be 0 or 7.
    assert.equal(next("0 0 12 * * 7", "2026-12-01T00:00:00.000Z"), "2026-12-06T12:00:00.000Z");
    // Day of month and weekday must both match: the next Friday the 13th.
    assert.equal(next("0 0 0 13 * 5", "2026-12-01T00:00:00.000Z"), "2027-08-13T00:00:00.000Z");
  });

  test("a rare schedule is found, even years ahead (whole months and days are skipped, not seconds)", () => {
    assert.equal(next("0 0 0 29 2 *", "2027-03-01T00:00:00.000Z"), "2028-02-29T00:00:00.000Z");
    // 29 February 2028 is a Tuesday.
    assert.equal(next("0 0 0 29 2 2", "2027-03-01T00:00:00.000Z"), "2028-02-29T00:00:00.000Z");
    assert.equal(next("0 0 0 29 2 *", "2028-03-01T00:00:00.000Z"), "2032-02-29T00:00:00.000Z");
  });

  test("bad schedules are refused with what is wrong", () => {
    for (const [schedule, says] of [
      ["0 0 3 * *", /six-field/],
      ["0 0 24 * * *", /hour 24 is outside 0-23/],
      ["0 0 3 * * Funday", /not a valid weekday/],
      ["*/0 * * * * *", /invalid step/],
      ["0 0 3 10-2 * *", /runs backwards/],
      ["0 0 3 ,1 * *", /not a valid day item/],
    ] as const) {
      assert.throws(() => parseSchedule(schedule), (e: unknown) => e instanceof ScheduleError && says.test(e.message), schedule);
    }
    assert.throws(() => nextOccurrence("0 0 0 30 2 *", new Date()), (e: unknown) => e instanceof ScheduleError && /never fires/.test(e.message));
  });

  test("the runner fires a timer on its schedule, again after each run, and not after close", async () => {
    let runs = 0;
    const runner = await startLocalRunner({ port: 0, settings: {}, functions: [{ kind: "timer", name: "tick", schedule: "* * * * * *", handler: async () => void (runs += 1) }] });
    const deadline = Date.now() + 5000;
    while (runs < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await runner.close();
    assert.ok(runs >= 2, `fired ${runs} times`);
    const after = runs;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(runs, after);
  });

  test("the runner refuses a timer with a bad schedule before it listens", async () => {
    await assert.rejects(
      startLocalRunner({ port: 0, settings: {}, functions: [{ kind: "timer", name: "bad", schedule: "0 0 25 * * *", handler: async () => {} }] }),
      (e: unknown) => e instanceof ScheduleError,
    );
  });
});
