import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, test } from "vitest";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../../../shared/adapters/servicebus/queue-names.js";
import { ServiceBusRelayClient } from "../../../shared/adapters/servicebus/relay-client.js";
import { silentLogger } from "../../../shared/ports/logger.port.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

const tenants = Array.from({ length: 8 }, () => randomUUID());
let peer: TestPeer;

beforeAll(async () => {
  peer = await startServiceBusPeerForTests({ queues: tenants.map((t) => ({ name: tenantQueueName(t), requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT5S", maxDeliveryCount: 5 })) });
});
afterAll(() => peer.stop());

test("the relay keeps at most maxSenders tenant queues open: idle senders are closed least recently used first, and reopened when needed", async () => {
  const client = createServiceBusClient({ connectionString: peer.connectionString });
  const relay = new ServiceBusRelayClient<number>({ client, repliesQueue: "replies", instanceId: `senders-${randomUUID()}`, openReply: async (m) => m.body.length, isUntrusted: () => false, logger: silentLogger, maxSenders: 3 });
  try {
    const sendTo = async (tenantId: string) => {
      // No agent answers: the message is sent, then the wait times out.
      await assert.rejects(relay.request({ tenantId, requestId: randomUUID(), body: randomBytes(64), expiresAt: new Date(Date.now() + 60_000) }, { timeoutMs: 150 }), (e: unknown) => (e as { code?: string }).code === "AGENT_TIMEOUT");
    };
    for (const t of tenants) {
      await sendTo(t);
      assert.ok(relay.openSenders <= 3, `${relay.openSenders} senders open`);
    }
    assert.equal(relay.openSenders, 3);
    // The first tenant's sender was evicted long ago: a new one takes its place.
    await sendTo(tenants[0] as string);
    assert.equal(relay.openSenders, 3);
    // Many tenants at once: every message goes out, and the bound holds again once they are done.
    await Promise.all(tenants.map(sendTo));
    // A wait can time out before its send is settled: wait for the sends themselves.
    for (let i = 0; i < 100 && relay.stats().sent < tenants.length * 2 + 1; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(relay.stats().sent, tenants.length * 2 + 1);
    assert.ok(relay.openSenders <= 3, `${relay.openSenders} senders open`);
    // Every message reached its tenant's queue.
    for (const [i, t] of tenants.entries()) {
      const receiver = client.createReceiver(tenantQueueName(t), { receiveMode: "receiveAndDelete" });
      const got = await receiver.receiveMessages(5, { maxWaitTimeInMs: 500 });
      await receiver.close();
      assert.equal(got.length, i === 0 ? 3 : 2, `tenant ${i}`);
    }
  } finally {
    await relay.close();
    await client.close();
  }
});
