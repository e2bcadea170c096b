import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { CachedAgentHeartbeatStore } from "../shared/adapters/caching/cached-agent-heartbeat-store.js";
import { CachedTenantSettingsStore } from "../shared/adapters/caching/cached-tenant-settings-store.js";
import { createMemoryStores } from "../shared/adapters/memory/create-memory-stores.js";
import { MemoryTenantKeyRing } from "../shared/adapters/memory/memory-tenant-key-ring.js";
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../shared/adapters/servicebus/queue-names.js";
import { ServiceBusRelayClient } from "../shared/adapters/servicebus/relay-client.js";
import { PasswordOperations } from "../shared/app/password-operations.js";
import { createReplyOpener, UntrustedReplyError } from "../shared/app/reply-opener.js";
import type { WritebackServices } from "../shared/app/services.js";
import { loadUsers, userRef } from "../dev/demo-tenant.js";
import { freePort } from "../dev/processes.js";
import { CachedTenantKeyRing } from "../shared/keys/cached-tenant-key-ring.js";
import { systemClock } from "../shared/ports/clock.port.js";
import { silentLogger } from "../shared/ports/logger.port.js";
import type { PasswordReply } from "../shared/protocol/envelope.js";
import type { PeerConfig } from "../emulators/servicebus/config.js";
import { startServiceBusPeerProcess } from "../emulators/servicebus/peer-control.js";
import type { TenantAgentSpec } from "./tenant-scale-agent.js";

export interface TenantScaleLevel {
  tenants: number;
  requests: number;
  failures: Record<string, number>;
  throughputPerSecond: number;
  /** CPU of this process (the function app's use case, relay client and caches; stores in memory) per reset. */
  functionAppCpuMsPerReset: number;
  /** After a forced GC, once the level's tenants have all been served. */
  functionAppRssMb: number;
  functionAppHeapMb: number;
}

export interface TenantScale {
  levels: TenantScaleLevel[];
  /** Highest CPU per reset over the lowest, and RSS growth from the first level to the last. */
  cpuSpread: number;
  rssGrowthMb: number;
  agentKeyPairs: number;
}

const POLICY = { minLength: 8, complexity: true, historyLength: 0, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 0, lockoutDurationSeconds: 0 };

/**
 * Function-app CPU per reset and memory as the number of tenants grows (1, 100, 1,000): each
 * tenant with its own queue, package key, settings, heartbeat and agent (the agents of all
 * tenants in one process of their own, tenant-scale-agent.ts), resets spread evenly over the
 * level's tenants at concurrency 10. The function app is this process: the use case, the
 * Service Bus relay client (one sender per tenant queue, bounded), the key, settings and
 * heartbeat caches; its stores in memory, the Service Bus peer in a process of its own.
 * Agent key pairs come from a small pool (RSA-2048 generation takes 0.1–1.5 s each here).
 */
export async function measureTenantScale(counts: number[], requestsPerLevel: number, options: { keyPairs?: number; usersPerTenant?: number; log?: (line: string) => void } = {}): Promise<TenantScale> {
  const log = options.log ?? (() => {});
  const most = Math.max(...counts);
  const tenants = Array.from({ length: most }, () => randomUUID());
  const pool = Array.from({ length: Math.min(options.keyPairs ?? 8, most) }, () => generateKeyPairSync("rsa", { modulusLength: 2048 }));
  const base = JSON.parse(readFileSync(new URL("../emulators/servicebus/config.json", import.meta.url), "utf8")) as PeerConfig;
  const peer = await startServiceBusPeerProcess({ port: await freePort(), config: { policies: base.policies, queues: [...base.queues, ...tenants.map((t) => ({ name: tenantQueueName(t), requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT1M", maxDeliveryCount: 5 }))] } });
  const connectionString = peer.connectionString("RootManageSharedAccessKey");
  const client = createServiceBusClient({ connectionString });
  const keyRing = new CachedTenantKeyRing(new MemoryTenantKeyRing());
  const stores = createMemoryStores({ maxOperations: 1_000_000, windowSeconds: 3600 });
  const relay = new ServiceBusRelayClient<PasswordReply>({ client, repliesQueue: "replies", instanceId: `tenant-scale-${randomUUID()}`, openReply: createReplyOpener(keyRing), isUntrusted: (e) => e instanceof UntrustedReplyError, logger: silentLogger });
  const services: WritebackServices = {
    ...stores,
    settings: new CachedTenantSettingsStore(stores.settings),
    heartbeats: new CachedAgentHeartbeatStore(stores.heartbeats),
    keyRing,
    relay,
    clock: systemClock,
    logger: silentLogger,
    verifyToken: () => Promise.reject(new Error("not used by the tenant-scale level")),
    policy: { heartbeatWindowSeconds: 660, replyTimeoutMs: 10_000, messageTtlSeconds: 120, keyRotationMonths: 6 },
  };
  log(`${most} tenant queues on the Service Bus peer`);
  const specs: TenantAgentSpec[] = [];
  for (const [i, tenantId] of tenants.entries()) {
    const pair = pool[i % pool.length] as (typeof pool)[number];
    const publicKeyPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    await keyRing.setAgentPublicKey(tenantId, publicKeyPem);
    const key = await keyRing.createKey(tenantId, new Date());
    await keyRing.markAcknowledged(tenantId, key.version, new Date());
    await stores.settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, updatedAt: new Date() }, null);
    specs.push({ tenantId, privateKeyPem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), packageKeyBase64: key.key.toString("base64") });
  }
  const beat = async () => {
    for (const tenantId of tenants) await services.heartbeats.record({ tenantId, agentId: "bench", agentVersion: "bench", sentAt: new Date(), receivedAt: new Date(), policy: POLICY, connectors: [], keyVersions: [1] });
  };
  const users = loadUsers(options.usersPerTenant ?? 20);
  const agent = fork(new URL("./tenant-scale-agent.ts", import.meta.url), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const ready = new Promise<void>((resolve, reject) => {
    agent.once("message", () => resolve());
    agent.once("exit", (code) => reject(new Error(`the tenant-scale agent exited (${code})`)));
  });
  agent.send({ connectionString, users: users.length, tenants: specs });
  const operations = new PasswordOperations(services);
  const gc = (globalThis as { gc?: () => void }).gc;
  try {
    log(`${most} tenants set up in the function app; waiting for their agents`);
    await ready;
    log("agents ready");
    let n = 0;
    const run = async (count: number, requests: number, concurrency: number) => {
      const failures: Record<string, number> = {};
      let issued = 0;
      let ok = 0;
      const worker = async () => {
        while (issued < requests) {
          const i = issued++;
          n += 1;
          const user = users[n % users.length];
          if (user === undefined) throw new Error("no users");
          try {
            await operations.reset(tenants[i % count] as string, { requestId: randomUUID(), user: userRef(user), newPassword: `Scale-${n}-${randomUUID().slice(0, 6)}-aA1!`, initiator: { kind: "user", channel: "ssprPortal" }, unlockAccount: false, forceChangeAtNextLogon: false });
            ok += 1;
          } catch (e) {
            const code = (e as { code?: string }).code ?? "ERROR";
            failures[code] = (failures[code] ?? 0) + 1;
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return { ok, failures };
    };
    const levels: TenantScaleLevel[] = [];
    for (const count of counts) {
      await beat();
      // Every tenant of the level served at least twice first: links, caches, JIT.
      await run(count, Math.max(300, 2 * count), 10);
      log(`${count} tenants warmed up`);
      // A slow warm-up can outlast the heartbeat window (11 minutes): the agents beat again.
      await beat();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const { ok, failures } = await run(count, requestsPerLevel, 10);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      gc?.();
      const m = process.memoryUsage();
      levels.push({
        tenants: count,
        requests: requestsPerLevel,
        failures,
        throughputPerSecond: Math.round(ok / seconds),
        functionAppCpuMsPerReset: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, ok)) * 100) / 100,
        functionAppRssMb: Math.round(m.rss / 104857.6) / 10,
        functionAppHeapMb: Math.round(m.heapUsed / 104857.6) / 10,
      });
    }
    const cpus = levels.map((l) => l.functionAppCpuMsPerReset);
    return {
      levels,
      cpuSpread: Math.round((Math.max(...cpus) / Math.max(0.001, Math.min(...cpus))) * 100) / 100,
      rssGrowthMb: Math.round(((levels.at(-1)?.functionAppRssMb ?? 0) - (levels[0]?.functionAppRssMb ?? 0)) * 10) / 10,
      agentKeyPairs: pool.length,
    };
  } finally {
    if (agent.connected) agent.disconnect();
    await new Promise((r) => setTimeout(r, 200));
    if (agent.exitCode === null) agent.kill();
    await relay.close();
    await client.close();
    await peer.stop();
  }
}
