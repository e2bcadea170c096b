import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import type { ServiceBusClient, ServiceBusReceiver, ServiceBusSender } from "@azure/service-bus";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

// Regression: the peer's AMQP session window is 2,048 deliveries, and rhea frees a slot only when
// a delivery is settled on both sides. The SDK never settles after the peer answered its
// disposition, so before `settledOnBothSides` every receiver link stalled at delivery 2,048.
// 2,500 peekLock deliveries on ONE link (plain and session receiver) must all arrive.

const COUNT = 2500;
const DEADLINE_MS = 20_000;
let peer: TestPeer;
let client: ServiceBusClient;
const receivers: ServiceBusReceiver[] = [];

beforeAll(async () => {
  peer = await startServiceBusPeerForTests({
    queues: [
      { name: "window-plain", lockDuration: "PT1M" },
      { name: "window-session", requiresSession: true, lockDuration: "PT1M" },
    ],
  });
  client = createServiceBusClient({ connectionString: peer.connectionString });
});
afterAll(async () => {
  await Promise.allSettled(receivers.map((r) => r.close()));
  await client?.close();
  await peer?.stop();
});

async function sendInBatches(sender: ServiceBusSender, sessionId?: string): Promise<void> {
  for (let start = 0; start < COUNT; start += 250) {
    const batch = await sender.createMessageBatch();
    for (let i = start; i < Math.min(COUNT, start + 250); i++) {
      assert.ok(batch.tryAddMessage({ body: i, messageId: `m-${i}`, ...(sessionId === undefined ? {} : { sessionId }) }), `message ${i} did not fit`);
    }
    await sender.sendMessages(batch);
  }
}

test(`${COUNT} peekLock deliveries keep flowing on one receiver link (subscribe + complete)`, async () => {
  await sendInBatches(client.createSender("window-plain"));
  const receiver = client.createReceiver("window-plain", { maxAutoLockRenewalDurationInMs: 0 });
  receivers.push(receiver);
  /** Bodies of the messages received and completed. */
  const seen = new Set<number>();
  const errors: Error[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.size} of ${COUNT} arrived in ${DEADLINE_MS} ms; errors: ${errors.map((e) => e.message).join("; ")}`)), DEADLINE_MS);
    receiver.subscribe(
      {
        async processMessage(m) {
          await receiver.completeMessage(m);
          seen.add(Number(m.body));
          if (seen.size === COUNT) {
            clearTimeout(timer);
            resolve();
          }
        },
        async processError(args) {
          errors.push(args.error);
        },
      },
      { autoCompleteMessages: false, maxConcurrentCalls: 50 },
    );
  });
  assert.equal(seen.size, COUNT);
  await receiver.close();
  // Every delivery was completed: nothing is left, locked or not.
  const peeker = client.createReceiver("window-plain");
  receivers.push(peeker);
  assert.deepEqual(await peeker.peekMessages(10), []);
});

test(`${COUNT} peekLock deliveries keep flowing on one session receiver (receiveMessages + complete)`, async () => {
  await sendInBatches(client.createSender("window-session"), "one");
  const receiver = await client.acceptSession("window-session", "one", { maxAutoLockRenewalDurationInMs: 0 });
  receivers.push(receiver);
  const seen = new Set<number>();
  const deadline = Date.now() + DEADLINE_MS;
  while (seen.size < COUNT && Date.now() < deadline) {
    const got = await receiver.receiveMessages(300, { maxWaitTimeInMs: 1000 });
    for (const m of got) {
      seen.add(Number(m.body));
      await receiver.completeMessage(m);
    }
  }
  assert.equal(seen.size, COUNT, `only ${seen.size} of ${COUNT} arrived in ${DEADLINE_MS} ms`);
  assert.deepEqual(await receiver.peekMessages(10), []);
});
