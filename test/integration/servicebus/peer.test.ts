import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, test } from "vitest";
import { isServiceBusError, ServiceBusClient, type ServiceBusMessage, type ServiceBusReceivedMessage, type ServiceBusReceiver } from "@azure/service-bus";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import type { PolicyDef, QueueDef } from "../../../emulators/servicebus/config.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

// The local Service Bus peer (emulators/servicebus/peer.ts) driven only through the real,
// unmodified @azure/service-bus SDK: what the SDK sees is what the application would see.

const QUEUES: QueueDef[] = [
  { name: "sas-a" },
  { name: "sas-b" },
  { name: "send-single" },
  { name: "send-batch" },
  { name: "recv-annotations", lockDuration: "PT30S" },
  { name: "recv-delete" },
  { name: "settle-complete" },
  { name: "settle-abandon" },
  { name: "settle-deadletter" },
  { name: "lock-expiry", lockDuration: "PT1S", maxDeliveryCount: 5 },
  { name: "max-delivery", lockDuration: "PT1S", maxDeliveryCount: 2 },
  { name: "lock-renew", lockDuration: "PT1S" },
  { name: "ttl-message" },
  { name: "ttl-queue", defaultMessageTimeToLive: "PT1S" },
  { name: "restart" },
  { name: "defer" },
  { name: "schedule" },
  { name: "schedule-cancel" },
];
const POLICIES: PolicyDef[] = [
  { name: "send-only", key: "c2VuZC1vbmx5LWxvY2FsLXRlc3Qta2V5", rights: ["Send"] },
  { name: "listen-only", key: "bGlzdGVuLW9ubHktbG9jYWwtdGVzdC1rZXk=", rights: ["Listen"] },
  { name: "queue-a-only", key: "cXVldWUtYS1vbmx5LWxvY2FsLXRlc3Qta2V5", rights: ["Send", "Listen"], queue: "sas-a" },
];
/** Refusals are not retryable, but keep a misbehaving peer from stretching a test to minutes. */
const FAIL_FAST = { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } };

let peer: TestPeer;
const clients: ServiceBusClient[] = [];
let client: ServiceBusClient;

function newClient(connectionString: string, options = {}): ServiceBusClient {
  const c = createServiceBusClient({ connectionString }, options);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  peer = await startServiceBusPeerForTests({ queues: QUEUES, policies: POLICIES });
  client = newClient(peer.connectionString);
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await peer?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Receives until `count` messages arrived or the deadline passed. */
async function receive(receiver: ServiceBusReceiver, count: number, withinMs = 3000): Promise<ServiceBusReceivedMessage[]> {
  const got: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + withinMs;
  while (got.length < count && Date.now() < deadline) {
    got.push(...(await receiver.receiveMessages(count - got.length, { maxWaitTimeInMs: Math.max(100, Math.min(1000, deadline - Date.now())) })));
  }
  return got;
}

function isCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(isServiceBusError(err), `expected a ServiceBusError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

const seq = (m: ServiceBusReceivedMessage): number => Number(m.sequenceNumber?.toString());

describe("SAS through $cbs", () => {
  test("a wrong key is refused with UnauthorizedAccess; the right key is accepted", async () => {
    const wrong = newClient(`Endpoint=sb://127.0.0.1:${peer.peer.port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=d3Jvbmcta2V5;UseDevelopmentEmulator=true`, FAIL_FAST);
    await assert.rejects(wrong.createSender("sas-a").sendMessages({ body: "x" }), isCode("UnauthorizedAccess"));
    await client.createSender("sas-a").sendMessages({ body: "right key" });
  });

  test("a Send-only policy can send but cannot receive", async () => {
    const c = newClient(peer.peer.connectionString("send-only"), FAIL_FAST);
    await c.createSender("sas-b").sendMessages({ body: "from send-only" });
    await assert.rejects(c.createReceiver("sas-b").receiveMessages(1, { maxWaitTimeInMs: 1000 }), isCode("UnauthorizedAccess"));
  });

  test("a Listen-only policy can receive but cannot send", async () => {
    const c = newClient(peer.peer.connectionString("listen-only"), FAIL_FAST);
    await assert.rejects(c.createSender("sas-b").sendMessages({ body: "x" }), isCode("UnauthorizedAccess"));
    const got = await receive(c.createReceiver("sas-b", { receiveMode: "receiveAndDelete" }), 1);
    assert.deepEqual(
      got.map((m) => m.body),
      ["from send-only"],
    );
  });

  test("a policy scoped to queue A works on A and is refused on queue B", async () => {
    const c = newClient(peer.peer.connectionString("queue-a-only"), FAIL_FAST);
    await c.createSender("sas-a").sendMessages({ body: "scoped" });
    await assert.rejects(c.createSender("sas-b").sendMessages({ body: "x" }), isCode("UnauthorizedAccess"));
    await assert.rejects(c.createReceiver("sas-b").receiveMessages(1, { maxWaitTimeInMs: 1000 }), isCode("UnauthorizedAccess"));
  });

  test("an expired SharedAccessSignature is refused; the same token unexpired is accepted", async () => {
    const root = peer.peer.connectionString("RootManageSharedAccessKey");
    const key = /SharedAccessKey=([^;]+)/.exec(root)?.[1] ?? "";
    const token = (expirySeconds: number) => {
      const sr = encodeURIComponent(`sb://127.0.0.1:${peer.peer.port}/`);
      const sig = encodeURIComponent(createHmac("sha256", key).update(`${sr}\n${expirySeconds}`).digest("base64"));
      return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expirySeconds}&skn=RootManageSharedAccessKey`;
    };
    const withToken = (t: string) => newClient(`Endpoint=sb://127.0.0.1:${peer.peer.port};SharedAccessSignature=${t};UseDevelopmentEmulator=true`, FAIL_FAST);
    const now = Math.floor(Date.now() / 1000);
    await assert.rejects(withToken(token(now - 60)).createSender("sas-a").sendMessages({ body: "x" }), isCode("UnauthorizedAccess"));
    await withToken(token(now + 600)).createSender("sas-a").sendMessages({ body: "fresh token" });
  });
});

describe("sending", () => {
  const message = (i: number): ServiceBusMessage => ({
    body: { index: i, text: `hello ${i}`, nested: { list: [1, 2, 3] } },
    applicationProperties: { tenant: `t-${i}`, attempt: i, flag: i % 2 === 0 },
    messageId: `msg-${i}`,
    correlationId: `corr-${i}`,
    contentType: "application/json",
  });
  const assertIntact = (got: ServiceBusReceivedMessage[], indexes: number[]) => {
    assert.equal(got.length, indexes.length);
    const byId = new Map(got.map((m) => [m.messageId, m]));
    for (const i of indexes) {
      const m = byId.get(`msg-${i}`);
      assert.ok(m !== undefined, `msg-${i} missing`);
      const sent = message(i);
      assert.deepEqual(m.body, sent.body);
      assert.deepEqual(m.applicationProperties, sent.applicationProperties);
      assert.equal(m.correlationId, sent.correlationId);
      assert.equal(m.contentType, sent.contentType);
    }
  };

  test("single messages arrive with body, properties, ids and content type intact", async () => {
    const sender = client.createSender("send-single");
    await sender.sendMessages(message(1));
    await sender.sendMessages(message(2));
    const got = await receive(client.createReceiver("send-single", { receiveMode: "receiveAndDelete" }), 2);
    assertIntact(got, [1, 2]);
  });

  test("sendMessages([...]) and createMessageBatch() batches arrive whole and intact", async () => {
    const sender = client.createSender("send-batch");
    await sender.sendMessages([message(10), message(11), message(12)]);
    const batch = await sender.createMessageBatch();
    for (const i of [20, 21, 22, 23]) assert.ok(batch.tryAddMessage(message(i)), `message ${i} did not fit`);
    await sender.sendMessages(batch);
    const got = await receive(client.createReceiver("send-batch", { receiveMode: "receiveAndDelete" }), 7);
    assertIntact(got, [10, 11, 12, 20, 21, 22, 23]);
  });
});

describe("receiving and settling", () => {
  test("peekLock: sequence numbers increase, enqueued time and lock expiry are set", async () => {
    const before = Date.now();
    await client.createSender("recv-annotations").sendMessages([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const after = Date.now();
    const receiver = client.createReceiver("recv-annotations", { maxAutoLockRenewalDurationInMs: 0 });
    const got = await receive(receiver, 3);
    assert.deepEqual(
      got.map((m) => m.body),
      [1, 2, 3],
    );
    const seqs = got.map(seq);
    for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] ?? 0) > (seqs[i - 1] ?? 0), `sequence numbers not increasing: ${seqs.join(",")}`);
    for (const m of got) {
      assert.equal(m.deliveryCount, 0);
      assert.ok(m.lockToken !== undefined && m.lockToken.length > 0, "no lock token");
      const enqueued = m.enqueuedTimeUtc?.getTime() ?? 0;
      assert.ok(enqueued >= before - 5 && enqueued <= after + 5, `enqueuedTimeUtc ${m.enqueuedTimeUtc?.toISOString()} not within the send`);
      const lockedUntil = m.lockedUntilUtc?.getTime() ?? 0;
      assert.ok(lockedUntil > Date.now() + 20_000 && lockedUntil <= Date.now() + 30_000, `lockedUntilUtc ${m.lockedUntilUtc?.toISOString()} is not ~30 s ahead`);
      await receiver.completeMessage(m);
    }
  });

  test("receiveAndDelete: messages arrive without a lock and are gone from the queue", async () => {
    await client.createSender("recv-delete").sendMessages([{ body: "a" }, { body: "b" }]);
    const receiver = client.createReceiver("recv-delete", { receiveMode: "receiveAndDelete" });
    const got = await receive(receiver, 2);
    assert.deepEqual(
      got.map((m) => m.body),
      ["a", "b"],
    );
    for (const m of got) assert.equal(m.lockedUntilUtc, undefined);
    assert.deepEqual(await receiver.peekMessages(10), []);
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 }), []);
  });

  test("receiveMessages(n, { maxWaitTimeInMs }) returns what there is when the wait ends", async () => {
    await client.createSender("recv-delete").sendMessages([{ body: "only" }]);
    const receiver = client.createReceiver("recv-delete", { receiveMode: "receiveAndDelete" });
    const started = Date.now();
    const got = await receiver.receiveMessages(5, { maxWaitTimeInMs: 1500 });
    assert.deepEqual(
      got.map((m) => m.body),
      ["only"],
    );
    assert.ok(Date.now() - started < 1500 + 1000, "receiveMessages did not return after its wait");
    const started2 = Date.now();
    assert.deepEqual(await receiver.receiveMessages(5, { maxWaitTimeInMs: 400 }), []);
    assert.ok(Date.now() - started2 < 400 + 1000, "an empty receiveMessages did not return after its wait");
  });

  test("complete removes the message", async () => {
    await client.createSender("settle-complete").sendMessages({ body: "done", messageId: "complete-me" });
    const receiver = client.createReceiver("settle-complete", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receive(receiver, 1);
    assert.equal(m?.messageId, "complete-me");
    assert.equal((await receiver.peekMessages(10)).length, 1, "a locked message is still in the queue");
    await receiver.completeMessage(m);
    assert.deepEqual(await receiver.peekMessages(10), []);
  });

  test("abandon redelivers the message with deliveryCount incremented", async () => {
    await client.createSender("settle-abandon").sendMessages({ body: "again", messageId: "abandon-me" });
    const receiver = client.createReceiver("settle-abandon", { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receive(receiver, 1);
    assert.ok(first !== undefined);
    assert.equal(first.deliveryCount, 0);
    await receiver.abandonMessage(first);
    const [second] = await receive(receiver, 1);
    assert.equal(second?.messageId, "abandon-me");
    assert.equal(second?.body, "again");
    assert.equal(second?.deliveryCount, 1);
    assert.equal(seq(second), seq(first));
    assert.notEqual(second?.lockToken, first.lockToken);
    await receiver.completeMessage(second);
  });

  test("deadLetterMessage moves it to <queue>/$deadletterqueue with reason and description", async () => {
    await client.createSender("settle-deadletter").sendMessages({ body: { poison: true }, messageId: "poison-1", applicationProperties: { kept: "yes" } });
    const receiver = client.createReceiver("settle-deadletter", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receive(receiver, 1);
    assert.ok(m !== undefined);
    await receiver.deadLetterMessage(m, { deadLetterReason: "PoisonMessage", deadLetterErrorDescription: "could not parse the body" });
    assert.deepEqual(await receiver.peekMessages(10), [], "the dead-lettered message is still in the queue");
    const dlq = client.createReceiver("settle-deadletter", { subQueueType: "deadLetter", maxAutoLockRenewalDurationInMs: 0 });
    const [dead] = await receive(dlq, 1);
    assert.equal(dead?.messageId, "poison-1");
    assert.deepEqual(dead?.body, { poison: true });
    assert.equal(dead?.deadLetterReason, "PoisonMessage");
    assert.equal(dead?.deadLetterErrorDescription, "could not parse the body");
    assert.equal(dead?.applicationProperties?.kept, "yes");
    await dlq.completeMessage(dead);
    assert.deepEqual(await dlq.peekMessages(10), []);
  });
});

describe("locks", () => {
  test("an expired lock redelivers the message with deliveryCount + 1; the old lock cannot complete", async () => {
    await client.createSender("lock-expiry").sendMessages({ body: "slow", messageId: "expire-me" });
    const receiver = client.createReceiver("lock-expiry", { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receive(receiver, 1);
    assert.ok(first !== undefined);
    assert.equal(first.deliveryCount, 0);
    await sleep(1300);
    const [second] = await receive(receiver, 1);
    assert.equal(second?.messageId, "expire-me");
    assert.equal(second?.deliveryCount, 1);
    await assert.rejects(receiver.completeMessage(first), isCode("MessageLockLost"));
    await receiver.completeMessage(second);
    assert.deepEqual(await receiver.peekMessages(10), []);
  });

  test("after maxDeliveryCount expired locks the message is dead-lettered", async () => {
    await client.createSender("max-delivery").sendMessages({ body: "never done", messageId: "max-1" });
    const receiver = client.createReceiver("max-delivery", { maxAutoLockRenewalDurationInMs: 0 });
    const counts: number[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const [m] = await receive(receiver, 1);
      assert.equal(m?.messageId, "max-1", `attempt ${attempt} got nothing`);
      counts.push(m.deliveryCount ?? -1);
      await sleep(1300);
    }
    assert.deepEqual(counts, [0, 1]);
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 }), [], "delivered a third time");
    const [dead] = await receive(client.createReceiver("max-delivery", { subQueueType: "deadLetter", receiveMode: "receiveAndDelete" }), 1);
    assert.equal(dead?.messageId, "max-1");
    assert.equal(dead?.deadLetterReason, "MaxDeliveryCountExceeded");
  });

  test("renewMessageLock extends lockedUntilUtc and keeps the message past its first lock", async () => {
    await client.createSender("lock-renew").sendMessages({ body: "renew me", messageId: "renew-1" });
    const receiver = client.createReceiver("lock-renew", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receive(receiver, 1);
    assert.ok(m?.lockedUntilUtc !== undefined);
    const firstLock = m.lockedUntilUtc.getTime();
    await sleep(600);
    const renewed = await receiver.renewMessageLock(m);
    assert.ok(renewed.getTime() >= firstLock + 500, `renewed ${renewed.toISOString()} not later than ${new Date(firstLock).toISOString()}`);
    assert.equal(m.lockedUntilUtc.getTime(), renewed.getTime(), "the message's lockedUntilUtc was not updated");
    await sleep(Math.max(0, firstLock - Date.now()) + 250);
    // Past the first lock's expiry: it was neither redelivered nor lost.
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 200 }), []);
    await receiver.completeMessage(m);
    assert.deepEqual(await receiver.peekMessages(10), []);
  });
});

describe("time to live", () => {
  test("a message whose timeToLive passes before anyone receives it is never delivered", async () => {
    const sender = client.createSender("ttl-message");
    await sender.sendMessages({ body: "short-lived", messageId: "ttl-short", timeToLive: 500 });
    await sender.sendMessages({ body: "long-lived", messageId: "ttl-long" });
    await sleep(800);
    const receiver = client.createReceiver("ttl-message", { receiveMode: "receiveAndDelete" });
    const got = await receiver.receiveMessages(5, { maxWaitTimeInMs: 800 });
    assert.deepEqual(
      got.map((m) => m.messageId),
      ["ttl-long"],
    );
  });

  test("a queue's defaultMessageTimeToLive expires messages nobody received", async () => {
    await client.createSender("ttl-queue").sendMessages({ body: "expires", messageId: "ttl-q-1" });
    const early = client.createReceiver("ttl-queue");
    assert.equal((await early.peekMessages(5)).length, 1, "the message was not there before its TTL");
    await sleep(1300);
    const got = await client.createReceiver("ttl-queue", { receiveMode: "receiveAndDelete" }).receiveMessages(5, { maxWaitTimeInMs: 500 });
    assert.deepEqual(got, []);
  });
});

describe("restart", () => {
  test("after restart() queue contents are kept, locks are released, and a new client sends and receives", async () => {
    await client.createSender("restart").sendMessages([
      { body: "locked before restart", messageId: "r-0" },
      { body: "waiting before restart", messageId: "r-1" },
    ]);
    // Locked for the queue's default 60 s by a connection the restart drops.
    const [locked] = await receive(client.createReceiver("restart", { maxAutoLockRenewalDurationInMs: 0 }), 1);
    assert.equal(locked?.messageId, "r-0");
    await peer.restart();
    const fresh = newClient(peer.connectionString);
    await fresh.createSender("restart").sendMessages({ body: "after restart", messageId: "r-2" });
    const got = await receive(fresh.createReceiver("restart", { receiveMode: "receiveAndDelete" }), 3);
    assert.deepEqual(
      got.map((m) => m.messageId),
      ["r-0", "r-1", "r-2"],
    );
  });
});

// The same operations the Python lane (test/python/test_servicebus.py) drives through uamqp:
// both SDKs must agree about the peer.
describe("deferred and scheduled messages", () => {
  test("defer sets a message aside; receiveDeferredMessages gets it by sequence number with a lock; abandon keeps it deferred", async () => {
    await client.createSender("defer").sendMessages({ body: "later", messageId: "d-1" });
    const receiver = client.createReceiver("defer", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receive(receiver, 1);
    assert.ok(m !== undefined);
    const number = m.sequenceNumber;
    assert.ok(number !== undefined);
    await receiver.deferMessage(m);
    assert.deepEqual(await receive(receiver, 1, 1200), [], "a deferred message is not delivered again");
    const [peeked] = await client.createReceiver("defer").peekMessages(10);
    assert.equal(peeked?.state, "deferred");
    const [d] = await receiver.receiveDeferredMessages([number]);
    assert.ok(d !== undefined);
    assert.equal(d.body, "later");
    assert.equal(seq(d), seq(m));
    assert.match(d.lockToken ?? "", /^[0-9a-f-]{36}$/);
    assert.ok((d.lockedUntilUtc?.getTime() ?? 0) > Date.now());
    await receiver.abandonMessage(d);
    const [again] = await receiver.receiveDeferredMessages([number]);
    assert.ok(again !== undefined);
    await receiver.completeMessage(again);
    assert.deepEqual(await receiver.receiveDeferredMessages([number]).catch((e: unknown) => (isCode("MessageNotFound")(e) ? [] : [e])), []);
    assert.equal(peer.peer.depth("defer").active, 0);
  });

  test("scheduleMessages: invisible (peek shows it scheduled) until its time, then delivered with that enqueued time", async () => {
    const at = new Date(Date.now() + 2500);
    const [n] = await client.createSender("schedule").scheduleMessages({ body: "on time", messageId: "s-1" }, at);
    const receiver = client.createReceiver("schedule");
    const [peeked] = await receiver.peekMessages(10);
    assert.equal(peeked?.state, "scheduled");
    assert.equal(peeked?.scheduledEnqueueTimeUtc?.getTime(), at.getTime());
    assert.equal(seq(peeked), Number(n?.toString()));
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 }), [], "not before its time");
    const [m] = await receive(receiver, 1, 6000);
    assert.equal(m?.body, "on time");
    assert.ok((m?.enqueuedTimeUtc?.getTime() ?? 0) >= at.getTime() - 5);
    await receiver.completeMessage(m);
  });

  test("cancelScheduledMessages removes scheduled messages before their time", async () => {
    const sender = client.createSender("schedule-cancel");
    const numbers = await sender.scheduleMessages([{ body: "c-1" }, { body: "c-2" }], new Date(Date.now() + 1500));
    assert.equal(numbers.length, 2);
    await sender.cancelScheduledMessages(numbers);
    assert.deepEqual(await client.createReceiver("schedule-cancel").peekMessages(10), []);
    await sleep(2000);
    assert.deepEqual(await receive(client.createReceiver("schedule-cancel"), 1, 1000), []);
  });
});
