/**
 * Faults, each answered with the right code quickly, nothing applied late, recovery without a restart:
 *
 * - Key Vault down (the local Key Vault peer over HTTPS with the real SDK and the production
 *   read cache, behind the real handlers, use cases, envelope and agent core): resets and
 *   prechecks answer 503 KEY_STORE_UNAVAILABLE within seconds, nothing is sent to the agent,
 *   throttling (429) is absorbed by the SDK's retries, and the same services recover once the
 *   vault is back. (The local stack's own Key Vault peer is not reachable from its handle, so
 *   this part composes the cloud side in-process, like test/support/in-memory-stack.ts.)
 * - Clock skew between cloud and agent, on the local stack (agent in its own process, real
 *   Service Bus SDK and peer): the agent's wall clock is shifted by a test-only preload
 *   (test/support/agent-clock-skew.mjs). ±2 minutes is tolerated — the agent takes the cloud's
 *   time from the broker's enqueued time, so with a 15 s message lifetime a +2 min agent would
 *   otherwise refuse everything. Beyond the believed window (CloudClock's 5 minutes) the agent
 *   refuses requests as expired: the caller gets AGENT_TIMEOUT within the reply timeout, the
 *   operation ends "expired" with applied=false, and the agent logged no "request handled".
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, test } from "vitest";
import pkg from "@azure/functions";
import { AgentKeyStore } from "../../agent/core/agent-key-store.js";
import { BackendTrust, type PinnedSigningKey } from "../../agent/core/backend-trust.js";
import { HeartbeatBuilder } from "../../agent/core/heartbeat-builder.js";
import { RequestProcessor } from "../../agent/core/request-processor.js";
import { directoryFromSeed } from "../../agent/directory/embedded/seed.js";
import { FileSyncStore } from "../../agent/sync/file-sync-store.js";
import { startKeyVaultPeer, type KeyVaultPeer } from "../../emulators/keyvault/peer.js";
import { passwordResets } from "../../functions/password-resets.js";
import { precheck } from "../../functions/precheck.js";
import { writebackStatus } from "../../functions/writeback-status.js";
import { MemoryKeyVersionAllocator } from "../../shared/adapters/memory/memory-key-version-allocator.js";
import { createKeyVaultTenantKeyRing } from "../../shared/adapters/keyvault/create-key-vault-tenant-key-ring.js";
import { createMemoryStores } from "../../shared/adapters/memory/create-memory-stores.js";
import { AgentEvents } from "../../shared/app/agent-events.js";
import { createReplyOpener } from "../../shared/app/reply-opener.js";
import type { WritebackServices } from "../../shared/app/services.js";
import { TenantAdmin } from "../../shared/app/tenant-admin.js";
import { useServices } from "../../shared/composition/services.js";
import { DEMO_TENANT_ID, demoDirectorySeed, demoSyncObjects, type DemoUser, demoUser, userRef } from "../../dev/demo-tenant.js";
import { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER } from "../../dev/dev-token-issuer.js";
import type { LocalStackHandle } from "../../dev/local-stack-handle.js";
import { startLocalStack } from "../../dev/local-stack.js";
import { createTokenVerifier } from "../../shared/http/auth.js";
import type { HttpHandler } from "../../shared/http/pipeline.js";
import { CachedTenantKeyRing } from "../../shared/keys/cached-tenant-key-ring.js";
import type { PasswordReply } from "../../shared/protocol/envelope.js";
import { InProcessRelay } from "../support/in-process-relay.js";

const { HttpRequest, InvocationContext } = pkg;
const figures: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (figures.length > 0) console.log(`faults: ${figures.join("; ")}`);
});

const user = demoUser;
const ref = userRef;
const sspr = { kind: "user", channel: "ssprPortal" } as const;
const strong = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}-Aa1!`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Key Vault down", () => {
  test("KEY_STORE_UNAVAILABLE quickly, nothing sent to the agent, 429 absorbed, recovery without a restart", async () => {
    const kv: KeyVaultPeer = await startKeyVaultPeer();
    cleanups.push(() => kv.stop());
    const cacheTtlMs = 300;
    const keyRing = new CachedTenantKeyRing(createKeyVaultTenantKeyRing({ vaultUrl: kv.url, credential: kv.credential(), caPem: kv.caPem, allocator: new MemoryKeyVersionAllocator() }), { ttlMs: cacheTtlMs });
    const tenantId = randomUUID();
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const agentKeys = await AgentKeyStore.fromPrivateKey(privateKey);
    const directory = directoryFromSeed(demoDirectorySeed());
    const syncStore = await FileSyncStore.open(join(mkdtempSync(join(tmpdir(), "wb-faults-")), "sync.json"));
    await syncStore.upsert(demoSyncObjects());
    const logs: string[] = [];
    const logger = { info: (m: string, f?: object) => logs.push(JSON.stringify({ m, ...f })), warn: (m: string, f?: object) => logs.push(JSON.stringify({ m, ...f })), error: (m: string, f?: object) => logs.push(JSON.stringify({ m, ...f })) };
    // eslint-disable-next-line prefer-const -- assigned below, after the relay whose callback uses it
    let processor: RequestProcessor | undefined;
    const relay = new InProcessRelay<PasswordReply>(async (request) => (await processor!.handle({ body: request.body, tenantId: request.tenantId })).reply, createReplyOpener(keyRing));
    const issuer = createDevTokenIssuer();
    const services: WritebackServices = {
      ...createMemoryStores({ maxOperations: 1000, windowSeconds: 3600 }),
      keyRing,
      relay,
      clock: { now: () => new Date() },
      logger,
      verifyToken: createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, publicKeyPem: issuer.publicKeyPem }),
      policy: { heartbeatWindowSeconds: 660, replyTimeoutMs: 3000, messageTtlSeconds: 120, keyRotationMonths: 6 },
    };
    useServices(services);
    const admin = new TenantAdmin(services);
    const registration = await admin.registerAgent(tenantId, publicKey.export({ type: "spki", format: "pem" }).toString());
    const trust = BackendTrust.fromPinned(tenantId, registration.backendSigningKey as PinnedSigningKey);
    processor = new RequestProcessor({ tenantId, agentId: "faults-agent", agentVersion: "test", keys: agentKeys, trust, directory, syncStore, logger });
    const beat = new HeartbeatBuilder({ tenantId, agentId: "faults-agent", agentVersion: "test", directory, keys: agentKeys, trust });
    assert.equal((await new AgentEvents(services).handle(await beat.encode())).accepted, true);
    await admin.updateSettings(tenantId, { enabled: true, allowUnlockWithoutReset: false });
    const operate = await issuer.mint({ tenantId, roles: ["Writeback.Operate"] });
    const adminToken = await issuer.mint({ tenantId, roles: ["Writeback.Admin"] });

    const call = async (handler: HttpHandler, body: unknown, token = operate) => {
      const request = new HttpRequest({
        method: body === undefined ? "GET" : "POST",
        url: "http://127.0.0.1/api/x",
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        params: { tenantId },
        ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
      });
      const started = Date.now();
      // The invocation's logger writes to the same log lines the assertions below scan.
      const logHandler = (level: string, ...args: unknown[]) => logs.push(`${level} ${args.map(String).join(" ")}`);
      const r = await handler(request, new InvocationContext({ functionName: "faults", invocationId: randomUUID(), logHandler }));
      return { status: r.status ?? 200, body: r.jsonBody as { error?: { code: string; message: string } }, ms: Date.now() - started };
    };
    const alice = user("alice");
    const aliceRef = directory.findUser("contoso.local", "alice");
    assert.ok(aliceRef);
    const reset = (pw: string) => call(passwordResets, { requestId: randomUUID(), user: ref(alice), newPassword: pw, initiator: sspr });

    const good = strong("Before");
    assert.equal((await reset(good)).status, 200);

    // Throttling: retried by the SDK, invisible to the caller.
    await sleep(cacheTtlMs + 50);
    kv.injectFaults({ status: 429, count: 2 });
    const throttled = strong("Throttled");
    const t = await reset(throttled);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    figures.push(`Key Vault 429×2 absorbed (reset ${t.ms} ms)`);

    // Down: the cache expires, every path that needs a key answers 503 quickly.
    await kv.stop();
    await sleep(cacheTtlMs + 50);
    const sentBefore = relay.stats().sent;
    const writesBefore = directory.writeCount();
    const refused = strong("WhileDown");
    const down = await reset(refused);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.error?.code, "KEY_STORE_UNAVAILABLE");
    assert.ok(down.ms < 8000, `answered in ${down.ms} ms`);
    assert.doesNotMatch(down.body.error?.message ?? "", /127\.0\.0\.1|https?:|tenant-/, "no vault address or secret name in the message");
    const pre = await call(precheck, { user: ref(alice) });
    assert.equal(pre.body.error?.code, "KEY_STORE_UNAVAILABLE");
    const status = await call(writebackStatus, undefined, adminToken);
    assert.equal(status.body.error?.code, "KEY_STORE_UNAVAILABLE");
    assert.equal(relay.stats().sent, sentBefore, "nothing was sent to the agent");
    assert.equal(directory.writeCount(), writesBefore, "nothing was written");
    assert.notEqual(await directory.verifyPassword(aliceRef, Buffer.from(refused)), "ok");
    figures.push(`Key Vault down → KEY_STORE_UNAVAILABLE in ${down.ms} ms (precheck ${pre.ms} ms)`);

    // Back: the same services recover, no restart.
    await kv.restart();
    const recovered = strong("After");
    let back = await reset(recovered);
    const deadline = Date.now() + 15_000;
    while (back.status !== 200 && Date.now() < deadline) {
      await sleep(200);
      back = await reset(recovered);
    }
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(await directory.verifyPassword(aliceRef, Buffer.from(recovered)), "ok");

    // Persistent 5xx from the vault (beyond the SDK's retries), then healthy again.
    await sleep(cacheTtlMs + 50);
    kv.injectFaults({ status: 503, count: 12 });
    const flaky = await reset(strong("Flaky"));
    assert.equal(flaky.body.error?.code, "KEY_STORE_UNAVAILABLE");
    kv.injectFaults({ status: 503, count: 0 });
    await sleep(cacheTtlMs + 50);
    assert.equal((await reset(strong("Healthy"))).status, 200);
    figures.push(`Key Vault 503s → KEY_STORE_UNAVAILABLE in ${flaky.ms} ms, then recovered`);
    // Nothing of this reached the logs as a secret or an address.
    assert.doesNotMatch(logs.join("\n"), /Before-|Throttled-|WhileDown-|After-/);
  });
});

describe("clock skew between cloud and agent (local stack)", () => {
  test("±2 minutes tolerated; beyond the 5-minute window refused as expired, never applied", async () => {
    const skewFile = join(mkdtempSync(join(tmpdir(), "wb-skew-")), "skew-ms");
    writeFileSync(skewFile, String(2 * 60_000));
    const preload = pathToFileURL(join(import.meta.dirname, "..", "support", "agent-clock-skew.mjs")).href;
    process.env.WB_TEST_AGENT_CLOCK_SKEW_FILE = skewFile;
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import ${preload}`.trim();
    let stack: LocalStackHandle;
    try {
      stack = await startLocalStack({ ports: "free", heartbeatIntervalSeconds: 2, heartbeatWindowSeconds: 30, replyTimeoutMs: 4000, messageTtlSeconds: 15, rateLimitMaxOperations: 100, quiet: true });
    } finally {
      delete process.env.WB_TEST_AGENT_CLOCK_SKEW_FILE;
      process.env.NODE_OPTIONS = (process.env.NODE_OPTIONS ?? "").replace(`--import ${preload}`, "").trim();
    }
    cleanups.push(() => stack.stop());
    const call = async (method: string, path: string, body?: unknown) => {
      const started = Date.now();
      const res = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}${path}`, {
        method,
        headers: { Authorization: `Bearer ${stack.operateToken}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as { error?: { code: string }; [k: string]: unknown }, ms: Date.now() - started };
    };
    const reset = (u: DemoUser, pw: string) => call("POST", "/password-resets", { requestId: randomUUID(), user: ref(u), newPassword: pw, initiator: sspr });
    const change = (u: DemoUser, current: string, next: string) =>
      call("POST", "/password-changes", { requestId: randomUUID(), user: ref(u), currentPassword: current, newPassword: next, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } });
    const restartAgentWithSkew = async (ms: number) => {
      await stack.agent.kill();
      writeFileSync(skewFile, String(ms));
      await stack.agent.start();
    };

    // The embedded directory is re-seeded at each agent start: each step proves "applied" within one agent run.
    const bob = user("bob");
    // Agent 2 minutes ahead: with a 15 s message lifetime, its own clock would call every request expired.
    const a1 = strong("Ahead");
    const r1 = await reset(bob, a1);
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    const r1b = await change(bob, a1, strong("Ahead2"));
    assert.equal(r1b.status, 200, JSON.stringify(r1b.body));
    figures.push(`agent +2 min: reset 200 in ${r1.ms} ms, change 200 in ${r1b.ms} ms`);

    // Agent 2 minutes behind (its replies carry an absolute expiry by its own clock, which the broker ignores).
    await restartAgentWithSkew(-2 * 60_000);
    const b1 = strong("Behind");
    const r2 = await reset(bob, b1);
    assert.equal(r2.status, 200, `${JSON.stringify(r2.body)}\n${stack.agent.output().slice(-2000)}`);
    const r2b = await change(bob, b1, strong("Behind2"));
    assert.equal(r2b.status, 200, JSON.stringify(r2b.body));
    figures.push(`agent −2 min: reset 200 in ${r2.ms} ms, change 200 in ${r2b.ms} ms`);

    // Agent 6 minutes ahead: beyond what it believes of the broker (±5 min), requests are expired to it.
    await restartAgentWithSkew(6 * 60_000);
    const requestId = randomUUID();
    const r3 = await call("POST", "/password-resets", { requestId, user: ref(bob), newPassword: strong("Beyond"), initiator: sspr });
    assert.equal(r3.status, 504, JSON.stringify(r3.body));
    assert.equal(r3.body.error?.code, "AGENT_TIMEOUT");
    assert.ok(r3.ms < stack.settings.replyTimeoutMs + 3000, `answered in ${r3.ms} ms`);
    // The caller's wait ends at the reply timeout; on a loaded machine the restarted agent may
    // log its refusal a little later, so wait for the line (bounded by the message lifetime).
    const refusedAsExpired = (lines: string[]) => lines.some((l) => l.includes("message rejected") && l.includes('"rejection":"expired"'));
    let rejections = stack.agent.output().split("\n").filter((l) => l.includes(requestId));
    for (const until = Date.now() + stack.settings.messageTtlSeconds * 1000; !refusedAsExpired(rejections) && Date.now() < until; ) {
      await sleep(200);
      rejections = stack.agent.output().split("\n").filter((l) => l.includes(requestId));
    }
    assert.ok(refusedAsExpired(rejections), `refused as expired: ${rejections.join("\n")}`);
    assert.ok(!rejections.some((l) => l.includes("request handled")), "never handled");
    // Once its lifetime is over the operation reads as expired and not applied; nothing can apply it later.
    const expiresIn = stack.settings.messageTtlSeconds * 1000 - r3.ms;
    await sleep(Math.max(0, expiresIn) + 500);
    const final = await call("GET", `/password-operations/${requestId}`);
    assert.equal(final.body.status, "expired", JSON.stringify(final.body));
    assert.equal(final.body.applied, false);
    figures.push(`agent +6 min: AGENT_TIMEOUT in ${r3.ms} ms, refused as expired, status expired/applied=false`);

    // Clock fixed: back to normal without touching the cloud side.
    await restartAgentWithSkew(0);
    assert.equal((await reset(bob, strong("Fixed"))).status, 200);
  });
});
