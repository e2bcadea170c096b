import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { appCredential, type TokenCredential } from "../adapters/identity/app-credential.js";
import { createKeyVaultTenantKeyRing } from "../adapters/keyvault/create-key-vault-tenant-key-ring.js";
import { createServiceBusClient } from "../adapters/servicebus/connection.js";
import { ServiceBusRelayClient } from "../adapters/servicebus/relay-client.js";
import { CachedAgentHeartbeatStore } from "../adapters/caching/cached-agent-heartbeat-store.js";
import { CachedTenantSettingsStore } from "../adapters/caching/cached-tenant-settings-store.js";
import { createTableStores } from "../adapters/tables/create-table-stores.js";
import { settleLateReply } from "../app/late-replies.js";
import { createReplyOpener, UntrustedReplyError } from "../app/reply-opener.js";
import type { WritebackServices } from "../app/services.js";
import { authTenants, type AppConfig } from "../config/config.js";
import { createTokenVerifier } from "../http/auth.js";
import { CachedTenantKeyRing } from "../keys/cached-tenant-key-ring.js";
import { systemClock } from "../ports/clock.port.js";
import type { KeyVersionAllocator } from "../ports/key-version-allocator.port.js";
import type { Logger } from "../ports/logger.port.js";
import type { Telemetry } from "../ports/telemetry.port.js";
import type { PasswordReply } from "../protocol/envelope.js";

export interface BuiltServices {
  services: WritebackServices;
  /** The relay, for starting its reply receiver early and for its counters. */
  relay: ServiceBusRelayClient<PasswordReply>;
  close(): Promise<void>;
}

/**
 * Wires the Azure-backed adapters from validated settings. Connection strings are used when
 * given (local peers); otherwise the managed identity (DefaultAzureCredential) reaches the
 * storage endpoint, the Service Bus namespace and the vault. `stores` replaces Table storage
 * (the local stack's in-memory mode).
 */
export async function buildServices(
  config: AppConfig,
  logger: Logger,
  credential?: TokenCredential,
  options: { stores?: (Pick<WritebackServices, "settings" | "heartbeats" | "operations" | "rateLimiter" | "ledger" | "audit"> & { keyVersions: KeyVersionAllocator }) | undefined; telemetry?: Telemetry | undefined } = {},
): Promise<BuiltServices> {
  const identity = credential ?? appCredential();
  const { keyVersions, ...stores } = options.stores ?? createTableStores(
    config.TABLES_CONNECTION_STRING !== undefined ? { connectionString: config.TABLES_CONNECTION_STRING } : { endpoint: config.TABLES_ENDPOINT ?? "", credential: identity },
    { maxOperations: config.RATE_LIMIT_MAX_OPERATIONS, windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS },
  );
  const keyRing = new CachedTenantKeyRing(
    createKeyVaultTenantKeyRing({
      vaultUrl: config.KEYVAULT_URL ?? "",
      credential: identity,
      allocator: keyVersions,
      ...(config.KEYVAULT_CA_FILE === undefined ? {} : { caPem: readFileSync(config.KEYVAULT_CA_FILE, "utf8") }),
    }),
    { ttlMs: config.KEY_CACHE_TTL_SECONDS * 1000 },
  );
  const client = createServiceBusClient(
    config.SERVICEBUS_CONNECTION_STRING !== undefined
      ? { connectionString: config.SERVICEBUS_CONNECTION_STRING }
      : { fullyQualifiedNamespace: config.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE ?? "", credential: identity },
  );
  const verifyToken = createTokenVerifier({ issuer: config.AUTH_ISSUER, allowedTenants: authTenants(config.AUTH_TENANTS), audience: config.AUTH_AUDIENCE, jwksUrl: config.AUTH_JWKS_URL, publicKeyPem: config.AUTH_PUBLIC_KEY_PEM, maxTokenLifetimeSeconds: config.AUTH_MAX_TOKEN_LIFETIME_SECONDS });

  // Late replies need the use case, which needs the relay: tie the knot through a holder.
  const holder: { services?: WritebackServices } = {};
  const relay = new ServiceBusRelayClient<PasswordReply>({
    client,
    repliesQueue: config.SERVICEBUS_REPLIES_QUEUE,
    instanceId: `instance-${randomUUID()}`,
    openReply: createReplyOpener(keyRing),
    isUntrusted: (e) => e instanceof UntrustedReplyError,
    logger,
    onLateReply: async (reply, message) => {
      if (holder.services !== undefined) await settleLateReply(holder.services, message.tenantId, reply);
    },
  });
  const services: WritebackServices = {
    ...stores,
    // Short caches for the rows that change rarely; callers state the age they accept.
    settings: new CachedTenantSettingsStore(stores.settings),
    heartbeats: new CachedAgentHeartbeatStore(stores.heartbeats),
    keyRing,
    relay,
    clock: systemClock,
    logger,
    verifyToken,
    telemetry: options.telemetry,
    policy: {
      heartbeatWindowSeconds: config.AGENT_HEARTBEAT_WINDOW_SECONDS,
      replyTimeoutMs: config.RELAY_REPLY_TIMEOUT_MS,
      messageTtlSeconds: config.RELAY_MESSAGE_TTL_SECONDS,
      keyRotationMonths: config.KEY_ROTATION_MONTHS,
    },
  };
  holder.services = services;
  return {
    services,
    relay,
    async close() {
      await relay.close();
      await client.close();
    },
  };
}

/**
 * Azure Monitor (traces and metrics over OpenTelemetry) when APPLICATIONINSIGHTS_CONNECTION_STRING
 * is set, signed in with the app's identity; otherwise none. Registered before any service is
 * built, so the meters below are the SDK's.
 */
export async function startTelemetry(config: AppConfig, logger: Logger, credential?: TokenCredential): Promise<Telemetry | undefined> {
  const connectionString = config.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (connectionString === undefined) return undefined;
  try {
    const [{ startAzureMonitor }, { openTelemetry }] = await Promise.all([import("../adapters/telemetry/azure-monitor.js"), import("../adapters/telemetry/otel-telemetry.js")]);
    await startAzureMonitor(connectionString, credential ?? appCredential());
    return openTelemetry({ heartbeatWindowSeconds: config.AGENT_HEARTBEAT_WINDOW_SECONDS });
  } catch (e) {
    // Telemetry must not take the API down: requests are served without it.
    logger.error("telemetry not started", { cause: e instanceof Error ? e.name : "unknown" });
    return undefined;
  }
}
