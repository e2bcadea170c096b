#!/usr/bin/env node
// The on-premises agent's entry point: `agent <command> --config <file>` (see cli.ts, `agent --help`).
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../shared/adapters/servicebus/queue-names.js";
import { coalescingWriter } from "../shared/adapters/logging/coalescing-writer.js";
import type { Logger } from "../shared/ports/logger.port.js";
import { EXIT, runAgentCli, type CliIo, type CommandHandlers } from "./cli.js";
import type { AgentConfig } from "./config/agent-config.js";
import { checkAgent } from "./commands/check.js";
import { pinBackendKey, registerAgent } from "./commands/register.js";
import { syncCommand } from "./commands/sync.js";
import { BackendTrust, BackendTrustError } from "./core/backend-trust.js";
import { AgentKeyStore } from "./core/agent-key-store.js";
import { HeartbeatBuilder } from "./core/heartbeat-builder.js";
import { jsonLinesLogger, redactingLogger } from "./core/redacting-logger.js";
import { createDirectory } from "./directory/create-directory.js";
import { RotatingLogFile } from "./logging/rotating-log-file.js";
import { FileSyncStore } from "./sync/file-sync-store.js";
import { AgentRelayTransport } from "./transport/relay-transport.js";
import { backendKeyFile, startAgent } from "./runtime.js";
import { AGENT_VERSION } from "./version.js";

const io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env };

/** JSON lines to a size-rotated file (log.file or --log-file), else to stdout (the journal under systemd). */
function agentLogger(config: AgentConfig, logFile: string | undefined): { logger: Logger; close(): void } {
  const file = logFile ?? config.log.file;
  const rotating = file === undefined ? undefined : new RotatingLogFile({ file, maxBytes: config.log.maxBytes, maxFiles: config.log.maxFiles });
  const writer = coalescingWriter(rotating === undefined ? (chunk) => process.stdout.write(chunk) : (chunk) => rotating.write(chunk));
  const logger = redactingLogger(jsonLinesLogger((line) => writer.write(line), { agentId: config.agentId }));
  return {
    logger,
    close: () => {
      writer.flush();
      rotating?.close();
    },
  };
}

/** The first line of stdin, at most 16 KiB; undefined when empty. */
async function readTokenFromStdin(): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > 16 * 1024) break;
  }
  const token = Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0]?.trim();
  return token === undefined || token === "" ? undefined : token;
}

function openKeys(config: AgentConfig): Promise<AgentKeyStore> {
  return AgentKeyStore.open({ privateKeyFile: config.keys.privateKeyFile, stateFile: config.keys.stateFile, ...(config.keys.passphrase === undefined ? {} : { passphrase: config.keys.passphrase }) });
}

const handlers: CommandHandlers = {
  async register(config, o) {
    const backendUrl = o.backend ?? config.backendUrl;
    if (o.token !== undefined) io.err("warning: --token shows the admin token in the process list and shell history; prefer WRITEBACK_ADMIN_TOKEN or piping it on stdin\n");
    // The flag, else the environment, else stdin when it is piped (`printf %s "$TOKEN" | … register`).
    const adminToken = o.token ?? process.env.WRITEBACK_ADMIN_TOKEN ?? (process.stdin.isTTY ? undefined : await readTokenFromStdin());
    if (backendUrl === undefined || adminToken === undefined) {
      io.err("register needs --backend (or backendUrl in the configuration) and an admin token (WRITEBACK_ADMIN_TOKEN, or piped on stdin)\n");
      return EXIT.usage;
    }
    const r = await registerAgent({ tenantId: config.tenantId, agentId: config.agentId, backendUrl, adminToken, privateKeyFile: config.keys.privateKeyFile, passphrase: config.keys.passphrase, backendKeyFile: backendKeyFile(config), force: o.force });
    io.out(`Registered. Private key: ${r.privateKeyFile} (mode 0600). Backend signing key pinned: ${r.backendKeyId}. Package key delivery: ${r.keyDelivery}.\n`);
    return EXIT.ok;
  },

  async pinBackendKey(config, o) {
    const backendUrl = o.backend ?? config.backendUrl;
    const adminToken = o.token ?? process.env.WRITEBACK_ADMIN_TOKEN;
    if (backendUrl === undefined || adminToken === undefined) {
      io.err("pin-backend-key needs --backend (or backendUrl in the configuration) and an admin token (WRITEBACK_ADMIN_TOKEN or --token)\n");
      return EXIT.usage;
    }
    const r = await pinBackendKey({ tenantId: config.tenantId, agentId: config.agentId, backendUrl, adminToken, privateKeyFile: config.keys.privateKeyFile, passphrase: config.keys.passphrase, backendKeyFile: backendKeyFile(config), expectKeyId: o.expectKeyId });
    io.out(`Backend signing key pinned: ${r.backendKeyId}. Restart the agent to use it.\n`);
    return EXIT.ok;
  },

  async run(config, o) {
    const log = agentLogger(config, o.logFile);
    const agent = await startAgent(config, { logger: log.logger });
    // Graceful stop: take no new request, finish those in hand (reply sent, message settled),
    // give back those not begun. A second signal stops at once.
    const signal = await new Promise<NodeJS.Signals>((done) => {
      for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => done(s));
    });
    log.logger.info("stopping: draining requests in hand", { signal });
    for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => process.exit(EXIT.failed));
    await agent.stop();
    log.logger.info("agent stopped");
    log.close();
    return EXIT.ok;
  },

  async status(config) {
    const keys = await openKeys(config);
    const sync = await FileSyncStore.open(config.syncStore.file);
    io.out(
      `${JSON.stringify(
        {
          agentVersion: AGENT_VERSION,
          tenantId: config.tenantId,
          agentId: config.agentId,
          queue: config.serviceBus.tenantQueue ?? tenantQueueName(config.tenantId),
          keyState: keys.stateStatus,
          packageKeyVersions: keys.heldVersions(new Date()),
          currentKeyVersion: keys.currentVersion() ?? null,
          backendSigningKeyId: await BackendTrust.open(backendKeyFile(config), config.tenantId).then((t) => t.keyId, (e: unknown) => (e instanceof BackendTrustError ? e.code : "unreadable")),
          syncStoreObjects: sync.size,
          directory: config.directory.kind === "embedded" ? "embedded" : config.directory.domains.map((d) => d.domain),
          heartbeatIntervalSeconds: config.heartbeatIntervalSeconds,
        },
        null,
        2,
      )}\n`,
    );
    await sync.close();
    return EXIT.ok;
  },

  async check(config, o) {
    if (config.serviceBus.connectionString === undefined) {
      io.err("check needs serviceBus.connectionString or WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING\n");
      return EXIT.usage;
    }
    const log = agentLogger(config, undefined);
    const keys = await openKeys(config);
    const directory = await createDirectory(config.directory, { logger: log.logger });
    const client = createServiceBusClient({ connectionString: config.serviceBus.connectionString });
    const transport = new AgentRelayTransport({ client, tenantId: config.tenantId, tenantQueue: tenantQueueName(config.tenantId), eventsQueue: config.serviceBus.eventsQueue, maxConcurrentRequests: 1, logger: log.logger });
    const trust = await BackendTrust.open(backendKeyFile(config), config.tenantId);
    const heartbeat = new HeartbeatBuilder({ tenantId: config.tenantId, agentId: config.agentId, agentVersion: AGENT_VERSION, directory, keys, trust });
    const sampleDn = (domain: string) => o.sample ?? (config.directory.kind === "ldap" ? config.directory.domains.find((d) => d.domain.toLowerCase() === domain)?.sampleDn : undefined);
    const lines = await checkAgent({ client, tenantQueue: config.serviceBus.tenantQueue ?? tenantQueueName(config.tenantId), directory, sampleDn, sendTestEvent: async () => transport.sendEvent(await heartbeat.encode()) });
    for (const l of lines) io.out(`${l.ok ? "ok  " : "FAIL"} ${l.check}: ${l.detail}\n`);
    await transport.close();
    await client.close();
    await directory.close();
    log.close();
    return lines.every((l) => l.ok) ? EXIT.ok : EXIT.failed;
  },

  async sync(config, o) {
    if (o.import.length === 0 && !o.directory) {
      io.err("sync: nothing to do (give --import, or read AD)\n");
      return EXIT.usage;
    }
    // Log lines (warnings) to stderr; progress to stderr; the summary to stdout.
    const logger = redactingLogger(jsonLinesLogger((line) => process.stderr.write(line), { agentId: config.agentId }));
    await syncCommand({ config, imports: o.import, format: o.format, directory: o.directory, dryRun: o.dryRun, logger, progress: (l) => io.err(`${l}\n`), out: (l) => io.out(`${l}\n`) });
    return EXIT.ok;
  },
};

runAgentCli(process.argv.slice(2), io, handlers).then(
  (code) => process.exit(code),
  () => process.exit(EXIT.failed),
);
