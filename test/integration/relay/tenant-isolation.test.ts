/**
 * Tenant isolation: tenant A's agent credentials, keys and tokens give no access to anything
 * of tenant B — on the Service Bus (real SDK, local peer with per-tenant SAS rules scoped like
 * the onboarding creates them), in the protocol (sealed requests, replies, agent events), and
 * over HTTP (every tenant-B route refuses tenant A's token before doing anything).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, test } from "vitest";
import { isServiceBusError, type ServiceBusClient } from "@azure/service-bus";
import { accountUnlocks } from "../../../functions/account-unlocks.js";
import { agentRegistration } from "../../../functions/agent-registration.js";
import { passwordChanges } from "../../../functions/password-changes.js";
import { passwordOperationStatus } from "../../../functions/password-operation-status.js";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { rotateKeys } from "../../../functions/rotate-keys.js";
import { writebackSettings } from "../../../functions/writeback-settings.js";
import { writebackStatus } from "../../../functions/writeback-status.js";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../../../shared/adapters/servicebus/queue-names.js";
import { ServiceBusRelayClient } from "../../../shared/adapters/servicebus/relay-client.js";
import { MemoryTenantKeyRing } from "../../../shared/adapters/memory/memory-tenant-key-ring.js";
import { AgentEvents } from "../../../shared/app/agent-events.js";
import { createReplyOpener, UntrustedReplyError } from "../../../shared/app/reply-opener.js";
import { useServices } from "../../../shared/composition/services.js";
import { DEMO_USERS } from "../../../dev/demo-tenant.js";
import { silentLogger } from "../../../shared/ports/logger.port.js";
import { encodeAgentEvent } from "../../../shared/protocol/agent-event.js";
import { openKeyDelivery, openReply, openRequest, peekHeader, sealKeyDelivery, sealReply, sealRequest, type PasswordReply } from "../../../shared/protocol/envelope.js";
import { BackendTrust } from "../../../agent/core/backend-trust.js";
import { testSigningKey } from "../../support/backend-signer.js";
import type { HttpHandler } from "../../../shared/http/pipeline.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";
import { startInMemoryStack } from "../../support/in-memory-stack.js";

interface Tenant {
  id: string;
  queue: string;
  rule: string;
  sasKey: string;
  agent: { publicKey: KeyObject; privateKey: KeyObject };
  packageKey: Buffer;
}

function tenant(): Tenant {
  const id = randomUUID();
  return { id, queue: tenantQueueName(id), rule: `agent-${id}`, sasKey: randomBytes(32).toString("base64"), agent: generateKeyPairSync("rsa", { modulusLength: 2048 }), packageKey: Buffer.alloc(0) };
}

const A = tenant();
const B = tenant();
let peer: TestPeer;
let keyRing: MemoryTenantKeyRing;
const clients: ServiceBusClient[] = [];
const closers: (() => Promise<void>)[] = [];

/** The agent's connection string: its own rule, as `writeback onboard-tenant` issues it. */
function agentClient(t: Tenant): ServiceBusClient {
  const c = createServiceBusClient(
    { connectionString: `Endpoint=sb://127.0.0.1:${peer.peer.port};SharedAccessKeyName=${t.rule};SharedAccessKey=${t.sasKey};UseDevelopmentEmulator=true` },
    { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } },
  );
  clients.push(c);
  return c;
}
function cloudClient(): ServiceBusClient {
  const c = createServiceBusClient({ connectionString: peer.connectionString });
  clients.push(c);
  return c;
}

function sealFor(t: Tenant, o: { requestId?: string; password?: string } = {}) {
  const now = new Date();
  const requestId = o.requestId ?? randomUUID();
  const expiresAt = new Date(now.getTime() + 60_000);
  const body = sealRequest({
    tenantId: t.id,
    requestId,
    operation: "reset",
    keyVersion: 1,
    packageKey: t.packageKey,
    agentPublicKey: t.agent.publicKey,
    issuedAt: now,
    expiresAt,
    traceId: randomUUID(),
    cloudAnchor: "User_isolation",
    initiator: { kind: "user", channel: "ssprPortal" },
    flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
    newPassword: Buffer.from(o.password ?? `Iso-${randomUUID()}`, "utf8"),
  });
  return { tenantId: t.id, requestId, body, expiresAt };
}

const refusedAccess = (e: unknown): boolean => isServiceBusError(e) && e.code === "UnauthorizedAccess";

beforeAll(async () => {
  const queue = (name: string) => ({ name, requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT5S", maxDeliveryCount: 5 });
  const rules = (t: Tenant) => [
    { name: t.rule, key: t.sasKey, rights: ["Listen" as const], queue: t.queue },
    { name: t.rule, key: t.sasKey, rights: ["Send" as const], queue: "replies" },
    { name: t.rule, key: t.sasKey, rights: ["Send" as const], queue: "agent-events" },
  ];
  peer = await startServiceBusPeerForTests({ queues: [queue(A.queue), queue(B.queue)], policies: [...rules(A), ...rules(B)] });
  keyRing = new MemoryTenantKeyRing();
  for (const t of [A, B]) {
    const k = await keyRing.createKey(t.id, new Date());
    await keyRing.markAcknowledged(t.id, k.version, new Date());
    await keyRing.setAgentPublicKey(t.id, t.agent.publicKey.export({ type: "spki", format: "pem" }).toString());
    t.packageKey = k.key;
  }
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  for (const c of clients) await c.close().catch(() => {});
  await peer?.stop();
});

describe("Service Bus: an agent's rule covers its own queue only", () => {
  test("positive control: A's agent receives from A's queue and sends to replies and agent-events", async () => {
    const cloud = cloudClient().createSender(A.queue);
    await cloud.sendMessages({ body: Buffer.from("to-A"), messageId: randomUUID() });
    await cloud.close();
    const receiver = agentClient(A).createReceiver(A.queue, { receiveMode: "peekLock" });
    const got = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.equal(got.length, 1);
    await receiver.completeMessage(got[0]!);
    await receiver.close();
    const c = agentClient(A);
    for (const q of ["replies", "agent-events"]) {
      const s = c.createSender(q);
      await s.sendMessages({ body: "x", sessionId: q === "replies" ? `probe-${randomUUID()}` : undefined });
      await s.close();
    }
    // Drain the probe from agent-events so nothing else reads it.
    const drain = cloudClient().createReceiver("agent-events", { receiveMode: "receiveAndDelete" });
    await drain.receiveMessages(10, { maxWaitTimeInMs: 500 });
    await drain.close();
  });

  test("A's agent cannot receive from, peek at, or read the dead letters of B's queue; B's message stays put", async () => {
    const secret = `B-only-${randomUUID()}`;
    const cloud = cloudClient().createSender(B.queue);
    await cloud.sendMessages({ body: Buffer.from(secret), messageId: randomUUID() });
    await cloud.close();
    const c = agentClient(A);
    const receiver = c.createReceiver(B.queue, { receiveMode: "peekLock" });
    await assert.rejects(receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 }), refusedAccess, "receive");
    await receiver.close().catch(() => {});
    const peeker = c.createReceiver(B.queue);
    await assert.rejects(peeker.peekMessages(1), refusedAccess, "peek");
    await peeker.close().catch(() => {});
    const dlq = c.createReceiver(B.queue, { subQueueType: "deadLetter", receiveMode: "receiveAndDelete" });
    await assert.rejects(dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 }), refusedAccess, "dead-letter queue");
    await dlq.close().catch(() => {});
    assert.equal(peer.peer.depth(B.queue).active, 1, "B's message was not taken");
    // B's own agent still gets it.
    const own = agentClient(B).createReceiver(B.queue, { receiveMode: "receiveAndDelete" });
    const got = await own.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.equal(Buffer.from(got[0]?.body as Uint8Array).toString(), secret);
    await own.close();
  });

  test("A's agent cannot send to B's queue (nor to its own: Listen only)", async () => {
    const c = agentClient(A);
    for (const q of [B.queue, A.queue]) {
      const sender = c.createSender(q);
      await assert.rejects(sender.sendMessages({ body: sealFor(B).body, messageId: randomUUID() }), refusedAccess, q);
      await sender.close().catch(() => {});
    }
    assert.equal(peer.peer.depth(B.queue).active, 0);
  });

  test("A's agent cannot read the shared replies queue (Send only), so it sees no other tenant's replies", async () => {
    // A reply of B's waiting in a cloud instance's session.
    const session = `instance-${randomUUID()}`;
    const cloud = cloudClient().createSender("replies");
    await cloud.sendMessages({ body: Buffer.from("B's reply"), sessionId: session, correlationId: randomUUID(), applicationProperties: { tenantId: B.id } });
    await cloud.close();
    const depth = peer.peer.depth("replies").active;
    const refusedBefore = peer.peer.stats().refusedLinks;
    const c = agentClient(A);
    // The local peer detaches the link with amqp:unauthorized-access; for session receivers the
    // SDK surfaces that as a generic "failed to create receiver" error rather than UnauthorizedAccess.
    const refused = (e: unknown) => refusedAccess(e) || (e instanceof Error && /failed to create receiver/.test(e.message));
    await assert.rejects(c.acceptSession("replies", session), refused);
    await assert.rejects(c.acceptNextSession("replies", { maxAutoLockRenewalDurationInMs: 0 }), refused);
    assert.ok(peer.peer.stats().refusedLinks >= refusedBefore + 2, "the peer refused both links");
    assert.equal(peer.peer.depth("replies").active, depth, "the reply is still there, unread");
    const drain = await cloudClient().acceptSession("replies", session, { receiveMode: "receiveAndDelete" });
    assert.equal((await drain.receiveMessages(1, { maxWaitTimeInMs: 2000 })).length, 1);
    await drain.close();
  });
});

describe("Service Bus + protocol: a reply forged by A's agent for B's request is never trusted", () => {
  test("A's agent (Send on replies) answers B's pending request with A's key: dead-lettered, B's caller is not answered", async () => {
    const relay = new ServiceBusRelayClient<PasswordReply>({
      client: cloudClient(),
      repliesQueue: "replies",
      instanceId: `instance-${randomUUID()}`,
      openReply: createReplyOpener(keyRing),
      isUntrusted: (e) => e instanceof UntrustedReplyError,
      logger: silentLogger,
    });
    closers.push(() => relay.close());
    await relay.start();
    const forB = sealFor(B);
    const pending = relay.request(forB, { timeoutMs: 3000 });
    // A's agent cannot read B's queue, but suppose it learned the request id and the cloud's session.
    const sniff = cloudClient().createReceiver(B.queue, { receiveMode: "receiveAndDelete" });
    const [request] = await sniff.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    await sniff.close();
    assert.ok(request);
    const forged = sealReply({ requestId: forB.requestId, operation: "reset", keyVersion: 1, expiresAt: forB.expiresAt, completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "evil", diagnostic: "" }, A.id, A.packageKey);
    const forgedAsB = sealReply({ requestId: forB.requestId, operation: "reset", keyVersion: 1, expiresAt: forB.expiresAt, completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "evil", diagnostic: "" }, B.id, A.packageKey);
    const sender = agentClient(A).createSender("replies");
    for (const body of [forged, forgedAsB]) {
      await sender.sendMessages({ body, sessionId: request.replyToSessionId, correlationId: forB.requestId, applicationProperties: { tenantId: B.id } });
    }
    await sender.close();
    await assert.rejects(pending, (e: unknown) => (e as { code?: string }).code === "AGENT_TIMEOUT");
    assert.equal(relay.stats().rejectedReplies, 2);
    assert.equal(relay.stats().repliesMatched, 0);
    assert.equal(peer.peer.depth("replies").deadLetter >= 2, true, "both forgeries dead-lettered");
  });
});

describe("protocol: B's keys open nothing of A's", () => {
  test("a request sealed for A cannot be opened with B's tenant id, package key or private key, in any combination", () => {
    const password = `Tenant-A-secret-${randomUUID()}`;
    const { body } = sealFor(A, { password });
    const attempts: [string, Parameters<typeof openRequest>[1]][] = [
      ["B's everything", { tenantId: B.id, keyFor: () => B.packageKey, agentPrivateKey: B.agent.privateKey }],
      ["A's tenant id, B's keys", { tenantId: A.id, keyFor: () => B.packageKey, agentPrivateKey: B.agent.privateKey }],
      ["A's tenant id and package key, B's private key", { tenantId: A.id, keyFor: () => A.packageKey, agentPrivateKey: B.agent.privateKey }],
      ["B's tenant id with A's keys", { tenantId: B.id, keyFor: () => A.packageKey, agentPrivateKey: A.agent.privateKey }],
      ["A's tenant id, B's package key, A's private key", { tenantId: A.id, keyFor: () => B.packageKey, agentPrivateKey: A.agent.privateKey }],
    ];
    for (const [name, options] of attempts) {
      let opened: ReturnType<typeof openRequest> | undefined;
      assert.throws(() => {
        opened = openRequest(body, options);
      }, name);
      assert.equal(opened, undefined, name);
    }
    // Control: A's own keys open it.
    const mine = openRequest(body, { tenantId: A.id, keyFor: () => A.packageKey, agentPrivateKey: A.agent.privateKey });
    assert.equal(mine.newPassword?.toString("utf8"), password);
  });

  test("replies and key deliveries are bound to their tenant too", () => {
    const signerA = testSigningKey(A.id);
    const reply = sealReply({ requestId: randomUUID(), operation: "reset", keyVersion: 1, expiresAt: new Date(Date.now() + 60_000), completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "x", diagnostic: "" }, A.id, A.packageKey);
    assert.throws(() => openReply(reply, B.id, () => B.packageKey));
    assert.throws(() => openReply(reply, B.id, () => A.packageKey), "tenant id is bound as associated data");
    assert.throws(() => openReply(reply, A.id, () => B.packageKey));
    const newKey = randomBytes(32);
    const delivery = sealKeyDelivery({ requestId: randomUUID(), keyVersion: 2, issuedAt: new Date(), expiresAt: new Date(Date.now() + 60_000), traceId: randomUUID(), purpose: "rotate", previousKeyVersion: 1, previousValidUntil: new Date() }, A.id, newKey, A.agent.publicKey, signerA.signer);
    assert.throws(() => openKeyDelivery(delivery, B.id, B.agent.privateKey));
    // The backend's signature binds the tenant as well: B's agent, even pinning the same key, refuses it before decrypting.
    assert.equal(BackendTrust.fromPinned(B.id, signerA.pin).verify(peekHeader(delivery).trailer), "forged");
    assert.equal(BackendTrust.fromPinned(A.id, signerA.pin).verify(peekHeader(delivery).trailer), undefined);
    assert.throws(() => openKeyDelivery(delivery, A.id, B.agent.privateKey), "wrapped for A's agent key only");
    assert.throws(() => openKeyDelivery(delivery, B.id, A.agent.privateKey), "tenant id is bound");
    assert.ok(openKeyDelivery(delivery, A.id, A.agent.privateKey).key.equals(newKey));
  });

  test("the cloud's reply opener refuses a reply sealed under A's key for a request sent to B", async () => {
    const open = createReplyOpener(keyRing);
    const requestId = randomUUID();
    const reply = sealReply({ requestId, operation: "reset", keyVersion: 1, expiresAt: new Date(Date.now() + 60_000), completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "x", diagnostic: "" }, A.id, A.packageKey);
    await assert.rejects(open({ tenantId: B.id, correlationId: requestId, body: reply }), UntrustedReplyError);
    assert.equal((await open({ tenantId: A.id, correlationId: requestId, body: reply })).requestId, requestId, "control");
  });

  test("an agent event signed by A's agent but claiming tenant B is rejected; B's heartbeat state is untouched", async () => {
    const s = await startInMemoryStack();
    const victim = s.tenantId;
    const before = await s.services.heartbeats.latest(victim);
    const events = new AgentEvents(s.services);
    const forged = encodeAgentEvent(
      { v: 1, type: "heartbeat", tenantId: victim, agentId: "evil", agentVersion: "9", sentAt: new Date().toISOString(), policy: before!.policy, connectors: [], keyVersions: [] },
      A.agent.privateKey,
    );
    const outcome = await events.handle(forged);
    assert.equal(outcome.accepted, false);
    const ack = encodeAgentEvent({ v: 1, type: "keyAcknowledged", tenantId: victim, agentId: "evil", agentVersion: "9", sentAt: new Date().toISOString(), keyVersion: 99, requestId: randomUUID() }, A.agent.privateKey);
    assert.equal((await events.handle(ack)).accepted, false);
    assert.equal(events.rejectedCount(), 2);
    const afterBeat = await s.services.heartbeats.latest(victim);
    assert.equal(afterBeat?.agentId, before?.agentId);
    assert.equal(afterBeat?.receivedAt.getTime(), before?.receivedAt.getTime());
  });
});

describe("HTTP: tenant A's token on tenant B's routes", () => {
  test("every route answers 403 FORBIDDEN before doing anything, whatever the roles; B's own token works", async () => {
    const s = await startInMemoryStack({ rateLimitMax: 1000 });
    useServices(s.services);
    const tenantB = s.tenantId;
    const tenantA = randomUUID();
    const alice = DEMO_USERS[0]!;
    const user = { cloudAnchor: alice.cloudAnchor, userPrincipalName: alice.userPrincipalName, authType: alice.authType };
    const sspr = { kind: "user", channel: "ssprPortal" };
    // A recorded operation of B's, to probe the status route with a real id.
    const existing = randomUUID();
    const ok = await s.call(passwordResets, { method: "POST", path: "/x", body: { requestId: existing, user, newPassword: `Iso-${randomUUID().slice(0, 8)}-aA1!`, initiator: sspr } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));

    const routes: [string, HttpHandler, { method: string; body?: unknown; params?: Record<string, string> }, "operate" | "admin"][] = [
      ["precheck", precheck, { method: "POST", body: { user } }, "operate"],
      ["password-resets", passwordResets, { method: "POST", body: { user, newPassword: `Iso-${randomUUID().slice(0, 8)}-aA1!`, initiator: sspr } }, "operate"],
      ["password-changes", passwordChanges, { method: "POST", body: { user, currentPassword: "x-Current-1", newPassword: `Iso-${randomUUID().slice(0, 8)}-aA1!`, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } } }, "operate"],
      ["account-unlocks", accountUnlocks, { method: "POST", body: { user, initiator: sspr } }, "operate"],
      ["password-operations (existing)", passwordOperationStatus, { method: "GET", params: { requestId: existing } }, "operate"],
      ["password-operations (unknown)", passwordOperationStatus, { method: "GET", params: { requestId: randomUUID() } }, "operate"],
      ["writeback status", writebackStatus, { method: "GET" }, "admin"],
      ["writeback settings", writebackSettings, { method: "PUT", body: { enabled: false, allowUnlockWithoutReset: true } }, "admin"],
      ["agent registration", agentRegistration, { method: "PUT", body: { publicKeyPem: A.agent.publicKey.export({ type: "spki", format: "pem" }).toString() } }, "admin"],
      ["rotate keys", rotateKeys, { method: "POST" }, "admin"],
    ];
    const tokensOfA = [
      await s.issuer.mint({ tenantId: tenantA, roles: ["Writeback.Operate", "Writeback.Admin"] }),
      await s.issuer.mint({ tenantId: tenantA.toUpperCase(), roles: ["Writeback.Operate", "Writeback.Admin"] }),
    ];
    const sentBefore = s.relay.stats().sent;
    const auditBefore = s.audit.rows().length;
    const statusBefore = JSON.stringify(await s.call(writebackStatus, { method: "GET", path: "/x", token: s.adminToken }));
    const keyBefore = await s.services.keyRing.agentPublicKey(tenantB);
    let refusals = 0;
    for (const token of tokensOfA) {
      for (const [name, handler, init] of routes) {
        for (const routeTenant of [tenantB, tenantB.toUpperCase()]) {
          const r = await s.call(handler, { path: "/x", token, ...init, params: { ...init.params, tenantId: routeTenant } });
          assert.equal(r.status, 403, `${name}: ${JSON.stringify(r.body)}`);
          assert.equal(r.body.error?.code, "FORBIDDEN", name);
          assert.doesNotMatch(JSON.stringify(r.body), new RegExp(`${tenantB}|${existing}`, "i"), `${name}: nothing of B echoed`);
          refusals += 1;
        }
      }
    }
    assert.equal(s.relay.stats().sent, sentBefore, "nothing reached B's relay");
    assert.equal(s.audit.rows().length, auditBefore, "no operation of B was started");
    assert.equal(await s.services.keyRing.agentPublicKey(tenantB), keyBefore, "B's agent key unchanged");
    const statusAfter = JSON.stringify(await s.call(writebackStatus, { method: "GET", path: "/x", token: s.adminToken }));
    assert.equal(statusAfter.replace(/"lastHeartbeatAt":"[^"]*"/, ""), statusBefore.replace(/"lastHeartbeatAt":"[^"]*"/, ""), "B's settings and keys unchanged");

    // Control: B's own tokens reach every route (the status of B's operation, the settings, ...).
    for (const [name, handler, init, role] of routes) {
      if (name === "agent registration" || name === "writeback settings" || name.startsWith("password-") || name === "account-unlocks") continue;
      const r = await s.call(handler, { path: "/x", token: role === "admin" ? s.adminToken : s.operateToken, ...init });
      assert.notEqual(r.status, 403, name);
    }
    console.log(`tenant isolation over HTTP: ${refusals} cross-tenant calls on ${routes.length} routes, all 403 FORBIDDEN, 0 side effects`);
  });
});
