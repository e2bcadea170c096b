import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "@azure/functions";
import { AgentKeyStore } from "../../agent/core/agent-key-store.js";
import { BackendTrust, type PinnedSigningKey } from "../../agent/core/backend-trust.js";
import { HeartbeatBuilder } from "../../agent/core/heartbeat-builder.js";
import { RequestProcessor } from "../../agent/core/request-processor.js";
import { directoryFromSeed } from "../../agent/directory/embedded/seed.js";
import type { EmbeddedDirectory } from "../../agent/directory/embedded/embedded-directory.js";
import { FileSyncStore } from "../../agent/sync/file-sync-store.js";
import type { MemoryAuditLog } from "../../shared/adapters/memory/memory-audit-log.js";
import { createMemoryStores } from "../../shared/adapters/memory/create-memory-stores.js";
import { MemoryTenantKeyRing } from "../../shared/adapters/memory/memory-tenant-key-ring.js";
import { AgentEvents } from "../../shared/app/agent-events.js";
import { createReplyOpener } from "../../shared/app/reply-opener.js";
import type { WritebackServices } from "../../shared/app/services.js";
import { TenantAdmin } from "../../shared/app/tenant-admin.js";
import { useServices } from "../../shared/composition/services.js";
import { demoDirectorySeed, demoSyncObjects } from "../../dev/demo-tenant.js";
import { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER, type DevTokenIssuer } from "../../dev/dev-token-issuer.js";
import { createTokenVerifier } from "../../shared/http/auth.js";
import type { HttpHandler } from "../../shared/http/pipeline.js";
import type { Logger } from "../../shared/ports/logger.port.js";
import type { PasswordReply } from "../../shared/protocol/envelope.js";
import { InProcessRelay } from "./in-process-relay.js";

const { HttpRequest, InvocationContext } = pkg;

export interface InMemoryStack {
  tenantId: string;
  services: WritebackServices;
  directory: EmbeddedDirectory;
  processor: RequestProcessor;
  /** The agent's key store (its RSA key signs its events). */
  agentKeys: AgentKeyStore;
  /** The agent's pinned backend signing key. */
  trust: BackendTrust;
  relay: InProcessRelay<PasswordReply>;
  issuer: DevTokenIssuer;
  operateToken: string;
  adminToken: string;
  logs: string[];
  audit: MemoryAuditLog;
  /** Sends the agent's heartbeat through the agent-events use case. */
  heartbeat(): Promise<void>;
  /** Drives a registered handler through a real HttpRequest. */
  call(handler: HttpHandler, init: { method: string; path: string; body?: unknown; rawBody?: string; token?: string | null; params?: Record<string, string>; headers?: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string; message: string; fields?: string[]; reason?: string; requestId: string } }; headers: Record<string, string> }>;
}

/** The whole cloud path in one process: real handlers, use cases, envelope, agent core and embedded directory; memory stores; no Service Bus. */
export async function startInMemoryStack(options: { rateLimitMax?: number; heartbeatWindowSeconds?: number; agentVersion?: string } = {}): Promise<InMemoryStack> {
  const tenantId = randomUUID();
  const logs: string[] = [];
  const logger: Logger = {
    info: (m, f) => logs.push(JSON.stringify({ m, ...f })),
    warn: (m, f) => logs.push(JSON.stringify({ m, ...f })),
    error: (m, f) => logs.push(JSON.stringify({ m, ...f })),
  };
  const issuer = createDevTokenIssuer();
  const keyRing = new MemoryTenantKeyRing();
  const stores = createMemoryStores({ maxOperations: options.rateLimitMax ?? 5, windowSeconds: 3600 });
  const audit = stores.audit;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const agentKeys = await AgentKeyStore.fromPrivateKey(privateKey);
  const directory = directoryFromSeed(demoDirectorySeed());
  const syncStore = await FileSyncStore.open(join(mkdtempSync(join(tmpdir(), "wb-sync-")), "sync.json"));
  await syncStore.upsert(demoSyncObjects());
  // Built once registration has handed out the backend signing key the agent pins.
  // eslint-disable-next-line prefer-const -- assigned below, after the relay whose callback uses it
  let processor: RequestProcessor | undefined;
  const relay = new InProcessRelay<PasswordReply>(async (request) => (await processor!.handle({ body: request.body, tenantId: request.tenantId })).reply, createReplyOpener(keyRing));
  const services: WritebackServices = {
    ...stores,
    keyRing,
    relay,
    clock: { now: () => new Date() },
    logger,
    verifyToken: createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, publicKeyPem: issuer.publicKeyPem }),
    policy: { heartbeatWindowSeconds: options.heartbeatWindowSeconds ?? 660, replyTimeoutMs: 2000, messageTtlSeconds: 120, keyRotationMonths: 6 },
  };
  useServices(services);
  const admin = new TenantAdmin(services);
  const registration = await admin.registerAgent(tenantId, publicKey.export({ type: "spki", format: "pem" }).toString());
  const trust = BackendTrust.fromPinned(tenantId, registration.backendSigningKey as PinnedSigningKey);
  processor = new RequestProcessor({ tenantId, agentId: "unit-agent", agentVersion: "test", keys: agentKeys, trust, directory, syncStore, locator: directory, logger });
  const heartbeatBuilder = new HeartbeatBuilder({ tenantId, agentId: "unit-agent", agentVersion: options.agentVersion ?? "test", directory, keys: agentKeys, trust });
  const heartbeat = async () => {
    const outcome = await new AgentEvents(services).handle(await heartbeatBuilder.encode());
    if (!outcome.accepted) throw new Error(`heartbeat refused: ${outcome.reason}`);
  };
  await heartbeat();
  await admin.updateSettings(tenantId, { enabled: true, allowUnlockWithoutReset: false });
  const operateToken = await issuer.mint({ tenantId, roles: ["Writeback.Operate"] });
  const adminToken = await issuer.mint({ tenantId, roles: ["Writeback.Admin"] });

  return {
    tenantId,
    services,
    directory,
    processor,
    trust,
    agentKeys,
    relay,
    issuer,
    operateToken,
    adminToken,
    logs,
    audit,
    heartbeat,
    async call(handler, init) {
      const headers: Record<string, string> = { ...init.headers };
      const token = init.token === undefined ? operateToken : init.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: { string: string } | undefined;
      if (init.rawBody !== undefined || init.body !== undefined) {
        headers["content-type"] ??= "application/json";
        body = { string: init.rawBody ?? JSON.stringify(init.body) };
      }
      const request = new HttpRequest({ method: init.method, url: `http://127.0.0.1:7071/api${init.path}`, headers, params: { tenantId, ...init.params }, ...(body === undefined ? {} : { body }) });
      // The invocation's logger, as under the host: its lines are this stack's log lines too.
      const logHandler = (level: string, ...args: unknown[]) => logs.push(`${level} ${args.map(String).join(" ")}`);
      const result = await handler(request, new InvocationContext({ functionName: "test", invocationId: randomUUID(), logHandler }));
      return { status: result.status, body: (result.jsonBody ?? {}) as never, headers: result.headers ?? {} };
    },
  };
}
