import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, test } from "vitest";
import type { ServiceBusClient } from "@azure/service-bus";
import { loadAgentConfig } from "../../../agent/config/agent-config.js";
import { directoryFromSeed } from "../../../agent/directory/embedded/seed.js";
import type { EmbeddedDirectory } from "../../../agent/directory/embedded/embedded-directory.js";
import { startAgent, type RunningAgent } from "../../../agent/runtime.js";
import { FileSyncStore } from "../../../agent/sync/file-sync-store.js";
import { createMemoryStores } from "../../../shared/adapters/memory/create-memory-stores.js";
import { MemoryTenantKeyRing } from "../../../shared/adapters/memory/memory-tenant-key-ring.js";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../../../shared/adapters/servicebus/queue-names.js";
import { serviceBusQueueTriggers } from "../../../shared/adapters/servicebus/queue-trigger-source.js";
import { ServiceBusRelayClient } from "../../../shared/adapters/servicebus/relay-client.js";
import { AgentEvents } from "../../../shared/app/agent-events.js";
import { PasswordOperations } from "../../../shared/app/password-operations.js";
import { createReplyOpener, UntrustedReplyError } from "../../../shared/app/reply-opener.js";
import type { WritebackServices } from "../../../shared/app/services.js";
import { TenantAdmin } from "../../../shared/app/tenant-admin.js";
import { DEMO_DOMAIN, demoDirectorySeed, demoSyncObjects, loadUsers, type DemoUser } from "../../../dev/demo-tenant.js";
import { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER } from "../../../dev/dev-token-issuer.js";
import { toAppError } from "../../../shared/errors/app-error.js";
import { createTokenVerifier } from "../../../shared/http/auth.js";
import { silentLogger } from "../../../shared/ports/logger.port.js";
import type { PasswordReply } from "../../../shared/protocol/envelope.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";
import { BackendTrust, type PinnedSigningKey } from "../../../agent/core/backend-trust.js";

// Issue 8's load promise, on the real relay (Service Bus SDK ↔ local AMQP peer) with the real
// agent runtime: 10,000 resets with unique passwords over 2 tenants whose directories hold
// the SAME cloud anchors (a cross-tenant mix-up would show as a wrong final password), keys
// rotated twice per tenant during the load. Cloud stores are in memory to keep it quick.

const TOTAL = Number(process.env.WB_LOAD_RESETS ?? 10_000);
const USERS = loadUsers(200);
const WORKERS_PER_TENANT = 24;

interface Tenant {
  id: string;
  agent: RunningAgent;
  directory: EmbeddedDirectory;
  client: ServiceBusClient;
}

let peer: TestPeer;
let cloudClient: ServiceBusClient;
let relay: ServiceBusRelayClient<PasswordReply>;
let services: WritebackServices;
let events: { close(): Promise<void> };
const tenants: Tenant[] = [];

beforeAll(async () => {
  const ids = [randomUUID(), randomUUID()];
  const agentKey = (i: number) => Buffer.from(`load-agent-key-${i}-${ids[i]}`).toString("base64");
  peer = await startServiceBusPeerForTests({
    queues: ids.map((id) => ({ name: tenantQueueName(id), requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT30S", maxDeliveryCount: 5 })),
    policies: ids.flatMap((id, i) => [
      { name: `agent-${id}`, key: agentKey(i), rights: ["Listen" as const], queue: tenantQueueName(id) },
      { name: `agent-${id}`, key: agentKey(i), rights: ["Send" as const], queue: "replies" },
      { name: `agent-${id}`, key: agentKey(i), rights: ["Send" as const], queue: "agent-events" },
    ]),
  });
  cloudClient = createServiceBusClient({ connectionString: peer.connectionString });
  const keyRing = new MemoryTenantKeyRing();
  relay = new ServiceBusRelayClient<PasswordReply>({
    client: cloudClient,
    repliesQueue: "replies",
    instanceId: `load-${randomUUID()}`,
    openReply: createReplyOpener(keyRing),
    isUntrusted: (e) => e instanceof UntrustedReplyError,
    logger: silentLogger,
    maxConcurrentReplies: 64,
  });
  const issuer = createDevTokenIssuer();
  services = {
    ...createMemoryStores({ maxOperations: 1_000_000, windowSeconds: 3600 }),
    keyRing,
    relay,
    clock: { now: () => new Date() },
    logger: silentLogger,
    verifyToken: createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, publicKeyPem: issuer.publicKeyPem }),
    policy: { heartbeatWindowSeconds: 660, replyTimeoutMs: 15_000, messageTtlSeconds: 120, keyRotationMonths: 6 },
  };
  const agentEvents = new AgentEvents(services);
  events = await serviceBusQueueTriggers(cloudClient).subscribe("agent-events", async (body) => {
    await agentEvents.handle(body);
  });
  const admin = new TenantAdmin(services);

  for (const [i, id] of ids.entries()) {
    const dir = mkdtempSync(join(tmpdir(), "wb-load-"));
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "agent.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const registration = await admin.registerAgent(id, publicKey.export({ type: "spki", format: "pem" }).toString());
    // What `agent register` does with the answer: pin the backend's control-signing key.
    await BackendTrust.pin(join(dir, "backend-signing-key.json"), id, registration.backendSigningKey as PinnedSigningKey);
    const sync = await FileSyncStore.open(join(dir, "sync.json"));
    await sync.upsert(demoSyncObjects(USERS));
    await sync.close();
    writeFileSync(
      join(dir, "agent.json"),
      JSON.stringify({ tenantId: id, agentId: `load-agent-${i}`, serviceBus: {}, keys: { privateKeyFile: "agent.pem", stateFile: "keys.json" }, maxConcurrentRequests: 32, directory: { kind: "embedded", seedFile: "unused.json" }, syncStore: { file: "sync.json" } }),
    );
    const connectionString = `Endpoint=sb://127.0.0.1:${peer.peer.port};SharedAccessKeyName=agent-${id};SharedAccessKey=${agentKey(i)};UseDevelopmentEmulator=true`;
    const config = loadAgentConfig(join(dir, "agent.json"), { WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING: connectionString });
    const directory = directoryFromSeed(demoDirectorySeed(USERS));
    const client = createServiceBusClient({ connectionString });
    const agent = await startAgent(config, { logger: silentLogger, directory, serviceBusClient: client });
    tenants.push({ id, agent, directory, client });
  }
  // Online (first heartbeat consumed), then enabled: a key delivered and acknowledged each.
  for (const t of tenants) {
    for (let i = 0; i < 100 && (await services.heartbeats.latest(t.id)) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    await admin.updateSettings(t.id, { enabled: true, allowUnlockWithoutReset: false });
  }
});

afterAll(async () => {
  for (const t of tenants) {
    await t.agent.stop().catch(() => {});
    await t.client.close().catch(() => {});
  }
  await events?.close().catch(() => {});
  await relay?.close().catch(() => {});
  await cloudClient?.close().catch(() => {});
  await peer?.stop();
});

test(`${TOTAL} resets over 2 tenants sharing cloud anchors, 2 rotations each during the load: 0 lost, 0 failed, 0 cross-matched`, async () => {
  const ops = new PasswordOperations(services);
  const admin = new TenantAdmin(services);
  const perTenant = TOTAL / tenants.length;
  const last = new Map<string, string>(); // `${tenant}/${user}` → last accepted password
  const failures = new Map<string, number>();
  let done = 0;
  const rotations: Promise<{ status: "fulfilled" | "rejected" }>[] = [];
  const rotationPoints = [Math.floor(TOTAL * 0.3), Math.floor(TOTAL * 0.6)];
  const started = performance.now();

  // Each user belongs to one worker, so its resets are sequential and its last password known.
  const worker = async (t: Tenant, w: number) => {
    const mine = USERS.filter((_, i) => i % WORKERS_PER_TENANT === w);
    const quota = Math.floor(perTenant / WORKERS_PER_TENANT) + (w < perTenant % WORKERS_PER_TENANT ? 1 : 0);
    for (let n = 0; n < quota; n++) {
      const u = mine[n % mine.length] as DemoUser;
      const password = `Ld-${t.id.slice(0, 4)}-${w}-${n}-${randomUUID().slice(0, 8)}-aA1!`;
      try {
        await ops.reset(t.id, { requestId: randomUUID(), user: { cloudAnchor: u.cloudAnchor, userPrincipalName: u.userPrincipalName, authType: u.authType }, newPassword: password, initiator: { kind: "user", channel: "ssprPortal" }, unlockAccount: false, forceChangeAtNextLogon: false });
        last.set(`${t.id}/${u.sAMAccountName}`, password);
      } catch (e) {
        const code = toAppError(e).code;
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
      done += 1;
      if (process.env.WB_LOAD_TRACE !== undefined && done % 500 === 0) console.log(`[load] ${done} after ${((performance.now() - started) / 1000).toFixed(1)} s`);
      if (rotationPoints.includes(done)) {
        // Settled into an array at once: a rejection is a result here, not an unhandled error.
        for (const tt of tenants) rotations.push(admin.rotateKeys(tt.id).then((r) => ({ status: "fulfilled" as const, r }), (e: unknown) => ({ status: "rejected" as const, code: toAppError(e).code })));
      }
    }
  };
  await Promise.all(tenants.flatMap((t) => Array.from({ length: WORKERS_PER_TENANT }, (_, w) => worker(t, w))));
  const rotated = await Promise.all(rotations);
  const seconds = (performance.now() - started) / 1000;

  assert.deepEqual(Object.fromEntries(failures), {}, "no reset failed");
  assert.equal(done, TOTAL);
  assert.deepEqual(rotated.map((r) => r.status), ["fulfilled", "fulfilled", "fulfilled", "fulfilled"], "both rotations of both tenants succeeded");
  for (const t of tenants) {
    const key = await services.keyRing.currentKey(t.id);
    assert.equal(key?.version, 3, "enable + two rotations");
  }

  // Each directory holds exactly its own tenant's last password for every user.
  let verified = 0;
  for (const [i, t] of tenants.entries()) {
    const other = tenants[1 - i] as Tenant;
    for (const u of USERS) {
      const ref = t.directory.findUser(DEMO_DOMAIN, u.sAMAccountName);
      assert.ok(ref !== undefined);
      const mine = last.get(`${t.id}/${u.sAMAccountName}`);
      const theirs = last.get(`${other.id}/${u.sAMAccountName}`);
      assert.ok(mine !== undefined && theirs !== undefined, `${u.sAMAccountName} was reset in both tenants`);
      assert.equal(await t.directory.verifyPassword(ref, Buffer.from(mine)), "ok", `${u.sAMAccountName} holds its tenant's last password`);
      assert.equal(await t.directory.verifyPassword(ref, Buffer.from(theirs)), "badPassword", `${u.sAMAccountName} never got the other tenant's password`);
      verified += 1;
    }
  }
  const writes = tenants.map((t) => t.directory.writeCount());
  assert.equal(writes.reduce((a, b) => a + b, 0), TOTAL, "exactly one directory write per reset");
  const stats = relay.stats();
  assert.equal(stats.rejectedReplies, 0);
  console.log(`[load] ${TOTAL} resets over 2 tenants in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)}/s), 4 rotations during the load, 0 failed, ${verified} final passwords verified, writes per tenant ${writes.join("/")}, late replies ${stats.lateReplies}`);
});
