/**
 * What forged traffic costs the backend. Any tenant's agent may send to the shared `replies`
 * and `agent-events` queues; here tenant A's agent (its own SAS rule, real SDK, local Service
 * Bus peer) floods both, claiming tenant B, whose keys live in the local Key Vault peer behind
 * the production cache. Every vault HTTP request is counted at the peer. The bound asserted does
 * not depend on N: forged messages are settled once (dead-lettered with a reason, or completed),
 * never abandoned into redeliveries, and the key cache stays small.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, test } from "vitest";
import type { ServiceBusClient, ServiceBusMessage } from "@azure/service-bus";
import { startKeyVaultPeer, type KeyVaultPeer } from "../../../emulators/keyvault/peer.js";
import { createKeyVaultTenantKeyRing } from "../../../shared/adapters/keyvault/create-key-vault-tenant-key-ring.js";
import { createMemoryStores } from "../../../shared/adapters/memory/create-memory-stores.js";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { serviceBusQueueTriggers } from "../../../shared/adapters/servicebus/queue-trigger-source.js";
import { tenantQueueName } from "../../../shared/adapters/servicebus/queue-names.js";
import { ServiceBusRelayClient } from "../../../shared/adapters/servicebus/relay-client.js";
import { AgentEvents } from "../../../shared/app/agent-events.js";
import { createReplyOpener, UntrustedReplyError } from "../../../shared/app/reply-opener.js";
import type { WritebackServices } from "../../../shared/app/services.js";
import { createTokenVerifier } from "../../../shared/http/auth.js";
import { CachedTenantKeyRing } from "../../../shared/keys/cached-tenant-key-ring.js";
import { systemClock } from "../../../shared/ports/clock.port.js";
import { silentLogger } from "../../../shared/ports/logger.port.js";
import { encodeAgentEvent } from "../../../shared/protocol/agent-event.js";
import { sealReply, sealRequest, type PasswordReply } from "../../../shared/protocol/envelope.js";
import { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER } from "../../../dev/dev-token-issuer.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";
import { MemoryKeyVersionAllocator } from "../../../shared/adapters/memory/memory-key-version-allocator.js";

// One allocator for every ring over this vault (they stand for instances of one app).
const allocator = new MemoryKeyVersionAllocator();

const N = 1000;
/** Vault HTTP requests all N forgeries of one kind may cost together (a listing, a key read, the SDK's challenge). */
const BOUND = 12;

interface Tenant {
  id: string;
  rule: string;
  sasKey: string;
  agent: { publicKey: KeyObject; privateKey: KeyObject };
}
const tenant = (): Tenant => {
  const id = randomUUID();
  return { id, rule: `agent-${id}`, sasKey: randomBytes(32).toString("base64"), agent: generateKeyPairSync("rsa", { modulusLength: 2048 }) };
};
const A = tenant();
const B = tenant();

let sb: TestPeer;
let vault: KeyVaultPeer;
let keyRing: CachedTenantKeyRing;
let bCurrent: { version: number; key: Buffer };
const clients: ServiceBusClient[] = [];
const closers: (() => Promise<void>)[] = [];

function agentClient(t: Tenant): ServiceBusClient {
  const c = createServiceBusClient({ connectionString: `Endpoint=sb://127.0.0.1:${sb.peer.port};SharedAccessKeyName=${t.rule};SharedAccessKey=${t.sasKey};UseDevelopmentEmulator=true` });
  clients.push(c);
  return c;
}
function cloudClient(): ServiceBusClient {
  const c = createServiceBusClient({ connectionString: sb.connectionString });
  clients.push(c);
  return c;
}
const vaultRequests = () => vault.stats().requests;

async function sendAll(client: ServiceBusClient, queue: string, messages: ServiceBusMessage[]): Promise<void> {
  const sender = client.createSender(queue);
  for (let i = 0; i < messages.length; i += 100) await sender.sendMessages(messages.slice(i, i + 100));
  await sender.close();
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const queue = (name: string) => ({ name, requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT30S", maxDeliveryCount: 10 });
  const rules = (t: Tenant) => [
    { name: t.rule, key: t.sasKey, rights: ["Listen" as const], queue: tenantQueueName(t.id) },
    { name: t.rule, key: t.sasKey, rights: ["Send" as const], queue: "replies" },
    { name: t.rule, key: t.sasKey, rights: ["Send" as const], queue: "agent-events" },
  ];
  sb = await startServiceBusPeerForTests({ queues: [queue(tenantQueueName(A.id)), queue(tenantQueueName(B.id))], policies: [...rules(A), ...rules(B)] });
  vault = await startKeyVaultPeer();
  keyRing = new CachedTenantKeyRing(createKeyVaultTenantKeyRing({ vaultUrl: vault.url, credential: vault.credential(), caPem: vault.caPem, allocator }));
  for (const t of [A, B]) await keyRing.setAgentPublicKey(t.id, t.agent.publicKey.export({ type: "spki", format: "pem" }).toString());
  // B has rotated often: eight versions, so listing and fetching them all would be 9 vault calls.
  for (let v = 1; v <= 8; v++) {
    const k = await keyRing.createKey(B.id, new Date());
    await keyRing.markAcknowledged(B.id, k.version, new Date());
  }
  const current = await keyRing.currentKey(B.id);
  assert.equal(current?.version, 8);
  bCurrent = { version: current.version, key: current.key };
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  for (const c of clients) await c.close().catch(() => {});
  await sb?.stop();
  await vault?.stop();
});

function forgedReply(o: { requestId: string; claimedTenant: string; keyVersion: number; key: Buffer }): Buffer {
  return sealReply({ requestId: o.requestId, operation: "reset", keyVersion: o.keyVersion, expiresAt: new Date(Date.now() + 60_000), completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "evil", diagnostic: "" }, o.claimedTenant, o.key);
}

function requestFor(t: Tenant, keyVersion: number, key: Buffer) {
  const requestId = randomUUID();
  const expiresAt = new Date(Date.now() + 60_000);
  const body = sealRequest({
    tenantId: t.id,
    requestId,
    operation: "reset",
    keyVersion,
    packageKey: key,
    agentPublicKey: t.agent.publicKey,
    issuedAt: new Date(),
    expiresAt,
    traceId: randomUUID(),
    cloudAnchor: "User_cost",
    initiator: { kind: "user", channel: "ssprPortal" },
    flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
    newPassword: Buffer.from(`Cost-${randomUUID()}`),
  });
  return { tenantId: t.id, requestId, body, expiresAt, keyVersion };
}

describe(`forged replies on the shared replies queue (N = ${N} of each kind)`, () => {
  test("claiming B with unknown key versions, for requests never sent or for B's live request: dead-lettered unopened, no vault call; B's genuine reply still answers", async () => {
    const instanceId = `instance-${randomUUID()}`;
    const relay = new ServiceBusRelayClient<PasswordReply>({ client: cloudClient(), repliesQueue: "replies", instanceId, openReply: createReplyOpener(keyRing), isUntrusted: (e) => e instanceof UntrustedReplyError, logger: silentLogger });
    closers.push(() => relay.close());
    await relay.start();
    const live = requestFor(B, bCurrent.version, bCurrent.key);
    const pending = relay.request(live, { timeoutMs: 60_000 });
    const before = vaultRequests();
    const dlqBefore = sb.peer.depth("replies").deadLetter;
    const attacker = agentClient(A);
    const messages: ServiceBusMessage[] = [];
    for (let i = 0; i < N; i++) {
      // A reply to a request this instance never sent, claiming B, sealed under a version B never had.
      const requestId = randomUUID();
      messages.push({ body: forgedReply({ requestId, claimedTenant: B.id, keyVersion: 1000 + i, key: randomBytes(32) }), sessionId: instanceId, correlationId: requestId, applicationProperties: { tenantId: B.id } });
      // A reply to B's live request (its id and the session sniffed), under an unknown version.
      messages.push({ body: forgedReply({ requestId: live.requestId, claimedTenant: B.id, keyVersion: 4_294_967_295 - i, key: randomBytes(32) }), sessionId: instanceId, correlationId: live.requestId, applicationProperties: { tenantId: A.id } });
    }
    await sendAll(attacker, "replies", messages);
    await until(() => sb.peer.depth("replies").deadLetter - dlqBefore >= 2 * N, `${2 * N} dead letters`);
    const cost = vaultRequests() - before;
    console.log(`forged replies: ${cost} vault requests for ${2 * N}`);
    assert.equal(cost, 0, `${cost} vault requests for ${2 * N} forged replies`);
    assert.equal(relay.stats().unexpectedReplies, N);
    assert.equal(relay.stats().rejectedReplies, N);
    assert.equal(relay.stats().repliesMatched, 0);
    assert.equal(sb.peer.depth("replies").active, 0, "nothing left to redeliver");

    // The genuine agent's reply, after the flood, still answers the caller.
    const genuine = forgedReply({ requestId: live.requestId, claimedTenant: B.id, keyVersion: bCurrent.version, key: bCurrent.key });
    await sendAll(agentClient(B), "replies", [{ body: genuine, sessionId: instanceId, correlationId: live.requestId, applicationProperties: { tenantId: B.id } }]);
    assert.equal((await pending).outcome, "succeeded");
    assert.ok(relay.rememberedRequests() <= 1);
  });

  test("with the vault failing, replies that need a key read are retried briefly, then dead-lettered as unverifiable: never abandoned, and the outage costs a bounded number of vault calls", async () => {
    const instanceId = `instance-${randomUUID()}`;
    const relay = new ServiceBusRelayClient<PasswordReply>({ client: cloudClient(), repliesQueue: "replies", instanceId, openReply: createReplyOpener(keyRing), isUntrusted: (e) => e instanceof UntrustedReplyError, logger: silentLogger, verifyRetryDelaysMs: [20, 20] });
    closers.push(() => relay.close());
    await relay.start();
    // A live request under an old version of B's key: its key is not in the cache.
    const old = await createKeyVaultTenantKeyRing({ vaultUrl: vault.url, credential: vault.credential(), caPem: vault.caPem, allocator }).keyVersion(B.id, 3);
    assert.ok(old !== undefined);
    const live = requestFor(B, 3, old.key);
    const pending = relay.request(live, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    vault.injectFaults({ status: 503, count: 1_000_000 });
    try {
      const before = vaultRequests();
      const dlqBefore = sb.peer.depth("replies").deadLetter;
      const messages: ServiceBusMessage[] = Array.from({ length: N }, () => ({ body: forgedReply({ requestId: live.requestId, claimedTenant: B.id, keyVersion: 3, key: randomBytes(32) }), sessionId: instanceId, correlationId: live.requestId }));
      await sendAll(agentClient(A), "replies", messages);
      await until(() => sb.peer.depth("replies").deadLetter - dlqBefore >= N, `${N} dead letters`);
      const cost = vaultRequests() - before;
      // Each failed read is the SDK's 1 + 3 retries (with back-off, ~1.4 s); concurrent lookups share
      // it and the cache answers its failure for a second after: a few reads in all, whatever N is.
      console.log(`forged replies, vault down: ${cost} vault requests for ${N}`);
      assert.ok(cost <= 2 * BOUND, `${cost} vault requests for ${N} replies during the outage`);
      assert.equal(sb.peer.depth("replies").active, 0, "nothing abandoned for redelivery");
    } finally {
      vault.injectFaults({ status: 503, count: 0 });
    }
    await relay.close();
    await pending;
  });
});

describe(`forged agent events on the shared agent-events queue (N = ${N} of each kind)`, () => {
  function services(): WritebackServices {
    const issuer = createDevTokenIssuer();
    return {
      ...createMemoryStores({ maxOperations: 5, windowSeconds: 3600 }),
      keyRing,
      relay: undefined as never,
      clock: systemClock,
      logger: silentLogger,
      verifyToken: createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, publicKeyPem: issuer.publicKeyPem }),
      policy: { heartbeatWindowSeconds: 660, replyTimeoutMs: 30_000, messageTtlSeconds: 120, keyRotationMonths: 6 },
    };
  }
  const heartbeat = (tenantId: string) => ({
    v: 1 as const,
    type: "heartbeat" as const,
    tenantId,
    agentId: "evil",
    agentVersion: "1",
    sentAt: new Date().toISOString(),
    policy: { minLength: 1, complexity: false, historyLength: 0, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 0, lockoutDurationSeconds: 0 },
    connectors: [],
    keyVersions: [1],
  });

  test("naming random tenants, or B with A's signature: each handled once and completed, a bounded number of vault calls, a bounded cache", async () => {
    const s = services();
    const handled: string[] = [];
    const triggers = serviceBusQueueTriggers(cloudClient(), 16);
    const subscription = await triggers.subscribe("agent-events", async (body) => {
      const outcome = await new AgentEvents(s).handle(body);
      handled.push(outcome.accepted ? "accepted" : outcome.reason);
    });
    closers.push(() => subscription.close());
    const before = vaultRequests();
    const sizeBefore = keyRing.size();
    const messages: ServiceBusMessage[] = [];
    for (let i = 0; i < N; i++) {
      messages.push({ body: encodeAgentEvent(heartbeat(randomUUID()), A.agent.privateKey), contentType: "application/json" });
      messages.push({ body: encodeAgentEvent(heartbeat(B.id), A.agent.privateKey), contentType: "application/json" });
    }
    await sendAll(agentClient(A), "agent-events", messages);
    await until(() => handled.length >= 2 * N, `${2 * N} events handled`);
    await new Promise((r) => setTimeout(r, 300));
    const cost = vaultRequests() - before;
    console.log(`forged events: ${cost} vault requests for ${2 * N}; cache +${keyRing.size() - sizeBefore} entries`);
    assert.ok(cost <= BOUND, `${cost} vault requests for ${2 * N} forged events`);
    assert.equal(handled.length, 2 * N, "each event handled exactly once: no redelivery");
    assert.equal(handled.filter((h) => h === "accepted").length, 0);
    assert.equal(handled.filter((h) => h === "no agent registered for the claimed tenant").length, N);
    assert.equal(handled.filter((h) => h === "bad signature").length, N);
    assert.ok(keyRing.size() - sizeBefore <= 2, `cache grew by ${keyRing.size() - sizeBefore} entries`);
    assert.deepEqual(sb.peer.depth("agent-events"), { active: 0, deadLetter: 0 });
    assert.equal(await s.heartbeats.latest(B.id), undefined, "B's heartbeat state untouched");
  });

  test("during a vault outage, unverifiable events are completed, not retried, and cost a bounded number of vault calls", async () => {
    const s = services();
    // A fresh cache: nothing known yet, so every claim would need the vault.
    const cold = new CachedTenantKeyRing(createKeyVaultTenantKeyRing({ vaultUrl: vault.url, credential: vault.credential(), caPem: vault.caPem, allocator }));
    const outage = { ...s, keyRing: cold };
    vault.injectFaults({ status: 503, count: 1_000_000 });
    try {
      const before = vaultRequests();
      const outcomes = [];
      for (let i = 0; i < N; i++) outcomes.push(await new AgentEvents(outage).handle(encodeAgentEvent(heartbeat(i % 2 === 0 ? B.id : randomUUID()), A.agent.privateKey)));
      const cost = vaultRequests() - before;
      console.log(`forged events, vault down: ${cost} vault requests for ${N}`);
      assert.ok(outcomes.every((o) => !o.accepted), "nothing accepted");
      assert.ok(outcomes.every((o) => !o.accepted && /not verifiable now|no agent registered/.test(o.reason)));
      // One listing attempt (the SDK's 1 + 3 retries) per refresh interval (10 s).
      assert.ok(cost <= BOUND, `${cost} vault requests for ${N} events during the outage`);
      assert.ok(cold.size() <= 2);
    } finally {
      vault.injectFaults({ status: 503, count: 0 });
    }
  });
});
