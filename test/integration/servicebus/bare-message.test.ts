import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, test } from "vitest";
import type { ServiceBusClient, ServiceBusReceivedMessage } from "@azure/service-bus";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

let peer: TestPeer;
let client: ServiceBusClient;
const queue = `bare-${randomUUID()}`;

/** What a receiver sees of a message that the peer must not change. */
function bareView(m: ServiceBusReceivedMessage) {
  return {
    body: Buffer.from(m.body as Uint8Array).toString("hex"),
    messageId: m.messageId,
    correlationId: m.correlationId,
    contentType: m.contentType,
    subject: m.subject,
    to: m.to,
    replyTo: m.replyTo,
    replyToSessionId: m.replyToSessionId,
    applicationProperties: m.applicationProperties,
  };
}

describe("the peer forwards a batched message's bare message as the sender encoded it", () => {
  beforeAll(async () => {
    peer = await startServiceBusPeerForTests({ queues: [{ name: queue, requiresSession: false, defaultMessageTimeToLive: "PT5M", lockDuration: "PT1M", maxDeliveryCount: 2 }] });
    client = createServiceBusClient({ connectionString: peer.connectionString });
  });
  afterAll(async () => {
    await client.close();
    await peer.stop();
  });

  test("every field arrives intact, the broker's own annotations are fresh on each delivery, and dead-lettering still adds its reason", async () => {
    const sender = client.createSender(queue);
    const batch = await sender.createMessageBatch();
    const sent = [0, 1, 2].map((i) => ({
      body: Buffer.from(Array.from({ length: 700 }, (_, j) => (i * 31 + j) % 256)),
      messageId: `m-${i}`,
      correlationId: `c-${i}`,
      contentType: "application/vnd.writeback.envelope",
      subject: "reset",
      to: "agent",
      replyTo: "writeback-replies",
      replyToSessionId: "instance-1",
      timeToLive: 60_000,
      applicationProperties: { tenantId: randomUUID(), n: i, flag: true },
    }));
    for (const m of sent) assert.ok(batch.tryAddMessage(m));
    const before = peer.peer.stats();
    await sender.sendMessages(batch);

    const receiver = client.createReceiver(queue, { receiveMode: "peekLock" });
    const first = await receiver.receiveMessages(3, { maxWaitTimeInMs: 2000 });
    assert.equal(first.length, 3);
    const byId = new Map(first.map((m) => [m.messageId, m]));
    for (const s of sent) {
      const got = byId.get(s.messageId);
      assert.ok(got !== undefined);
      assert.deepEqual(bareView(got), bareView(s as unknown as ServiceBusReceivedMessage));
      assert.equal(got.deliveryCount, 0);
      assert.equal(got.timeToLive, 60_000);
      assert.ok(got.sequenceNumber !== undefined && got.enqueuedTimeUtc instanceof Date && got.lockedUntilUtc instanceof Date);
    }
    assert.equal(peer.peer.stats().deliveredAsReceived - before.deliveredAsReceived, 3);

    // Abandoned and delivered again: a new delivery count and lock, the same bare message.
    const m0 = byId.get("m-0")!;
    await receiver.abandonMessage(m0);
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.ok(again !== undefined);
    assert.equal(again.deliveryCount, 1);
    assert.equal(again.sequenceNumber?.toString(), m0.sequenceNumber?.toString());
    assert.deepEqual(bareView(again), bareView(m0));
    await receiver.completeMessage(again);

    // Dead-lettered: the peer adds the reason to the application properties, so it re-encodes.
    await receiver.deadLetterMessage(byId.get("m-1")!, { deadLetterReason: "TestReason", deadLetterErrorDescription: "why" });
    await receiver.completeMessage(byId.get("m-2")!);
    const dlq = client.createReceiver(queue, { subQueueType: "deadLetter", receiveMode: "receiveAndDelete" });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    assert.ok(dead !== undefined);
    assert.equal(dead.deadLetterReason, "TestReason");
    assert.equal(dead.applicationProperties?.n, 1);
    assert.equal(Buffer.from(dead.body as Uint8Array).toString("hex"), sent[1]!.body.toString("hex"));
    await Promise.all([dlq.close(), receiver.close(), sender.close()]);
  });
});
