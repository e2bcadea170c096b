import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, test } from "vitest";
import type { ServiceBusClient } from "@azure/service-bus";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../../../shared/adapters/servicebus/queue-names.js";
import { ServiceBusRelayClient } from "../../../shared/adapters/servicebus/relay-client.js";
import { MemoryTenantKeyRing } from "../../../shared/adapters/memory/memory-tenant-key-ring.js";
import { createReplyOpener, UntrustedReplyError } from "../../../shared/app/reply-opener.js";
import { silentLogger } from "../../../shared/ports/logger.port.js";
import { openRequest, sealReply, sealRequest, type PasswordReply } from "../../../shared/protocol/envelope.js";
import { AgentRelayTransport, type HandlerResult, type IncomingRequest } from "../../../agent/transport/relay-transport.js";
import { startServiceBusPeerForTests } from "../../support/servicebus.js";

type Peer = Awaited<ReturnType<typeof startServiceBusPeerForTests>>;

const tenantId = randomUUID();
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
let peer: Peer;
let keyRing: MemoryTenantKeyRing;
let packageKey: Buffer;
const clients: ServiceBusClient[] = [];
const closers: (() => Promise<void>)[] = [];

function client(): ServiceBusClient {
  const c = createServiceBusClient({ connectionString: peer.connectionString });
  clients.push(c);
  return c;
}

function relay(onLate?: (r: PasswordReply) => void): ServiceBusRelayClient<PasswordReply> {
  const r = new ServiceBusRelayClient<PasswordReply>({
    client: client(),
    repliesQueue: "replies",
    instanceId: `instance-${randomUUID()}`,
    openReply: createReplyOpener(keyRing),
    isUntrusted: (e) => e instanceof UntrustedReplyError,
    logger: silentLogger,
    ...(onLate === undefined ? {} : { onLateReply: async (reply: PasswordReply) => onLate(reply) }),
  });
  closers.push(() => r.close());
  return r;
}

/** A far side on the real agent transport that opens each request and answers what `behave` says. */
function responder(behave: (req: ReturnType<typeof openRequest>, m: IncomingRequest) => Promise<"reply" | "tamper" | "silent">): AgentRelayTransport {
  const t = new AgentRelayTransport({ client: client(), tenantId, tenantQueue: tenantQueueName(tenantId), eventsQueue: "agent-events", maxConcurrentRequests: 32, logger: silentLogger });
  t.start(async (m): Promise<HandlerResult> => {
    const opened = openRequest(m.body, { tenantId, keyFor: (v) => (v === 1 ? packageKey : undefined), agentPrivateKey: privateKey });
    const what = await behave(opened, m);
    if (what === "silent") return {};
    const reply = sealReply({ requestId: opened.requestId, operation: opened.operation, keyVersion: 1, expiresAt: opened.expiresAt, completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "test", diagnostic: opened.newPassword?.toString("utf8").slice(0, 0) ?? "" }, tenantId, packageKey);
    if (what === "tamper") reply[reply.length - 1] = (reply[reply.length - 1] ?? 0) ^ 1;
    return { reply };
  });
  closers.push(() => t.close());
  return t;
}

function request(operation: "reset" | "change" | "unlock" = "reset", ttlMs = 60_000) {
  const now = new Date();
  const requestId = randomUUID();
  const expiresAt = new Date(now.getTime() + ttlMs);
  const body = sealRequest({
    tenantId,
    requestId,
    operation,
    keyVersion: 1,
    packageKey,
    agentPublicKey: publicKey,
    issuedAt: now,
    expiresAt,
    traceId: randomUUID(),
    cloudAnchor: `User_${requestId}`,
    initiator: { kind: "user", channel: "ssprPortal" },
    flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
    ...(operation === "unlock" ? {} : { newPassword: randomBytes(12) }),
    ...(operation === "change" ? { currentPassword: randomBytes(12) } : {}),
  });
  return { tenantId, requestId, body, expiresAt };
}

beforeAll(async () => {
  peer = await startServiceBusPeerForTests({ queues: [{ name: tenantQueueName(tenantId), requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT5S", maxDeliveryCount: 5 }] });
  keyRing = new MemoryTenantKeyRing();
  const k = await keyRing.createKey(tenantId, new Date());
  await keyRing.markAcknowledged(tenantId, k.version, new Date());
  packageKey = k.key;
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  for (const c of clients) await c.close().catch(() => {});
  await peer?.stop();
});

describe("relay over the Service Bus SDK and the local peer", () => {
  test("reset, change and unlock travel there and back, correlated", async () => {
    const seen: string[] = [];
    const t = responder(async (r) => {
      seen.push(r.operation);
      return "reply";
    });
    const r = relay();
    for (const op of ["reset", "change", "unlock"] as const) {
      const req = request(op);
      const reply = await r.request(req, { timeoutMs: 10_000 });
      assert.equal(reply.requestId, req.requestId);
      assert.equal(reply.operation, op);
      assert.equal(reply.outcome, "succeeded");
    }
    assert.deepEqual(seen, ["reset", "change", "unlock"]);
    await t.close();
  });

  test("200 concurrent requests across two client instances: no reply crosses", async () => {
    const t = responder(async () => {
      await new Promise((res) => setTimeout(res, Math.random() * 20));
      return "reply";
    });
    const a = relay();
    const b = relay();
    const requests = Array.from({ length: 200 }, (_, i) => ({ req: request(), via: i % 2 === 0 ? a : b }));
    const replies = await Promise.all(requests.map(({ req, via }) => via.request(req, { timeoutMs: 30_000 })));
    replies.forEach((reply, i) => assert.equal(reply.requestId, requests[i]?.req.requestId));
    assert.equal(a.stats().repliesMatched + b.stats().repliesMatched, 200);
    assert.equal(a.stats().rejectedReplies + b.stats().rejectedReplies, 0);
    await t.close();
  });

  test("a tampered reply is dead-lettered and never trusted; the caller times out", async () => {
    const t = responder(async () => "tamper");
    const r = relay();
    await assert.rejects(r.request(request(), { timeoutMs: 1500 }), (e: unknown) => (e as { code?: string }).code === "AGENT_TIMEOUT");
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.stats().rejectedReplies, 1);
    await t.close();
  });

  test("a reply after the caller gave up is still verified and handed over", async () => {
    const late: PasswordReply[] = [];
    const t = responder(async () => {
      await new Promise((res) => setTimeout(res, 1500));
      return "reply";
    });
    const r = relay((reply) => late.push(reply));
    const req = request();
    await assert.rejects(r.request(req, { timeoutMs: 500 }), (e: unknown) => (e as { code?: string }).code === "AGENT_TIMEOUT");
    const deadline = Date.now() + 10_000;
    while (late.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.equal(late[0]?.requestId, req.requestId);
    assert.equal(r.stats().lateReplies, 1);
    await t.close();
  });

  test("a request nobody picks up expires on the relay and is never delivered", async () => {
    const r = relay();
    const req = request("reset", 1000);
    await assert.rejects(r.request(req, { timeoutMs: 1500 }), (e: unknown) => (e as { code?: string }).code === "AGENT_TIMEOUT");
    const delivered: string[] = [];
    const t = responder(async (opened) => {
      delivered.push(opened.requestId);
      return "reply";
    });
    const probe = request();
    await r.request(probe, { timeoutMs: 10_000 });
    assert.deepEqual(delivered, [probe.requestId], "the expired request was not delivered");
    await t.close();
  });

  test("bodies arrive byte for byte at both ends, even when they happen to be valid JSON", async () => {
    // The SDK JSON-decodes binary bodies unless told not to: "[1,2,3]" would arrive as an array.
    const requestBytes = Buffer.from("[1,2,3]");
    const replyBytes = Buffer.from('{"looks":"like json"}');
    const seenByAgent: Buffer[] = [];
    const t = new AgentRelayTransport({ client: client(), tenantId, tenantQueue: tenantQueueName(tenantId), eventsQueue: "agent-events", maxConcurrentRequests: 4, logger: silentLogger });
    t.start(async (m): Promise<HandlerResult> => {
      seenByAgent.push(m.body);
      return { reply: replyBytes };
    });
    closers.push(() => t.close());
    const r = new ServiceBusRelayClient<Buffer>({ client: client(), repliesQueue: "replies", instanceId: `instance-${randomUUID()}`, openReply: async (m) => Buffer.from(m.body), isUntrusted: () => false, logger: silentLogger });
    closers.push(() => r.close());
    const reply = await r.request({ tenantId, requestId: randomUUID(), body: requestBytes, expiresAt: new Date(Date.now() + 60_000) }, { timeoutMs: 10_000 });
    assert.deepEqual(seenByAgent, [requestBytes]);
    assert.deepEqual(reply, replyBytes);
    await t.close();
  });

  test("the agent works on at most maxConcurrentRequests at once, and every request is still answered", async () => {
    let running = 0;
    let most = 0;
    const t = new AgentRelayTransport({ client: client(), tenantId, tenantQueue: tenantQueueName(tenantId), eventsQueue: "agent-events", maxConcurrentRequests: 2, logger: silentLogger });
    t.start(async (m): Promise<HandlerResult> => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 30));
      running -= 1;
      return { reply: Buffer.from(m.messageId) };
    });
    closers.push(() => t.close());
    const r = new ServiceBusRelayClient<string>({ client: client(), repliesQueue: "replies", instanceId: `instance-${randomUUID()}`, openReply: async (m) => Buffer.from(m.body).toString(), isUntrusted: () => false, logger: silentLogger });
    closers.push(() => r.close());
    const ids = Array.from({ length: 8 }, () => randomUUID());
    const replies = await Promise.all(ids.map((requestId) => r.request({ tenantId, requestId, body: Buffer.from("x"), expiresAt: new Date(Date.now() + 60_000) }, { timeoutMs: 10_000 })));
    assert.deepEqual(replies, ids);
    assert.equal(most, 2);
    await t.close();
  });

  test("the relay recovers after the Service Bus peer restarts", async () => {
    const t = responder(async () => "reply");
    const r = relay();
    await r.request(request(), { timeoutMs: 10_000 });
    await peer.restart();
    let ok = false;
    const deadline = Date.now() + 60_000;
    while (!ok && Date.now() < deadline) {
      try {
        const req = request();
        ok = (await r.request(req, { timeoutMs: 5000 })).requestId === req.requestId;
      } catch {
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    assert.ok(ok, "a request succeeded after the restart without recreating clients");
    await t.close();
  });
});
