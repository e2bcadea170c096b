import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { WorkSlots } from "../../../agent/transport/work-slots.js";

describe("work slots", () => {
  test("at most `size` holders; waiters get slots in arrival order as they are released", async () => {
    const slots = new WorkSlots(2);
    const a = await slots.acquire();
    const b = await slots.acquire();
    const order: string[] = [];
    const c = slots.acquire().then((r) => (order.push("c"), r));
    const d = slots.acquire().then((r) => (order.push("d"), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, []);
    assert.deepEqual(slots.usage(), { active: 2, waiting: 2 });
    a();
    const releaseC = await c;
    assert.deepEqual(order, ["c"]);
    assert.deepEqual(slots.usage(), { active: 2, waiting: 1 });
    b();
    const releaseD = await d;
    assert.deepEqual(order, ["c", "d"]);
    releaseC();
    releaseD();
    assert.deepEqual(slots.usage(), { active: 0, waiting: 0 });
  });

  test("releasing twice gives back one slot, never two", async () => {
    const slots = new WorkSlots(1);
    const release = await slots.acquire();
    release();
    release();
    assert.deepEqual(slots.usage(), { active: 0, waiting: 0 });
    await slots.acquire();
    assert.deepEqual(slots.usage(), { active: 1, waiting: 0 });
  });

  test("a size below 1 is refused", () => {
    assert.throws(() => new WorkSlots(0), RangeError);
    assert.throws(() => new WorkSlots(1.5), RangeError);
  });
});
