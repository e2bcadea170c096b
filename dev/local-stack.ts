import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startKeyVaultPeer } from "../emulators/keyvault/peer.js";
import { startServiceBusPeer } from "../emulators/servicebus/peer.js";
import { controlInProcess, startServiceBusPeerProcess } from "../emulators/servicebus/peer-control.js";
import type { PeerConfig } from "../emulators/servicebus/config.js";
import { registerAgent } from "../agent/commands/register.js";
import { FileSyncStore } from "../agent/sync/file-sync-store.js";
import { loadFunctions } from "./functions-host/load-functions.js";
import { startLocalRunner } from "./functions-host/local-runner.js";
import { jsonLogger } from "../shared/adapters/logging/json-logger.js";
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../shared/adapters/servicebus/queue-names.js";
import { serviceBusQueueTriggers } from "../shared/adapters/servicebus/queue-trigger-source.js";
import { buildServices } from "../shared/composition/build-services.js";
import { useServices } from "../shared/composition/services.js";
import { loadConfig } from "../shared/config/config.js";
import { ERROR_CATALOG } from "../shared/errors/catalog.js";
import { startAzurite } from "./azurite.js";
import { createMemoryStores } from "../shared/adapters/memory/create-memory-stores.js";
import { DEMO_DOMAIN, DEMO_TENANT_ID, DEMO_USERS, demoDirectorySeed, demoSyncObjects, loadUsers, userRef } from "./demo-tenant.js";
import { tableCallCount, tableRoundCount } from "../shared/adapters/tables/table-call-counter.js";
import { DEV_AUDIENCE, DEV_ISSUER, loadDevTokenIssuer } from "./dev-token-issuer.js";
import type { LocalStackHandle } from "./local-stack-handle.js";
import { freePort, stopChild, waitFor } from "./processes.js";
import { sambaUnavailableReason, type SambaDc } from "./samba-dc.js";
import { startSambaDemoDirectory, type SambaDemoDirectory } from "./samba-demo.js";
import { staticFiles } from "./static-files.js";

export interface LocalStackOptions {
  /** "fixed": 7071 (API), 10002 (Azurite), 5672 (Service Bus), 8443 (Key Vault); "free": any free ports (tests). */
  ports: "fixed" | "free";
  /** Where keys, the agent's files and the dev issuer live; a temporary folder when omitted. */
  stateDir?: string;
  heartbeatIntervalSeconds?: number;
  heartbeatWindowSeconds?: number;
  replyTimeoutMs?: number;
  messageTtlSeconds?: number;
  rateLimitMaxOperations?: number;
  /** Extra password-hash-sync users (load-00001 …) in the agent's directory, for load runs. */
  loadUsers?: number;
  /**
   * "azurite" (default): Table storage on Azurite, like Azure. "memory": the stores in the
   * function app's memory and no Azurite (benchmarks of the relay path; one instance only).
   */
  tables?: "azurite" | "memory";
  /** Keep Azurite's tables on disk in the state folder, so an Azurite restart keeps them (fault tests). */
  tablesOnDisk?: boolean;
  /** Agent requests handled at once (its maxConcurrentRequests). */
  agentConcurrency?: number;
  /**
   * "in-process" (default): the Service Bus peer runs in this process. "own-process": in a
   * child process, so it does not share the function app's event loop (benchmarks).
   */
  serviceBusPeer?: "in-process" | "own-process";
  /** The embedded directory's write latency in ms (a slow DC: drain tests). */
  agentWriteLatencyMs?: number;
  /** Extra Node flags for the agent process (benchmarks: --cpu-prof). */
  agentNodeArgs?: string[];
  /**
   * The agent's directory: "embedded" (default: the demo users in a seed file) or "samba": a
   * local Samba AD DC (provisioned here, root and the samba package needed) holding the demo
   * users, which the agent reaches over LDAPS with a delegated service account.
   */
  directory?: "embedded" | "samba";
  /** With "samba": a running DC to put the demo users in (tests: the run's shared one) instead of provisioning one. */
  sambaDc?: SambaDc;
  /** With "samba": how long to wait for another run's Samba instance to go (ports 389/636 are fixed; default 180 s). */
  sambaLockWaitMs?: number;
  quiet?: boolean;
  /** Keep the function app's log lines for functionLogs() (default true; benchmarks turn it off). */
  retainLogs?: boolean;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ROOT_POLICY = "RootManageSharedAccessKey";

/**
 * Everything on loopback, nothing else installed: Azurite, the Service Bus and Key Vault
 * peers, the function app (same handlers as the Functions host) and an agent process on the
 * embedded directory (or, with `directory: "samba"`, on a local Samba AD DC over LDAPS), with a
 * demo tenant enabled and its keys delivered.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStackHandle> {
  const directoryKind = options.directory ?? "embedded";
  if (directoryKind === "samba" && options.sambaDc === undefined) {
    // Before anything starts: say what is missing.
    const reason = sambaUnavailableReason();
    if (reason !== undefined) throw new Error(`--directory samba needs a local Samba AD DC, which cannot run here: ${reason}`);
  }
  const state = options.stateDir ?? mkdtempSync(join(tmpdir(), "writeback-stack-"));
  mkdirSync(state, { recursive: true });
  const logs: string[] = [];
  // Tests read the function app's log back; a long benchmark must not hold every line.
  const keep = (line: string) => {
    if (options.retainLogs !== false) logs.push(line);
  };
  const say = (line: string) => {
    if (options.quiet !== true) console.log(line);
  };
  const port = async (fixed: number) => (options.ports === "fixed" ? fixed : freePort());
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };

  try {
    // Samba first (its provisioning runs in child processes, alongside the peers starting here).
    const extraUsers = loadUsers(options.loadUsers ?? 0);
    let samba: Promise<SambaDemoDirectory> | undefined;
    if (directoryKind === "samba") {
      const starting = startSambaDemoDirectory({
        users: [...DEMO_USERS, ...extraUsers],
        ...(options.sambaDc === undefined ? {} : { dc: options.sambaDc }),
        ...(options.sambaLockWaitMs === undefined ? {} : { lockWaitMs: options.sambaLockWaitMs }),
        log: (line) => say(`[samba] ${line}`),
      });
      starting.catch(() => {}); // awaited below; a failure meanwhile must not be an unhandled rejection
      samba = starting;
      cleanups.push(async () => {
        const s = await starting.catch(() => undefined);
        await s?.stop();
      });
    }

    const inMemory = options.tables === "memory";
    const azurite = inMemory ? undefined : await startAzurite(await port(10002), options.tablesOnDisk === true ? { location: join(state, "azurite") } : {});
    if (azurite !== undefined) {
      cleanups.push(() => azurite.stop());
      say("Azurite (tables) ready");
    }

    const peerOptions = { port: await port(5672), config: JSON.parse(readFileSync(join(ROOT, "emulators", "servicebus", "config.json"), "utf8")) as PeerConfig };
    const serviceBus = options.serviceBusPeer === "own-process" ? await startServiceBusPeerProcess(peerOptions) : controlInProcess(await startServiceBusPeer(peerOptions));
    cleanups.push(() => serviceBus.stop());
    const agentKey = randomBytes(32).toString("base64");
    const agentRule = `agent-${DEMO_TENANT_ID}`;
    await serviceBus.addQueue({ name: tenantQueueName(DEMO_TENANT_ID), requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT1M", maxDeliveryCount: 5 });
    await serviceBus.addPolicy({ name: agentRule, key: agentKey, rights: ["Listen"], queue: tenantQueueName(DEMO_TENANT_ID) });
    await serviceBus.addPolicy({ name: agentRule, key: agentKey, rights: ["Send"], queue: "replies" });
    await serviceBus.addPolicy({ name: agentRule, key: agentKey, rights: ["Send"], queue: "agent-events" });
    say(`Service Bus peer ready on 127.0.0.1:${serviceBus.port}`);

    const keyVault = await startKeyVaultPeer({ port: await port(8443) });
    cleanups.push(() => keyVault.stop());
    const caFile = join(state, "keyvault-ca.pem");
    writeFileSync(caFile, keyVault.caPem);
    say(`Key Vault peer ready at ${keyVault.url}`);

    const issuer = loadDevTokenIssuer(join(state, "dev-auth"));
    const apiPort = await port(7071);
    const env: Record<string, string> = {
      // In memory mode the setting is required but never used: the stores are handed over below.
      TABLES_CONNECTION_STRING: azurite?.connectionString ?? "UseDevelopmentStorage=true",
      SERVICEBUS_CONNECTION_STRING: serviceBus.connectionString(ROOT_POLICY),
      ServiceBusConnection: serviceBus.connectionString(ROOT_POLICY),
      SERVICEBUS_REPLIES_QUEUE: "replies",
      SERVICEBUS_AGENT_EVENTS_QUEUE: "agent-events",
      KEYVAULT_URL: keyVault.url,
      KEYVAULT_CA_FILE: caFile,
      AUTH_ISSUER: DEV_ISSUER,
      AUTH_AUDIENCE: DEV_AUDIENCE,
      AUTH_PUBLIC_KEY_PEM: issuer.publicKeyPem,
      AGENT_HEARTBEAT_WINDOW_SECONDS: String(options.heartbeatWindowSeconds ?? 660),
      RELAY_REPLY_TIMEOUT_MS: String(options.replyTimeoutMs ?? 30_000),
      RELAY_MESSAGE_TTL_SECONDS: String(options.messageTtlSeconds ?? 120),
      RATE_LIMIT_MAX_OPERATIONS: String(options.rateLimitMaxOperations ?? 5),
    };
    const config = loadConfig(env);
    const logger = jsonLogger((line) => {
      keep(line);
    });
    const built = await buildServices(config, logger, keyVault.credential(), {
      stores: inMemory ? createMemoryStores({ maxOperations: config.RATE_LIMIT_MAX_OPERATIONS, windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS }) : undefined,
    });
    cleanups.push(() => built.close());
    useServices(built.services);
    await built.relay.start();
    const functions = await loadFunctions();
    const triggerClient = createServiceBusClient({ connectionString: env.SERVICEBUS_CONNECTION_STRING ?? "" });
    cleanups.push(() => triggerClient.close());
    const adminToken = await issuer.mint({ tenantId: DEMO_TENANT_ID, roles: ["Writeback.Admin"], lifetimeSeconds: 12 * 3600, subject: "demo-admin" });
    const operateToken = await issuer.mint({ tenantId: DEMO_TENANT_ID, roles: ["Writeback.Operate"], lifetimeSeconds: 12 * 3600, subject: "demo-portal" });
    const runner = await startLocalRunner({
      functions,
      port: apiPort,
      settings: env,
      queueTriggers: serviceBusQueueTriggers(triggerClient),
      log: (line) => keep(`${line}\n`),
      fallback: staticFiles(join(ROOT, "dev", "portal"), {
        "config.json": () => ({
          apiBase: `http://127.0.0.1:${apiPort}/api`,
          tenantId: DEMO_TENANT_ID,
          operateToken,
          users: DEMO_USERS.map(userRef),
        }),
        "messages.json": () => Object.fromEntries(Object.entries(ERROR_CATALOG).map(([code, e]) => [code, { userMessage: e.userMessage }])),
      }),
    });
    cleanups.push(() => runner.close());
    say(`Function app serving ${runner.url}`);

    // The agent: its own process, files and Service Bus rule, like an on-premises install.
    const agentDir = join(state, "agent");
    mkdirSync(agentDir, { recursive: true });
    let directoryConfig: unknown = { kind: "embedded", seedFile: "directory-seed.json", ...(options.agentWriteLatencyMs === undefined ? {} : { writeLatencyMs: options.agentWriteLatencyMs }) };
    let directoryEnv: Record<string, string> = {};
    let directoryInfo: LocalStackHandle["directory"] = { kind: "embedded", domain: DEMO_DOMAIN };
    let syncObjects = demoSyncObjects(extraUsers);
    if (samba === undefined) {
      writeFileSync(join(agentDir, "directory-seed.json"), JSON.stringify(demoDirectorySeed(extraUsers), null, 2), { mode: 0o600 });
    } else {
      const s = await samba;
      const agentDirectory = s.agentDirectory(join(agentDir, "samba-ca.pem"));
      directoryConfig = agentDirectory.config;
      directoryEnv = agentDirectory.env;
      syncObjects = demoSyncObjects(extraUsers, { domain: s.dc.domain, accounts: s.accounts });
      directoryInfo = { kind: "samba", domain: s.dc.domain, url: s.dc.url, caFile: join(agentDir, "samba-ca.pem"), servername: s.dc.servername, bindDn: s.dc.bindDn, usersOu: s.dc.usersOu, provisioned: s.own, accounts: s.accounts };
      say(`Samba AD DC ${s.dc.domain} ${s.own ? "started" : "in use"} at ${s.dc.url}; demo users in ${s.dc.usersOu}`);
    }
    // Seeded afresh each start: objects of an earlier start (another directory's anchors) would
    // join the same metaverse objects and make every lookup ambiguous.
    rmSync(join(agentDir, "sync-store.json"), { force: true });
    const sync = await FileSyncStore.open(join(agentDir, "sync-store.json"));
    await sync.upsert(syncObjects);
    await sync.close();
    const agentConfigFile = join(agentDir, "agent.json");
    writeFileSync(
      agentConfigFile,
      JSON.stringify(
        {
          tenantId: DEMO_TENANT_ID,
          agentId: "demo-agent",
          backendUrl: runner.url,
          serviceBus: {},
          keys: { privateKeyFile: "agent-private-key.pem", stateFile: "agent-keys.json" },
          heartbeatIntervalSeconds: options.heartbeatIntervalSeconds ?? 300,
          ...(options.agentConcurrency === undefined ? {} : { maxConcurrentRequests: options.agentConcurrency }),
          directory: directoryConfig,
          syncStore: { file: "sync-store.json" },
        },
        null,
        2,
      ),
    );
    // The agent gets what an on-premises install would have: not the test run's own credentials.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("WRITEBACK_TEST_")));
    const agentEnv = { ...inherited, ...directoryEnv, WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING: `Endpoint=sb://127.0.0.1:${serviceBus.port};SharedAccessKeyName=${agentRule};SharedAccessKey=${agentKey};UseDevelopmentEmulator=true` };
    await registerAgent({ tenantId: DEMO_TENANT_ID, agentId: "demo-agent", backendUrl: runner.url, adminToken, privateKeyFile: join(agentDir, "agent-private-key.pem"), backendKeyFile: join(agentDir, "backend-signing-key.json"), force: true });

    let agent: ChildProcess | undefined;
    // The agent writes its log to a file, as an installed one does: no pipe for this process to
    // drain (under load that was a read and a wake-up of the function app per agent turn).
    const agentLogFile = join(agentDir, "agent.log");
    writeFileSync(agentLogFile, ""); // this stack's agent only; restarts below append
    const agentOutput = () => readFileSync(agentLogFile, "utf8");
    const startAgentProcess = async () => {
      // Where this process's lines begin: a restarted agent is up once it says so itself (its
      // receiver attached), not when a heartbeat of the process before it arrives late.
      const logStart = statSync(agentLogFile).size;
      const log = openSync(agentLogFile, "a");
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [...(options.agentNodeArgs ?? []), "--import", "tsx", join(ROOT, "agent", "main.ts"), "run", "--config", agentConfigFile], { cwd: ROOT, env: agentEnv, stdio: ["ignore", log, log] });
      } finally {
        closeSync(log); // the child has its own copy of the descriptor
      }
      agent = child;
      // Online once its heartbeat is recorded.
      const statusUrl = `${runner.url}/v1/tenants/${DEMO_TENANT_ID}/writeback`;
      const since = Date.now();
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`agent exited: ${agentOutput().slice(-2000)}`);
          const r = await fetch(statusUrl, { headers: { Authorization: `Bearer ${adminToken}` } });
          const s = (await r.json()) as { agent?: { status?: string; lastHeartbeatAt?: string | null } };
          return s.agent?.status === "online" && Date.parse(s.agent.lastHeartbeatAt ?? "") >= since - 1000 && readFileSync(agentLogFile).subarray(logStart).includes('"agent running"');
        },
        30_000,
        "the agent's first heartbeat",
      );
    };
    await startAgentProcess();
    cleanups.push(async () => {
      if (agent !== undefined) await stopChild(agent);
    });
    say(directoryInfo.kind === "samba" ? `Agent running (Samba AD ${directoryInfo.domain} over LDAPS, demo users)` : "Agent running (embedded directory, demo users)");

    const enable = await fetch(`${runner.url}/v1/tenants/${DEMO_TENANT_ID}/writeback`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ enabled: true, allowUnlockWithoutReset: false }),
    });
    if (!enable.ok) throw new Error(`enabling the demo tenant failed: ${await enable.text()}`);
    say("Demo tenant enabled; package key delivered and acknowledged");

    return {
      apiBase: runner.url,
      portalUrl: `http://127.0.0.1:${apiPort}/portal/`,
      tenantId: DEMO_TENANT_ID,
      directory: directoryInfo,
      adminToken,
      operateToken,
      mintToken: (claims) => issuer.mint(claims),
      agent: {
        async kill() {
          if (agent !== undefined && agent.exitCode === null) {
            const exited = new Promise((r) => agent?.once("exit", r));
            agent.kill("SIGKILL");
            await exited;
          }
        },
        start: startAgentProcess,
        running: () => agent !== undefined && agent.exitCode === null && agent.signalCode === null,
        output: agentOutput,
        logFile: agentLogFile,
        pid: () => (agent !== undefined && agent.exitCode === null ? agent.pid : undefined),
      },
      metrics: async () => ({ keyVaultGets: Object.values(keyVault.stats().gets).reduce((a, b) => a + b, 0), tableCalls: tableCallCount(), tableRounds: tableRoundCount(), serviceBus: { ...(await serviceBus.stats()) } }),
      functionLogs: () => logs.join(""),
      async auditRows() {
        const rows = await built.services.audit.list(DEMO_TENANT_ID, 1000);
        return rows.map((r) => ({ ...r }));
      },
      faults: {
        restartServiceBus: () => serviceBus.restart(),
        restartAzurite: async () => {
          if (azurite === undefined) throw new Error("this stack keeps its tables in memory: there is no Azurite to restart");
          await azurite.restart();
        },
      },
      inside: { serviceBusConnectionString: env.SERVICEBUS_CONNECTION_STRING ?? "", keyRing: built.services.keyRing },
      settings: { heartbeatWindowSeconds: config.AGENT_HEARTBEAT_WINDOW_SECONDS, replyTimeoutMs: config.RELAY_REPLY_TIMEOUT_MS, messageTtlSeconds: config.RELAY_MESSAGE_TTL_SECONDS },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
