import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, test } from "vitest";
import type { ServiceBusClient, ServiceBusReceivedMessage } from "@azure/service-bus";
import { BatchingSender } from "../../../shared/adapters/servicebus/batching-sender.js";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

let peer: TestPeer;
let client: ServiceBusClient;
const plain = `batching-${randomUUID()}`;
const sessions = `batching-sessions-${randomUUID()}`;

async function receiveAll(queue: string, count: number, sessionId?: string): Promise<ServiceBusReceivedMessage[]> {
  const receiver = sessionId === undefined ? client.createReceiver(queue, { receiveMode: "receiveAndDelete" }) : await client.acceptSession(queue, sessionId, { receiveMode: "receiveAndDelete" });
  const got: ServiceBusReceivedMessage[] = [];
  try {
    while (got.length < count) {
      const batch = await receiver.receiveMessages(count - got.length, { maxWaitTimeInMs: 2000 });
      if (batch.length === 0) break;
      got.push(...batch);
    }
  } finally {
    await receiver.close();
  }
  return got;
}

describe("BatchingSender against the Service Bus peer with the real SDK", () => {
  beforeAll(async () => {
    peer = await startServiceBusPeerForTests({
      queues: [
        { name: plain, requiresSession: false, defaultMessageTimeToLive: "PT5M", lockDuration: "PT1M", maxDeliveryCount: 5 },
        { name: sessions, requiresSession: true, defaultMessageTimeToLive: "PT5M", lockDuration: "PT1M", maxDeliveryCount: 5 },
      ],
    });
    client = createServiceBusClient({ connectionString: peer.connectionString });
  });
  afterAll(async () => {
    await client.close();
    await peer.stop();
  });

  test("messages handed over in one turn travel as one transfer, each keeping its own properties", async () => {
    const sender = client.createSender(plain);
    const batching = new BatchingSender(sender);
    await batching.send({ body: Buffer.from("warm"), messageId: "warm" }); // opens the link
    const before = peer.peer.stats();
    const ids = Array.from({ length: 20 }, (_, i) => `m-${i}`);
    await Promise.all(ids.map((id, i) => batching.send({ body: Buffer.from(id), messageId: id, correlationId: `c-${i}`, timeToLive: 60_000 + i, applicationProperties: { n: i } })));
    const after = peer.peer.stats();
    assert.equal(after.messagesSent - before.messagesSent, 20);
    assert.equal(after.transfersReceived - before.transfersReceived, 1);
    const got = await receiveAll(plain, 21);
    const byId = new Map(got.map((m) => [String(m.messageId), m]));
    for (const [i, id] of ids.entries()) {
      const m = byId.get(id);
      assert.ok(m !== undefined, `${id} arrived`);
      assert.equal(Buffer.from(m.body as Uint8Array).toString(), id);
      assert.equal(m.correlationId, `c-${i}`);
      assert.equal(m.timeToLive, 60_000 + i);
      assert.equal(m.applicationProperties?.n, i);
    }
    await sender.close();
  });

  test("one batch per session: messages of two sessions go out as two transfers, each to its session", async () => {
    const sender = client.createSender(sessions);
    const batching = new BatchingSender(sender);
    await batching.send({ body: Buffer.from("warm"), sessionId: "a", messageId: "warm" });
    const before = peer.peer.stats();
    const sends = [];
    for (let i = 0; i < 6; i++) sends.push(batching.send({ body: Buffer.from(String(i)), sessionId: i % 2 === 0 ? "a" : "b", messageId: `s-${i}` }));
    await Promise.all(sends);
    assert.equal(peer.peer.stats().transfersReceived - before.transfersReceived, 2);
    const a = await receiveAll(sessions, 4, "a");
    const b = await receiveAll(sessions, 3, "b");
    assert.deepEqual(a.map((m) => m.messageId).sort(), ["s-0", "s-2", "s-4", "warm"]);
    assert.deepEqual(b.map((m) => m.messageId).sort(), ["s-1", "s-3", "s-5"]);
    await sender.close();
  });

  test("a message too large for any batch is sent alone, and the others still travel batched", async () => {
    const sender = client.createSender(plain);
    const batching = new BatchingSender(sender);
    await batching.send({ body: Buffer.from("warm"), messageId: "warm" });
    await receiveAll(plain, 1);
    const before = peer.peer.stats();
    // Larger than the link's maximum (256 KB): it cannot join a batch, and the SDK refuses it
    // with MessageSizeExceeded, as Azure would (the peer enforces the limit too: wire-contract.test.ts).
    const outcomes = await Promise.allSettled([
      batching.send({ body: Buffer.from("small-1"), messageId: "small-1" }),
      batching.send({ body: Buffer.alloc(300 * 1024, 1), messageId: "huge" }),
      batching.send({ body: Buffer.from("small-2"), messageId: "small-2" }),
    ]);
    assert.equal(outcomes[0]?.status, "fulfilled");
    assert.equal(outcomes[2]?.status, "fulfilled");
    const stats = peer.peer.stats();
    assert.equal(outcomes[1]?.status, "rejected");
    if (outcomes[1]?.status === "rejected") assert.equal((outcomes[1].reason as { code?: string }).code, "MessageSizeExceeded");
    const accepted = 2;
    assert.equal(stats.messagesSent - before.messagesSent, accepted);
    // The large one went alone: never more than one transfer per message, never one for all three.
    assert.ok(stats.transfersReceived - before.transfersReceived >= 2);
    const got = await receiveAll(plain, accepted);
    assert.ok(["small-1", "small-2"].every((id) => got.some((m) => m.messageId === id)));
    assert.equal(got.find((m) => m.messageId === "huge"), undefined, "the refused message was not delivered");
    await sender.close();
  });

  test("when the batch cannot be sent, every message in it is rejected and none is lost silently", async () => {
    const queue = `batching-closed-${randomUUID()}`;
    peer.peer.addQueue({ name: queue, requiresSession: false, defaultMessageTimeToLive: "PT5M", lockDuration: "PT1M", maxDeliveryCount: 5 });
    const sender = client.createSender(queue);
    const batching = new BatchingSender(sender);
    await sender.close();
    const results = await Promise.allSettled([1, 2, 3].map((i) => batching.send({ body: Buffer.from(String(i)) })));
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected", "rejected"]);
    assert.equal(peer.peer.depth(queue).active, 0);
  });
});
