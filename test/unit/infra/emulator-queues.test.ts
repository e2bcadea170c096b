import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { assertSameQueue, emulatorQueues, seconds, type QueueSpec } from "./emulator-queues.js";

// The reader that compares the local peer's queue configuration with infra/, on inline configs in
// the layouts it accepts, so the comparison is known to work before the peer's file exists.
const replies: QueueSpec = { requiresSession: true, defaultMessageTimeToLive: "PT2M", lockDuration: "PT1M", maxDeliveryCount: 10, deadLetteringOnMessageExpiration: false };

describe("emulator queue configuration reader", () => {
  test("reads a plain { queues: [...] } layout", () => {
    const q = emulatorQueues({ queues: [{ name: "replies", requiresSession: true, defaultMessageTimeToLive: "PT120S", lockDuration: "PT1M", maxDeliveryCount: 10 }], keys: [{ name: "queues" }] });
    assert.deepEqual([...q.keys()], ["replies"]);
    assertSameQueue("replies", q.get("replies") ?? {}, replies);
  });

  test("reads the official emulator's UserConfig layout with Properties", () => {
    const q = emulatorQueues({ UserConfig: { Namespaces: [{ Name: "sbemulatorns", Queues: [{ Name: "replies", Properties: { RequiresSession: true, DefaultMessageTimeToLive: "PT2M", LockDuration: "PT1M", MaxDeliveryCount: 10 } }] }] } });
    assert.deepEqual([...q.keys()], ["replies"]);
    assertSameQueue("replies", q.get("replies") ?? {}, replies);
  });

  test("reports a queue whose settings differ", () => {
    const q = emulatorQueues({ queues: [{ name: "replies", requiresSession: false, maxDeliveryCount: 3 }] });
    assert.throws(() => assertSameQueue("replies", q.get("replies") ?? {}, replies), /replies\.requiresSession/);
  });

  test("durations compare by length, not spelling", () => {
    assert.equal(seconds("PT2M"), 120);
    assert.equal(seconds("PT120S"), 120);
    assert.equal(seconds("P1DT1H"), 90000);
    assert.throws(() => seconds("2 minutes"));
  });
});
