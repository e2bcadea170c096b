import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, test } from "vitest";
import type { ServiceBusClient } from "@azure/service-bus";
import { createServiceBusClient } from "../../shared/adapters/servicebus/connection.js";
import { ServiceBusRelayClient } from "../../shared/adapters/servicebus/relay-client.js";
import { AppError } from "../../shared/errors/app-error.js";
import { createReplyOpener, UntrustedReplyError } from "../../shared/app/reply-opener.js";
import { DEMO_TENANT_ID, loadUsers, type DemoUser, userRef } from "../../dev/demo-tenant.js";
import type { LocalStackHandle } from "../../dev/local-stack-handle.js";
import { startLocalStack } from "../../dev/local-stack.js";
import { silentLogger } from "../../shared/ports/logger.port.js";
import { publicKeyFromPem } from "../../shared/protocol/public-key-cache.js";
import { sealRequest, type PasswordReply } from "../../shared/protocol/envelope.js";

// Issue 5's "done when", through the real SDKs against the local peers: enable → reset →
// rotate under a steady stream of resets (0 failures) → the old key refused after the
// overlap → disable → WRITEBACK_DISABLED; Key Vault GETs do not follow the request count.

const USERS = loadUsers(40);
const REPLY_TIMEOUT_MS = 3000;
const MESSAGE_TTL_SECONDS = 6;
let stack: LocalStackHandle;
let sbClient: ServiceBusClient;
let attacker: ServiceBusRelayClient<PasswordReply>;
const figures: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ ports: "free", quiet: true, loadUsers: USERS.length, replyTimeoutMs: REPLY_TIMEOUT_MS, messageTtlSeconds: MESSAGE_TTL_SECONDS, rateLimitMaxOperations: 1_000_000 });
  sbClient = createServiceBusClient({ connectionString: stack.inside.serviceBusConnectionString });
  // Someone inside the cloud side who kept an old package key and sends straight to the relay.
  attacker = new ServiceBusRelayClient<PasswordReply>({
    client: sbClient,
    repliesQueue: "replies",
    instanceId: `attacker-${randomUUID()}`,
    openReply: createReplyOpener(stack.inside.keyRing),
    isUntrusted: (e) => e instanceof UntrustedReplyError,
    logger: silentLogger,
  });
});
afterAll(async () => {
  await attacker?.close().catch(() => {});
  await sbClient?.close().catch(() => {});
  await stack?.stop();
  if (figures.length > 0) console.log(`[key lifecycle] ${figures.join("; ")}`);
});

const sspr = { kind: "user", channel: "ssprPortal" } as const;
const ref = userRef;
const strong = () => `Kl-${randomUUID().slice(0, 12)}-aA1!`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(method: string, path: string, body?: unknown, token = stack.operateToken) {
  const res = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string }; [k: string]: unknown } };
}
const reset = (u: DemoUser, pw: string) => call("POST", "/password-resets", { requestId: randomUUID(), user: ref(u), newPassword: pw, initiator: sspr });

/** A reset sealed with a chosen package key version, sent straight to the tenant's queue. */
async function forgedReset(version: number, u: DemoUser): Promise<{ outcome: string; requestId: string }> {
  const key = await stack.inside.keyRing.keyVersion(DEMO_TENANT_ID, version);
  const pem = await stack.inside.keyRing.agentPublicKey(DEMO_TENANT_ID);
  assert.ok(key !== undefined && pem !== undefined, `key version ${version} exists`);
  const requestId = randomUUID();
  const now = new Date();
  const expiresAt = new Date(now.getTime() + MESSAGE_TTL_SECONDS * 1000);
  const body = sealRequest({
    tenantId: DEMO_TENANT_ID,
    requestId,
    operation: "reset",
    keyVersion: version,
    packageKey: key.key,
    agentPublicKey: publicKeyFromPem(pem),
    issuedAt: now,
    expiresAt,
    traceId: randomUUID(),
    cloudAnchor: u.cloudAnchor,
    initiator: sspr,
    flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
    newPassword: Buffer.from(strong(), "utf8"),
  });
  try {
    const reply = await attacker.request({ tenantId: DEMO_TENANT_ID, requestId, body, expiresAt }, { timeoutMs: REPLY_TIMEOUT_MS });
    return { outcome: reply.outcome, requestId };
  } catch (e) {
    if (e instanceof AppError) return { outcome: e.code, requestId };
    throw e;
  }
}

function refusedByAgent(requestId: string): string | undefined {
  return stack.agent
    .output()
    .split("\n")
    .find((l) => l.includes(requestId) && l.includes("message rejected"));
}

async function keysVersion(): Promise<number> {
  const s = await call("GET", "/writeback", undefined, stack.adminToken);
  return (s.body.keys as { version: number }).version;
}

test("enable, reset, rotate twice under a steady stream (0 failures), old keys refused after the overlap, disable", async () => {
  // Enabled by the stack: a key was delivered and acknowledged.
  const v1 = await keysVersion();
  assert.ok(v1 >= 1);
  assert.equal((await reset(USERS[0] as DemoUser, strong())).status, 200);

  // A steady stream: four callers resetting in a loop while the keys rotate twice.
  let running = true;
  const outcomes = new Map<string, number>();
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      const u = USERS[(w * 10 + (i % 10)) % USERS.length] as DemoUser;
      const r = await reset(u, strong());
      const code = r.status === 200 ? "ok" : (r.body.error?.code ?? `HTTP_${r.status}`);
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
    }
  };
  const stream = Promise.all([0, 1, 2, 3].map(worker));
  await sleep(700);
  const r1 = await call("POST", "/writeback/keys/rotate", undefined, stack.adminToken);
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  await sleep(1200);
  const r2 = await call("POST", "/writeback/keys/rotate", undefined, stack.adminToken);
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  const secondRotationAt = Date.now();
  await sleep(1200);
  running = false;
  await stream;
  const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
  assert.deepEqual([...outcomes.keys()], ["ok"], `every reset during rotation succeeded: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.ok(total >= 20, `a steady stream (${total} resets)`);
  const v3 = await keysVersion();
  assert.equal(v3, v1 + 2);
  figures.push(`${total} resets during two rotations, 0 failed`);

  // Inside the overlap, a request sealed with the previous version is still served…
  const inOverlap = await forgedReset(v3 - 1, USERS[30] as DemoUser);
  assert.equal(inOverlap.outcome, "succeeded");
  // …but the version before it is gone already.
  const twoBack = await forgedReset(v1, USERS[31] as DemoUser);
  assert.equal(twoBack.outcome, "AGENT_TIMEOUT");
  assert.match(refusedByAgent(twoBack.requestId) ?? "", /"keyVersion":1/);

  // After the overlap (reply timeout + message lifetime) the previous version is refused too.
  const overlapMs = REPLY_TIMEOUT_MS + MESSAGE_TTL_SECONDS * 1000;
  await sleep(Math.max(0, secondRotationAt + overlapMs + 1000 - Date.now()));
  const afterOverlap = await forgedReset(v3 - 1, USERS[32] as DemoUser);
  assert.equal(afterOverlap.outcome, "AGENT_TIMEOUT");
  assert.ok(refusedByAgent(afterOverlap.requestId) !== undefined, "the agent refused it");
  // The current version still works for the same path.
  assert.equal((await forgedReset(v3, USERS[33] as DemoUser)).outcome, "succeeded");
  figures.push(`previous key accepted inside the ${overlapMs} ms overlap, refused after it; older versions refused at once`);

  // Key Vault reads do not follow the request count (cached; rotation invalidates).
  const kvBefore = (await stack.metrics()).keyVaultGets;
  for (let i = 0; i < 60; i++) assert.equal((await reset(USERS[i % 20] as DemoUser, strong())).status, 200);
  const kvGets = (await stack.metrics()).keyVaultGets - kvBefore;
  assert.ok(kvGets <= 1, `Key Vault GETs for 60 resets: ${kvGets}`);
  figures.push(`${kvGets} Key Vault GETs for 60 resets`);

  // Disable: refused in the cloud, and the agent discarded its keys.
  const off = await call("PUT", "/writeback", { enabled: false, allowUnlockWithoutReset: false }, stack.adminToken);
  assert.equal(off.status, 200, JSON.stringify(off.body));
  const refused = await reset(USERS[1] as DemoUser, strong());
  assert.equal(refused.body.error?.code, "WRITEBACK_DISABLED");
  const precheck = await call("POST", "/writeback/precheck", { user: ref(USERS[1] as DemoUser) });
  assert.equal(precheck.body.error?.code, "WRITEBACK_DISABLED");
  const afterDisable = await forgedReset(v3, USERS[34] as DemoUser);
  assert.equal(afterDisable.outcome, "AGENT_TIMEOUT", "the agent no longer holds any key");

  // Re-enable always rotates: a fresh version, and resets work again.
  const on = await call("PUT", "/writeback", { enabled: true, allowUnlockWithoutReset: false }, stack.adminToken);
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.ok((await keysVersion()) > v3);
  assert.equal((await reset(USERS[2] as DemoUser, strong())).status, 200);
});
