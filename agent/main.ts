// The on-premises agent's command line: register, run, status, check.
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../shared/adapters/servicebus/queue-names.js";
import { AgentConfigError, loadAgentConfig } from "./config/agent-config.js";
import { checkAgent } from "./commands/check.js";
import { registerAgent, RegisterError } from "./commands/register.js";
import { AgentKeyStore } from "./core/agent-key-store.js";
import { HeartbeatBuilder } from "./core/heartbeat-builder.js";
import { jsonLinesLogger, redactingLogger } from "./core/redacting-logger.js";
import { coalescingWriter } from "../shared/adapters/logging/coalescing-writer.js";
import { createDirectory } from "./directory/create-directory.js";
import { FileSyncStore } from "./sync/file-sync-store.js";
import { AgentRelayTransport } from "./transport/relay-transport.js";
import { startAgent } from "./runtime.js";
import { AGENT_VERSION } from "./version.js";

const USAGE = `agent — password writeback on-premises agent

  agent register --config <file> [--backend <api base URL>] [--token <admin token>] [--force]
  agent run      --config <file>
  agent status   --config <file>
  agent check    --config <file>

Secrets come from the environment: WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING,
WRITEBACK_AGENT_KEY_PASSPHRASE, WRITEBACK_AGENT_BIND_PASSWORD_<DOMAIN>, WRITEBACK_ADMIN_TOKEN.`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: "string" }, backend: { type: "string" }, token: { type: "string" }, force: { type: "boolean", default: false } },
  });
  const command = positionals[0];
  if (command === undefined || values.config === undefined) {
    console.error(USAGE);
    return 2;
  }
  const config = loadAgentConfig(resolve(values.config));
  const stdout = coalescingWriter((chunk) => process.stdout.write(chunk));
  const logger = redactingLogger(jsonLinesLogger((line) => stdout.write(line.endsWith("\n") ? line : `${line}\n`), { agentId: config.agentId }));

  switch (command) {
    case "register": {
      const backendUrl = values.backend ?? config.backendUrl;
      const adminToken = values.token ?? process.env.WRITEBACK_ADMIN_TOKEN;
      if (backendUrl === undefined || adminToken === undefined) {
        console.error("register needs --backend (or backendUrl in the config) and --token (or WRITEBACK_ADMIN_TOKEN)");
        return 2;
      }
      const r = await registerAgent({ tenantId: config.tenantId, agentId: config.agentId, backendUrl, adminToken, privateKeyFile: config.keys.privateKeyFile, passphrase: config.keys.passphrase, force: values.force === true });
      console.log(`Registered. Private key: ${r.privateKeyFile} (mode 0600). Package key delivery: ${r.keyDelivery}.`);
      return 0;
    }
    case "run": {
      const agent = await startAgent(config, { logger });
      await new Promise<void>((done) => {
        for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => done());
      });
      await agent.stop();
      return 0;
    }
    case "status": {
      const keys = await AgentKeyStore.open({ privateKeyFile: config.keys.privateKeyFile, stateFile: config.keys.stateFile, ...(config.keys.passphrase === undefined ? {} : { passphrase: config.keys.passphrase }) });
      const sync = await FileSyncStore.open(config.syncStore.file);
      console.log(
        JSON.stringify(
          {
            agentVersion: AGENT_VERSION,
            tenantId: config.tenantId,
            agentId: config.agentId,
            queue: config.serviceBus.tenantQueue ?? tenantQueueName(config.tenantId),
            keyState: keys.stateStatus,
            packageKeyVersions: keys.heldVersions(new Date()),
            currentKeyVersion: keys.currentVersion() ?? null,
            syncStoreObjects: sync.size,
            directory: config.directory.kind === "embedded" ? "embedded" : config.directory.domains.map((d) => d.domain),
            heartbeatIntervalSeconds: config.heartbeatIntervalSeconds,
          },
          null,
          2,
        ),
      );
      await sync.close();
      return 0;
    }
    case "check": {
      if (config.serviceBus.connectionString === undefined) {
        console.error("check needs serviceBus.connectionString or WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING");
        return 2;
      }
      const keys = await AgentKeyStore.open({ privateKeyFile: config.keys.privateKeyFile, stateFile: config.keys.stateFile, ...(config.keys.passphrase === undefined ? {} : { passphrase: config.keys.passphrase }) });
      const directory = await createDirectory(config.directory, { logger });
      const client = createServiceBusClient({ connectionString: config.serviceBus.connectionString });
      const transport = new AgentRelayTransport({ client, tenantId: config.tenantId, tenantQueue: tenantQueueName(config.tenantId), eventsQueue: config.serviceBus.eventsQueue, maxConcurrentRequests: 1, logger });
      const heartbeat = new HeartbeatBuilder({ tenantId: config.tenantId, agentId: config.agentId, agentVersion: AGENT_VERSION, directory, keys });
      const lines = await checkAgent({ client, tenantQueue: config.serviceBus.tenantQueue ?? tenantQueueName(config.tenantId), directory, sendTestEvent: async () => transport.sendEvent(await heartbeat.encode()) });
      for (const l of lines) console.log(`${l.ok ? "ok  " : "FAIL"} ${l.check}: ${l.detail}`);
      await transport.close();
      await client.close();
      await directory.close();
      return lines.every((l) => l.ok) ? 0 : 1;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof AgentConfigError || e instanceof RegisterError) console.error(e.message);
    else console.error(`agent failed: ${e instanceof Error ? e.name : "error"}`);
    process.exit(1);
  },
);
