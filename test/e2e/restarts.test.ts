/**
 * Peers restarted under a steady stream of resets, on the local stack (function app with the
 * real SDKs, the agent in its own process): the Service Bus peer (every AMQP connection drops)
 * and Azurite (tables on disk, so the restart keeps them). Each failure comes back quickly
 * with a stable code, nothing stays pending past its expiry, the stream recovers without
 * restarting anything, and every password the API said was set is really set.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, test } from "vitest";
import { DEMO_TENANT_ID, loadUsers, type DemoUser, userRef } from "../../dev/demo-tenant.js";
import type { LocalStackHandle } from "../../dev/local-stack-handle.js";
import { startLocalStack } from "../../dev/local-stack.js";

const USERS = loadUsers(24);
const REPLY_TIMEOUT_MS = 4000;
const MESSAGE_TTL_SECONDS = 8;
let stack: LocalStackHandle;
const figures: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ ports: "free", quiet: true, tablesOnDisk: true, loadUsers: USERS.length, replyTimeoutMs: REPLY_TIMEOUT_MS, messageTtlSeconds: MESSAGE_TTL_SECONDS, rateLimitMaxOperations: 1_000_000 });
});
afterAll(async () => {
  await stack?.stop();
  if (figures.length > 0) console.log(`[restarts] ${figures.join("; ")}`);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ref = userRef;

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}${path}`, {
    method,
    headers: { Authorization: `Bearer ${stack.operateToken}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string }; [k: string]: unknown } };
}

interface Attempt {
  requestId: string;
  user: DemoUser;
  password: string;
  code: string;
  ms: number;
  at: number;
}

/** Four callers, each owning its users (so each user's last accepted password is known), until stopped. */
function stream(): { stop(): Promise<Attempt[]> } {
  let running = true;
  const attempts: Attempt[] = [];
  const worker = async (w: number) => {
    const mine = USERS.filter((_, i) => i % 4 === w);
    for (let n = 0; running; n++) {
      const user = mine[n % mine.length] as DemoUser;
      const requestId = randomUUID();
      const password = `Rs-${w}-${n}-${randomUUID().slice(0, 8)}-aA1!`;
      const t0 = Date.now();
      const r = await call("POST", "/password-resets", { requestId, user: ref(user), newPassword: password, initiator: { kind: "user", channel: "ssprPortal" } }).catch(() => ({ status: 0, body: { error: { code: "HTTP_FAILED" } } }));
      attempts.push({ requestId, user, password, code: r.status === 200 ? "ok" : (r.body.error?.code ?? `HTTP_${r.status}`), ms: Date.now() - t0, at: t0 });
      if (r.status !== 200) await sleep(100); // a caller backs off a little after an error
    }
  };
  const all = Promise.all([0, 1, 2, 3].map(worker));
  return {
    async stop() {
      running = false;
      await all;
      return attempts;
    },
  };
}

/** Waits out the message lifetime, then: nothing pending; each user's last accepted password is in place. */
async function assertSettled(attempts: Attempt[], label: string): Promise<void> {
  await sleep(MESSAGE_TTL_SECONDS * 1000 + 1000);
  for (const a of attempts.filter((x) => x.code !== "ok")) {
    const s = await call("GET", `/password-operations/${a.requestId}`);
    if (s.status === 404) continue; // refused before it was recorded (nothing was sent)
    assert.notEqual(s.body.status, "pending", `${label}: ${a.requestId} still pending after its expiry`);
  }
  // The password of each user's last success must work as the current password of a change.
  const lastOk = new Map<string, Attempt>();
  for (const a of attempts) if (a.code === "ok") lastOk.set(a.user.sAMAccountName, a);
  for (const a of lastOk.values()) {
    // A later attempt that failed might still have been applied before it expired: skip those users.
    const later = attempts.filter((x) => x.user === a.user && x.at > a.at);
    if (later.length > 0) continue;
    const next = `Ck-${randomUUID().slice(0, 8)}-aA1!`;
    const r = await call("POST", "/password-changes", { requestId: randomUUID(), user: ref(a.user), currentPassword: a.password, newPassword: next, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } });
    assert.equal(r.status, 200, `${label}: ${a.user.sAMAccountName} holds the password the API confirmed (${JSON.stringify(r.body)})`);
  }
}

function summarize(attempts: Attempt[], faultAt: number): { failures: Record<string, number>; slowestFailureMs: number; recoveredAfterMs: number | undefined } {
  const failures: Record<string, number> = {};
  let slowest = 0;
  for (const a of attempts) {
    if (a.code === "ok") continue;
    failures[a.code] = (failures[a.code] ?? 0) + 1;
    slowest = Math.max(slowest, a.ms);
  }
  const firstOkAfter = attempts.filter((a) => a.code === "ok" && a.at >= faultAt).sort((x, y) => x.at - y.at)[0];
  return { failures, slowestFailureMs: slowest, recoveredAfterMs: firstOkAfter === undefined ? undefined : firstOkAfter.at + firstOkAfter.ms - faultAt };
}

test("Service Bus peer restarted mid-load: quick stable codes, nothing left pending, recovery without a restart", async () => {
  const s = stream();
  await sleep(1500);
  const faultAt = Date.now();
  await stack.faults.restartServiceBus();
  await sleep(6000);
  const attempts = await s.stop();
  const { failures, slowestFailureMs, recoveredAfterMs } = summarize(attempts, faultAt);
  for (const code of Object.keys(failures)) assert.ok(["RELAY_UNAVAILABLE", "AGENT_TIMEOUT"].includes(code), `unexpected code ${code}`);
  assert.ok(slowestFailureMs <= REPLY_TIMEOUT_MS + 3000, `failures answered within ${slowestFailureMs} ms`);
  assert.ok(recoveredAfterMs !== undefined, "resets succeed again after the restart");
  const tail = attempts.slice(-8);
  assert.deepEqual(tail.map((a) => a.code), tail.map(() => "ok"), "the stream ends healthy");
  await assertSettled(attempts, "Service Bus restart");
  figures.push(`Service Bus restart: ${attempts.length} resets, failures ${JSON.stringify(failures)} (slowest ${slowestFailureMs} ms), first success ${recoveredAfterMs} ms after the restart`);
});

test("Azurite restarted mid-load (tables kept): quick stable codes, recorded outcomes survive, recovery without a restart", async () => {
  const before = stream();
  await sleep(1000);
  const early = (await before.stop()).filter((a) => a.code === "ok").at(-1);
  assert.ok(early !== undefined);
  const s = stream();
  await sleep(1000);
  const faultAt = Date.now();
  await stack.faults.restartAzurite();
  await sleep(5000);
  const attempts = await s.stop();
  const { failures, slowestFailureMs, recoveredAfterMs } = summarize(attempts, faultAt);
  for (const code of Object.keys(failures)) assert.ok(["STORAGE_UNAVAILABLE", "AGENT_TIMEOUT", "RELAY_UNAVAILABLE"].includes(code), `unexpected code ${code}`);
  assert.ok(slowestFailureMs <= REPLY_TIMEOUT_MS + 3000, `failures answered within ${slowestFailureMs} ms`);
  assert.ok(recoveredAfterMs !== undefined, "resets succeed again after the restart");
  // What was recorded before the restart is still there.
  const old = await call("GET", `/password-operations/${early.requestId}`);
  assert.equal(old.body.outcome, "succeeded", JSON.stringify(old.body));
  await assertSettled(attempts, "Azurite restart");
  figures.push(`Azurite restart: ${attempts.length} resets, failures ${JSON.stringify(failures)} (slowest ${slowestFailureMs} ms), first success ${recoveredAfterMs} ms after the restart`);
});
