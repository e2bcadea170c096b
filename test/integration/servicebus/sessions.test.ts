import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { isServiceBusError, type ServiceBusClient, type ServiceBusReceivedMessage, type ServiceBusReceiver } from "@azure/service-bus";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

// Sessions on the local Service Bus peer, through the real @azure/service-bus SDK.

const LOCK_MS = 30_000;
let peer: TestPeer;
let client: ServiceBusClient;
const receivers: ServiceBusReceiver[] = [];

beforeAll(async () => {
  peer = await startServiceBusPeerForTests({
    queues: ["sess-filter", "sess-next", "sess-locked", "sess-renew", "sess-state"].map((name) => ({ name, requiresSession: true, lockDuration: "PT30S" })),
  });
  client = createServiceBusClient({ connectionString: peer.connectionString }, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
});
afterAll(async () => {
  await Promise.allSettled(receivers.map((r) => r.close()));
  await client?.close();
  await peer?.stop();
});

/** No auto-renewal: the tests look at lock times themselves. */
const NO_RENEWAL = { maxAutoLockRenewalDurationInMs: 0 };
function track<T extends ServiceBusReceiver>(r: T): T {
  receivers.push(r);
  return r;
}

async function receiveAll(receiver: ServiceBusReceiver, count: number, withinMs = 3000): Promise<ServiceBusReceivedMessage[]> {
  const got: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + withinMs;
  while (got.length < count && Date.now() < deadline) got.push(...(await receiver.receiveMessages(count - got.length, { maxWaitTimeInMs: 500 })));
  return got;
}

test("acceptSession(queue, id) receives only that session's messages, in order", async () => {
  const sender = client.createSender("sess-filter");
  await sender.sendMessages([
    { body: "a1", sessionId: "a" },
    { body: "b1", sessionId: "b" },
    { body: "a2", sessionId: "a" },
    { body: "b2", sessionId: "b" },
    { body: "a3", sessionId: "a" },
  ]);
  const a = track(await client.acceptSession("sess-filter", "a", NO_RENEWAL));
  assert.equal(a.sessionId, "a");
  // Ask for more than session "a" has: anything of "b" would show up.
  const got = await receiveAll(a, 5, 1500);
  assert.deepEqual(
    got.map((m) => m.body),
    ["a1", "a2", "a3"],
  );
  for (const m of got) {
    assert.equal(m.sessionId, "a");
    await a.completeMessage(m);
  }
  const b = track(await client.acceptSession("sess-filter", "b", NO_RENEWAL));
  const gotB = await receiveAll(b, 2);
  assert.deepEqual(
    gotB.map((m) => [m.sessionId, m.body]),
    [
      ["b", "b1"],
      ["b", "b2"],
    ],
  );
  for (const m of gotB) await b.completeMessage(m);
});

test("acceptNextSession gets a session with messages, skipping a locked one", async () => {
  const sender = client.createSender("sess-next");
  await sender.sendMessages([
    { body: "x1", sessionId: "x" },
    { body: "y1", sessionId: "y" },
  ]);
  const x = track(await client.acceptSession("sess-next", "x", NO_RENEWAL));
  const next = track(await client.acceptNextSession("sess-next", NO_RENEWAL));
  assert.equal(next.sessionId, "y");
  const [m] = await receiveAll(next, 1);
  assert.equal(m?.body, "y1");
  await next.completeMessage(m);
  const [mx] = await receiveAll(x, 1);
  assert.equal(mx?.body, "x1");
  await x.completeMessage(mx);
});

test("a second acceptSession on a locked session is refused with SessionCannotBeLocked; free again once closed", async () => {
  await client.createSender("sess-locked").sendMessages({ body: "held", sessionId: "held" });
  const first = await client.acceptSession("sess-locked", "held", NO_RENEWAL);
  await assert.rejects(client.acceptSession("sess-locked", "held", NO_RENEWAL), (err: unknown) => {
    assert.ok(isServiceBusError(err), String(err));
    assert.equal(err.code, "SessionCannotBeLocked", err.message);
    return true;
  });
  await first.close();
  const second = track(await client.acceptSession("sess-locked", "held", NO_RENEWAL));
  const [m] = await receiveAll(second, 1);
  assert.equal(m?.body, "held");
  await second.completeMessage(m);
});

test("sessionLockedUntilUtc is set, and renewSessionLock() extends it", async () => {
  await client.createSender("sess-renew").sendMessages({ body: "r", sessionId: "r" });
  const started = Date.now();
  const receiver = track(await client.acceptSession("sess-renew", "r", NO_RENEWAL));
  const first = receiver.sessionLockedUntilUtc?.getTime() ?? 0;
  assert.ok(first >= started + LOCK_MS - 2000 && first <= Date.now() + LOCK_MS + 1000, `sessionLockedUntilUtc ${new Date(first).toISOString()} is not ~30 s ahead`);
  await new Promise((r) => setTimeout(r, 400));
  const renewed = await receiver.renewSessionLock();
  assert.ok(renewed.getTime() >= first + 300, `renewed ${renewed.toISOString()} is not later than ${new Date(first).toISOString()}`);
  assert.equal(receiver.sessionLockedUntilUtc?.getTime(), renewed.getTime());
  const [m] = await receiveAll(receiver, 1);
  assert.equal(m?.body, "r");
  await receiver.completeMessage(m);
});

test("session state set through one receiver is read back through the next", async () => {
  await client.createSender("sess-state").sendMessages({ body: "s", sessionId: "s" });
  const first = await client.acceptSession("sess-state", "s", NO_RENEWAL);
  assert.equal(await first.getSessionState(), null);
  // The SDK stores JSON and parses it back.
  await first.setSessionState({ step: 2, of: "reset" });
  await first.close();
  const second = track(await client.acceptSession("sess-state", "s", NO_RENEWAL));
  assert.deepEqual(await second.getSessionState(), { step: 2, of: "reset" });
});
