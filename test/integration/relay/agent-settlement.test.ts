/**
 * The agent never leaves a request in a dead-letter queue: dead letters do not expire, and a
 * dead-lettered request keeps its sealed passwords openable for as long as the vault keeps its
 * package keys. A refused request is completed (the refusal logged), and one whose handling
 * keeps failing is completed on its last allowed delivery, before the broker would dead-letter it.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, test } from "vitest";
import type { ServiceBusClient } from "@azure/service-bus";
import { AgentRelayTransport } from "../../../agent/transport/relay-transport.js";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../../../shared/adapters/servicebus/queue-names.js";
import type { Logger } from "../../../shared/ports/logger.port.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

let peer: TestPeer;
const clients: ServiceBusClient[] = [];
const closers: (() => Promise<void>)[] = [];
const client = () => {
  const c = createServiceBusClient({ connectionString: peer.connectionString });
  clients.push(c);
  return c;
};
const refusedTenant = randomUUID();
const failingTenant = randomUUID();

beforeAll(async () => {
  // The tenant queues as onboarding creates them: maxDeliveryCount 5.
  const queue = (t: string) => ({ name: tenantQueueName(t), requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT5S", maxDeliveryCount: 5, deadLetteringOnMessageExpiration: false });
  peer = await startServiceBusPeerForTests({ queues: [queue(refusedTenant), queue(failingTenant)] });
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  for (const c of clients) await c.close().catch(() => {});
  await peer?.stop();
});

function recordingLogger(lines: string[]): Logger {
  const log = (m: string, f?: Record<string, unknown>) => void lines.push(JSON.stringify({ m, ...f }));
  return { info: log, warn: log, error: log };
}

async function send(tenantId: string, n: number): Promise<string[]> {
  const sender = client().createSender(tenantQueueName(tenantId));
  const ids = Array.from({ length: n }, () => randomUUID());
  // Stand-ins for sealed requests: what matters is that their bodies are never kept.
  await sender.sendMessages(ids.map((id) => ({ body: randomBytes(600), messageId: id, correlationId: id, replyTo: "replies", replyToSessionId: "s" })));
  await sender.close();
  return ids;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a refused request is completed with its refusal logged, never dead-lettered", async () => {
  const lines: string[] = [];
  let handled = 0;
  const t = new AgentRelayTransport({ client: client(), tenantId: refusedTenant, tenantQueue: tenantQueueName(refusedTenant), eventsQueue: "agent-events", maxConcurrentRequests: 4, logger: recordingLogger(lines) });
  closers.push(() => t.close());
  t.start(async () => {
    handled += 1;
    return { discarded: "tampered" };
  });
  const ids = await send(refusedTenant, 20);
  await until(() => handled >= 20 && peer.peer.depth(tenantQueueName(refusedTenant)).active === 0, "20 requests settled");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(peer.peer.depth(tenantQueueName(refusedTenant)), { active: 0, deadLetter: 0 });
  assert.equal(handled, 20, "each handled once");
  for (const id of ids) assert.ok(lines.some((l) => l.includes("request discarded") && l.includes(id) && l.includes("tampered")), `audit line for ${id}`);
});

test("a request whose handling keeps failing is given back 3 times, then completed on its 4th delivery: the broker never dead-letters it", async () => {
  const lines: string[] = [];
  const attempts = new Map<string, number>();
  const t = new AgentRelayTransport({ client: client(), tenantId: failingTenant, tenantQueue: tenantQueueName(failingTenant), eventsQueue: "agent-events", maxConcurrentRequests: 4, logger: recordingLogger(lines) });
  closers.push(() => t.close());
  t.start(async (m) => {
    attempts.set(m.messageId, (attempts.get(m.messageId) ?? 0) + 1);
    throw new Error("directory exploded");
  });
  const ids = await send(failingTenant, 5);
  await until(() => ids.every((id) => lines.some((l) => l.includes("request discarded after repeated failures") && l.includes(id))), "every request discarded");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(peer.peer.depth(tenantQueueName(failingTenant)), { active: 0, deadLetter: 0 });
  for (const id of ids) assert.equal(attempts.get(id), 4, `deliveries of ${id}`);
});
