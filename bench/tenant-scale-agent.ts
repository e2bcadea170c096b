/**
 * The agents of many tenants in one process, for the tenant-scale level: per tenant the real
 * agent transport on its own queue, its own package key, agent key store, embedded directory
 * and sync store, and the real RequestProcessor. One Service Bus connection carries them all
 * (on-premises, each agent would have its own). Run by measure-tenant-scale.ts; told the
 * tenants over IPC, it answers "ready" once every receiver is attached.
 */
import { createPrivateKey } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentKeyStore } from "../agent/core/agent-key-store.js";
import { RequestProcessor } from "../agent/core/request-processor.js";
import { directoryFromSeed } from "../agent/directory/embedded/seed.js";
import { FileSyncStore } from "../agent/sync/file-sync-store.js";
import { AgentRelayTransport } from "../agent/transport/relay-transport.js";
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../shared/adapters/servicebus/queue-names.js";
import { demoDirectorySeed, demoSyncObjects, loadUsers } from "../dev/demo-tenant.js";
import { silentLogger } from "../shared/ports/logger.port.js";
import { BackendTrust } from "../agent/core/backend-trust.js";
import { generateSigningKey, signingKeyId } from "../shared/protocol/control-signature.js";

export interface TenantAgentSpec {
  tenantId: string;
  privateKeyPem: string;
  packageKeyBase64: string;
}

interface Setup {
  connectionString: string;
  users: number;
  tenants: TenantAgentSpec[];
}

const transports: AgentRelayTransport[] = [];
process.once("message", (setup: Setup) => {
  void (async () => {
    const client = createServiceBusClient({ connectionString: setup.connectionString });
    const users = loadUsers(setup.users);
    const seed = demoDirectorySeed(users);
    const sync = demoSyncObjects(users);
    const dir = mkdtempSync(join(tmpdir(), "wb-tenant-scale-"));
    const privateKeys = new Map<string, ReturnType<typeof createPrivateKey>>();
    for (const [i, t] of setup.tenants.entries()) {
      let privateKey = privateKeys.get(t.privateKeyPem);
      if (privateKey === undefined) privateKeys.set(t.privateKeyPem, (privateKey = createPrivateKey(t.privateKeyPem)));
      const keys = await AgentKeyStore.fromPrivateKey(privateKey);
      await keys.install(1, Buffer.from(t.packageKeyBase64, "base64"));
      const syncStore = await FileSyncStore.open(join(dir, `sync-${i}.json`));
      await syncStore.upsert(sync);
      // Keys are installed directly and no control message is sent here: a pin of a key nobody uses.
      const { publicKeyRaw } = generateSigningKey();
      const trust = BackendTrust.fromPinned(t.tenantId, { algorithm: "Ed25519", keyId: signingKeyId(publicKeyRaw).toString("hex"), publicKey: publicKeyRaw.toString("base64") });
      const processor = new RequestProcessor({ tenantId: t.tenantId, agentId: `agent-${i}`, agentVersion: "bench", keys, trust, directory: directoryFromSeed(seed), syncStore, logger: silentLogger });
      const transport = new AgentRelayTransport({ client, tenantId: t.tenantId, tenantQueue: tenantQueueName(t.tenantId), eventsQueue: "agent-events", maxConcurrentRequests: 8, logger: silentLogger });
      transport.start(async (m) => {
        const result = await processor.handle({ body: m.body, ...(m.enqueuedAt === undefined ? {} : { enqueuedAt: m.enqueuedAt }), ...(m.claimedTenant === undefined ? {} : { tenantId: m.claimedTenant }) });
        return result.verdict === "rejected" ? { deadLetterReason: result.rejection ?? "rejected" } : { reply: result.reply };
      });
      transports.push(transport);
    }
    process.send?.("ready");
  })().catch((e: unknown) => {
    console.error("tenant-scale agent failed:", e);
    process.exit(1);
  });
});
process.on("disconnect", () => void Promise.all(transports.map((t) => t.close(1000))).finally(() => process.exit(0)));
