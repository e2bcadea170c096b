import { dirname, join } from "node:path";
import type { ServiceBusClient } from "@azure/service-bus";
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../shared/adapters/servicebus/queue-names.js";
import type { Logger } from "../shared/ports/logger.port.js";
import type { AgentConfig } from "./config/agent-config.js";
import { signAgentEvent } from "./core/agent-events.js";
import { AgentKeyStore } from "./core/agent-key-store.js";
import { BackendTrust } from "./core/backend-trust.js";
import { CloudClock } from "./core/cloud-clock.js";
import { HeartbeatBuilder } from "./core/heartbeat-builder.js";
import { RequestProcessor } from "./core/request-processor.js";
import type { DirectoryService } from "./directory/directory.port.js";
import { createDirectory } from "./directory/create-directory.js";
import { FileSyncStore } from "./sync/file-sync-store.js";
import type { SourceAnchorLocator } from "./sync/directory-source.port.js";
import { DirectorySync, type SyncReport } from "./sync/directory-sync.js";
import { isDirectorySource } from "./commands/sync.js";
import { AgentRelayTransport } from "./transport/relay-transport.js";
import { AGENT_VERSION } from "./version.js";
import { errorCode } from "../shared/errors/error-code.js";

function isSourceAnchorLocator(d: DirectoryService): d is DirectoryService & SourceAnchorLocator {
  return typeof (d as Partial<SourceAnchorLocator>).findBySourceAnchor === "function";
}

export function backendKeyFile(config: AgentConfig): string {
  return config.keys.backendKeyFile ?? join(dirname(config.keys.privateKeyFile), "backend-signing-key.json");
}

export interface RunningAgent {
  processor: RequestProcessor;
  directory: DirectoryService;
  keys: AgentKeyStore;
  sendHeartbeat(): Promise<void>;
  /** One refresh of the sync store from AD now (what the timer does); undefined when the directory cannot be listed. */
  refreshSyncStore(): Promise<SyncReport | undefined>;
  stop(): Promise<void>;
}

export interface StartAgentOptions {
  logger: Logger;
  /** Use this directory instead of building one from the configuration (tests, local stack). */
  directory?: DirectoryService;
  serviceBusClient?: ServiceBusClient;
}

/**
 * `agent run`: listens on the tenant's queue, answers each request, and sends a signed
 * heartbeat at start and every heartbeatIntervalSeconds. Outbound connections only.
 */
export async function startAgent(config: AgentConfig, options: StartAgentOptions): Promise<RunningAgent> {
  const { logger } = options;
  if (config.serviceBus.connectionString === undefined && options.serviceBusClient === undefined) {
    throw new Error("serviceBus.connectionString (or WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING) is required to run");
  }
  // Without a pinned backend signing key every control message would be refused: stop here with a clear code.
  const trust = await BackendTrust.open(backendKeyFile(config), config.tenantId);
  const keys = await AgentKeyStore.open({ privateKeyFile: config.keys.privateKeyFile, stateFile: config.keys.stateFile, ...(config.keys.passphrase === undefined ? {} : { passphrase: config.keys.passphrase }) });
  if (keys.stateStatus === "unreadable") logger.warn("key state unreadable (new key pair?): starting without package keys; the backend redelivers on the first heartbeat");
  const directory = options.directory ?? (await createDirectory(config.directory, { logger }));
  const syncStore = await FileSyncStore.open(config.syncStore.file);
  const cloudClock = new CloudClock();
  const identity = { tenantId: config.tenantId, agentId: config.agentId, agentVersion: AGENT_VERSION };
  const locator = isSourceAnchorLocator(directory) ? directory : undefined;
  const processor = new RequestProcessor({ ...identity, keys, trust, directory, syncStore, locator, logger, cloudClock });
  const heartbeat = new HeartbeatBuilder({ ...identity, directory, keys, trust, cloudClock });
  const client = options.serviceBusClient ?? createServiceBusClient({ connectionString: config.serviceBus.connectionString ?? "" });
  const transport = new AgentRelayTransport({
    client,
    tenantId: config.tenantId,
    tenantQueue: config.serviceBus.tenantQueue ?? tenantQueueName(config.tenantId),
    eventsQueue: config.serviceBus.eventsQueue,
    maxConcurrentRequests: config.maxConcurrentRequests,
    logger,
  });

  transport.start(async (message) => {
    const result = await processor.handle({
      body: message.body,
      ...(message.enqueuedAt === undefined ? {} : { enqueuedAt: message.enqueuedAt }),
      ...(message.claimedTenant === undefined ? {} : { tenantId: message.claimedTenant }),
    });
    if (result.event !== undefined) {
      await transport.sendEvent(signAgentEvent(result.event, keys)).catch(() => logger.warn("acknowledgement event not sent", { requestId: result.requestId }));
    }
    if (result.verdict === "rejected") return { discarded: result.rejection ?? "rejected" };
    if (result.event?.type === "keyAcknowledged" || result.trustUpdated === true) {
      // A fresh key (or signing key) changes what the heartbeat reports: tell the backend at once.
      void sendHeartbeat();
    }
    return { reply: result.reply };
  });

  async function sendHeartbeat(): Promise<void> {
    try {
      await transport.sendEvent(await heartbeat.encode());
    } catch (e) {
      logger.warn("heartbeat not sent", { code: errorCode(e) ?? (e instanceof Error ? e.name : "unknown") });
    }
  }
  await sendHeartbeat();
  const timer = setInterval(() => void sendHeartbeat(), config.heartbeatIntervalSeconds * 1000);

  // New, moved and deleted AD users reach the store without a restart: an incremental read
  // (uSNChanged) every refreshIntervalSeconds, after taking in what `agent sync` wrote.
  const directorySync = isDirectorySource(directory) ? new DirectorySync({ store: syncStore, source: directory, logger }) : undefined;
  async function refreshSyncStore(): Promise<SyncReport | undefined> {
    if (directorySync === undefined) return undefined;
    try {
      if (await syncStore.reloadIfChanged()) logger.info("sync store reloaded: the file was changed by another process", { objects: syncStore.size });
      return await directorySync.refresh();
    } catch (e) {
      logger.warn("sync store refresh failed", { code: (e as { code?: string }).code ?? (e instanceof Error ? e.name : "unknown") });
      return undefined;
    }
  }
  const refreshMs = config.syncStore.refreshIntervalSeconds * 1000;
  const refreshTimer = refreshMs > 0 && directorySync !== undefined ? setInterval(() => void refreshSyncStore(), refreshMs) : undefined;
  if (refreshTimer !== undefined) void refreshSyncStore();
  logger.info("agent running", { tenantId: config.tenantId, agentId: config.agentId, keyVersions: keys.heldVersions(cloudClock.now()).join(",") });

  return {
    processor,
    directory,
    keys,
    sendHeartbeat,
    refreshSyncStore,
    async stop() {
      clearInterval(timer);
      clearInterval(refreshTimer);
      await transport.close();
      if (options.serviceBusClient === undefined) await client.close();
      await syncStore.close();
      if (options.directory === undefined) await directory.close();
    },
  };
}
