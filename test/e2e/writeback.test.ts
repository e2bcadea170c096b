import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, test } from "vitest";
import { DEMO_INITIAL_PASSWORD, DEMO_TENANT_ID, type DemoUser, demoUser, userRef } from "../../dev/demo-tenant.js";
import type { LocalStackHandle } from "../../dev/local-stack-handle.js";
import { startLocalStack } from "../../dev/local-stack.js";

let stack: LocalStackHandle;

beforeAll(async () => {
  stack = await startLocalStack({ ports: "free", heartbeatIntervalSeconds: 1, heartbeatWindowSeconds: 4, replyTimeoutMs: 4000, messageTtlSeconds: 20, rateLimitMaxOperations: 50, quiet: true });
});
afterAll(async () => {
  await stack?.stop();
});

const user = demoUser;
const asRef = userRef;
const ssprUser = { kind: "user", channel: "ssprPortal" } as const;

interface Answer {
  status: number;
  body: { error?: { code: string; reason?: string; message: string; fields?: string[] }; [k: string]: unknown };
  headers: Headers;
}

async function call(method: string, path: string, body?: unknown, token = stack.operateToken): Promise<Answer> {
  const res = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Answer["body"], headers: res.headers };
}

const reset = (u: DemoUser, newPassword: string, extra: Record<string, unknown> = {}) =>
  call("POST", "/password-resets", { requestId: randomUUID(), user: asRef(u), newPassword, initiator: ssprUser, ...extra });
const change = (u: DemoUser, currentPassword: string, newPassword: string, extra: Record<string, unknown> = {}) =>
  call("POST", "/password-changes", { requestId: randomUUID(), user: asRef(u), currentPassword, newPassword, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" }, ...extra });

/** A password is in place when a change from it succeeds (and we put it back). */
async function assertPassword(u: DemoUser, password: string): Promise<string> {
  const next = `Chk-${randomUUID().slice(0, 8)}-aA1!`;
  const r = await change(u, password, next);
  assert.equal(r.status, 200, `${u.sAMAccountName}: ${JSON.stringify(r.body)}`);
  return next;
}

describe("end to end through the HTTP API", () => {
  test("precheck tells the policy before the user types", async () => {
    const r = await call("POST", "/writeback/precheck", { user: asRef(user("alice")) });
    assert.equal(r.status, 200);
    assert.equal(r.body.available, true);
    assert.equal((r.body.policy as { minLength: number }).minLength, 8);
  });

  test("reset works for password-hash-sync, federated and pass-through users", async () => {
    for (const sam of ["alice", "bob", "carol"]) {
      const u = user(sam);
      const pw = `Reset-${randomUUID().slice(0, 8)}-Aa1!`;
      const r = await reset(u, pw);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.outcome, "succeeded");
      assert.equal(r.body.operation, "reset");
      await assertPassword(u, pw);
    }
  });

  test("a reset's W3C trace id is in the function's log lines and the agent's", async () => {
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const u = user("alice");
    const pw = `Trace-${randomUUID().slice(0, 8)}-Aa1!`;
    const requestId = randomUUID();
    const res = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}/password-resets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.operateToken}`, "Content-Type": "application/json", traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ requestId, user: asRef(u), newPassword: pw, initiator: ssprUser }),
    });
    assert.equal(res.status, 200, await res.text());
    // The agent logs "request handled" with the HTTP call's trace id and the invocation's span as parent.
    let agentLine: { traceId?: string; parentSpanId?: string; requestId?: string } | undefined;
    for (let i = 0; i < 50 && agentLine === undefined; i++) {
      agentLine = stack.agent
        .output()
        .split("\n")
        .filter((l) => l.includes(requestId))
        .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { traceId?: string; parentSpanId?: string; requestId?: string; message?: string })
        .find((l) => l.message === "request handled");
      if (agentLine === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(agentLine?.traceId, traceId);
    assert.match(agentLine?.parentSpanId ?? "", /^[0-9a-f]{16}$/);
    assert.notEqual(agentLine?.parentSpanId, callerSpan, "the parent is the function's invocation span, a child of the caller's");
    // The function app's log: the runner's request line and the app's own lines carry the same trace.
    const functionLog = stack.functionLogs();
    assert.match(functionLog, new RegExp(`POST /api/v1/tenants/${DEMO_TENANT_ID}/password-resets -> 200 .*traceparent 00-${traceId}-${agentLine?.parentSpanId ?? "x"}-01`));
    // A refused call logs through the pipeline with its trace id too.
    const refusedTrace = randomBytes(16).toString("hex");
    const refused = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}/password-resets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.operateToken}`, "Content-Type": "application/json", traceparent: `00-${refusedTrace}-${callerSpan}-01` },
      body: JSON.stringify({ requestId: randomUUID(), user: asRef(user("dave")), newPassword: "Whatever-123!", initiator: ssprUser }),
    });
    assert.equal(refused.status, 422);
    const refusedLine = stack
      .functionLogs()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { message?: string; traceId?: string; code?: string })
      .find((l) => l.traceId === refusedTrace);
    assert.equal(refusedLine?.message, "request refused");
    assert.equal(refusedLine?.code, "NOT_APPLICABLE_CLOUD_ONLY");
    // And the password is in neither log.
    assert.ok(!functionLog.includes(pw) && !stack.agent.output().includes(pw));
    await assertPassword(u, pw);
  });

  test("cloud-only users are not written back", async () => {
    const r = await reset(user("dave"), "Whatever-123!");
    assert.equal(r.status, 422);
    assert.equal(r.body.error?.code, "NOT_APPLICABLE_CLOUD_ONLY");
  });

  test("unsupported channels are refused with the supported alternatives", async () => {
    const u = user("alice");
    for (const initiator of [
      { kind: "user", channel: "powershell" },
      { kind: "user", channel: "graph" },
      { kind: "admin", channel: "m365AdminCenter" },
      { kind: "admin", channel: "graph" },
    ]) {
      const r = await call("POST", "/password-resets", { user: asRef(u), newPassword: "Xx-12345678!", initiator });
      assert.equal(r.status, 422, JSON.stringify(initiator));
      assert.equal(r.body.error?.code, "OPERATION_NOT_SUPPORTED");
      assert.match(r.body.error?.message ?? "", /ssprPortal/);
    }
    const admin = await call("POST", "/password-resets", { requestId: randomUUID(), user: asRef(u), newPassword: `Adm-${randomUUID().slice(0, 6)}-Aa1!`, initiator: { kind: "admin", channel: "entraAdminCenter" } });
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
  });

  test("policy violations come back with their reason", async () => {
    const u = user("carol");
    const short = await reset(u, "Aa1!");
    assert.equal(short.status, 422);
    assert.equal(short.body.error?.code, "PASSWORD_POLICY_VIOLATION");
    assert.equal(short.body.error?.reason, "tooShort");
    const simple = await reset(u, "alllowercaseletters");
    assert.equal(simple.body.error?.reason, "complexity");
    const pw = `Hist-${randomUUID().slice(0, 6)}-Aa1!`;
    assert.equal((await reset(u, pw)).status, 200);
    const again = await change(u, pw, pw);
    assert.equal(again.body.error?.code, "PASSWORD_POLICY_VIOLATION");
    assert.equal(again.body.error?.reason, "history");
  });

  test("a change with a wrong current password is refused", async () => {
    const r = await change(user("bob"), "not-the-password-1A!", `New-${randomUUID().slice(0, 6)}-Aa1!`);
    assert.equal(r.status, 422);
    assert.equal(r.body.error?.code, "WRONG_CURRENT_PASSWORD");
  });

  test("protected and disabled accounts are refused", async () => {
    const p = await reset(user("eve.admin"), `Prot-${randomUUID().slice(0, 6)}-Aa1!`);
    assert.equal(p.status, 403);
    assert.equal(p.body.error?.code, "PROTECTED_ACCOUNT");
    const d = await reset(user("grace"), `Dis-${randomUUID().slice(0, 6)}-Aa1!`);
    assert.equal(d.status, 403);
    assert.equal(d.body.error?.code, "ACCOUNT_DISABLED");
  });

  test("a locked account: change is refused, reset with unlock works", async () => {
    const u = user("frank");
    const locked = await change(u, DEMO_INITIAL_PASSWORD, `Lock-${randomUUID().slice(0, 6)}-Aa1!`);
    assert.equal(locked.status, 423);
    assert.equal(locked.body.error?.code, "ACCOUNT_LOCKED");
    const pw = `Unl-${randomUUID().slice(0, 6)}-Aa1!`;
    const r = await reset(u, pw, { unlockAccount: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await assertPassword(u, pw);
  });

  test("force change at next logon is passed to the directory", async () => {
    const u = user("alice");
    const pw = `Force-${randomUUID().slice(0, 6)}-Aa1!`;
    assert.equal((await reset(u, pw, { forceChangeAtNextLogon: true })).status, 200);
    // A user who must change the password can still change it with the current one.
    await assertPassword(u, pw);
  });

  test("an unknown cloud anchor is USER_NOT_FOUND", async () => {
    const r = await call("POST", "/password-resets", { user: { cloudAnchor: `User_${randomUUID()}`, userPrincipalName: "ghost@contoso.com", authType: "passwordHashSync" }, newPassword: "Vq8#Lm2$Tz6!aA", initiator: ssprUser });
    assert.equal(r.status, 404);
    assert.equal(r.body.error?.code, "USER_NOT_FOUND");
  });

  test("unlock without reset follows the tenant option", async () => {
    const u = user("bob");
    const off = await call("POST", "/account-unlocks", { user: asRef(u), initiator: ssprUser });
    assert.equal(off.body.error?.code, "UNLOCK_NOT_ENABLED");
    const enable = await call("PUT", "/writeback", { enabled: true, allowUnlockWithoutReset: true }, stack.adminToken);
    assert.equal(enable.status, 200, JSON.stringify(enable.body));
    const on = await call("POST", "/account-unlocks", { requestId: randomUUID(), user: asRef(u), initiator: ssprUser });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.operation, "unlock");
  });

  test("the same requestId twice gives the same answer and one write", async () => {
    const u = user("carol");
    const requestId = randomUUID();
    const pw = `Idem-${randomUUID().slice(0, 6)}-Aa1!`;
    const body = { requestId, user: asRef(u), newPassword: pw, initiator: ssprUser };
    const [a, b] = await Promise.all([call("POST", "/password-resets", body), call("POST", "/password-resets", body)]);
    assert.equal(a.status, 200);
    assert.deepEqual(b.body, a.body);
    const c = await call("POST", "/password-resets", body);
    assert.deepEqual(c.body, a.body);
    const conflict = await call("POST", "/password-resets", { ...body, initiator: { kind: "admin", channel: "azurePortal" } });
    assert.equal(conflict.body.error?.code, "REQUEST_ID_CONFLICT");
    const rows = (await stack.auditRows()).filter((r) => r.requestId === requestId);
    assert.equal(rows.length, 2, "one audit row for the operation, one for the conflict");
  });

  test("authentication and authorization", async () => {
    const none = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}/writeback`);
    assert.equal(none.status, 401);
    const operateOnAdmin = await call("GET", "/writeback");
    assert.equal(operateOnAdmin.status, 403);
    const otherTenant = await stack.mintToken({ tenantId: randomUUID(), roles: ["Writeback.Operate"] });
    assert.equal((await call("POST", "/writeback/precheck", { user: asRef(user("alice")) }, otherTenant)).status, 403);
    const expired = await stack.mintToken({ tenantId: DEMO_TENANT_ID, roles: ["Writeback.Operate"], lifetimeSeconds: -600 });
    assert.equal((await call("POST", "/writeback/precheck", { user: asRef(user("alice")) }, expired)).status, 401);
  });

  test("status reports agent, policy and keys", async () => {
    const r = await call("GET", "/writeback", undefined, stack.adminToken);
    assert.equal(r.status, 200);
    const agent = r.body.agent as { status: string; policy: unknown };
    const keys = r.body.keys as { version: number; agentAcknowledgedCurrent: boolean; nextRotationDue: string };
    assert.equal(agent.status, "online");
    assert.ok(keys.version >= 1);
    assert.equal(keys.agentAcknowledgedCurrent, true);
    assert.ok(Date.parse(keys.nextRotationDue) > Date.now());
  });

  test("rate limit per user", async () => {
    const u = user("bob");
    let limited: Answer | undefined;
    for (let i = 0; i < 60 && limited === undefined; i++) {
      const r = await reset(u, "short");
      if (r.status === 429) limited = r;
    }
    assert.ok(limited, "rate limited within the configured maximum");
    assert.equal(limited.body.error?.code, "RATE_LIMITED");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  });

  test("agent killed: AGENT_TIMEOUT, then the status endpoint tells the truth", async () => {
    const u = user("alice");
    await stack.agent.kill();
    const requestId = randomUUID();
    const pw = `Late-${randomUUID().slice(0, 6)}-Aa1!`;
    const r = await call("POST", "/password-resets", { requestId, user: asRef(u), newPassword: pw, initiator: ssprUser });
    assert.equal(r.status, 504);
    assert.equal(r.body.error?.code, "AGENT_TIMEOUT");
    const pending = await call("GET", `/password-operations/${requestId}`);
    assert.equal(pending.body.status, "pending");
    await stack.agent.start();
    let final: Answer | undefined;
    for (let i = 0; i < 100; i++) {
      final = await call("GET", `/password-operations/${requestId}`);
      if (final.body.status !== "pending") break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(final?.body.status, "completed");
    assert.equal(final?.body.outcome, "succeeded");
    await assertPassword(u, pw);
  });

  test("agent stopped: AGENT_OFFLINE within the heartbeat window, without touching the relay", async () => {
    await stack.agent.kill();
    const started = Date.now();
    let r: Answer | undefined;
    while (Date.now() - started < (stack.settings.heartbeatWindowSeconds + 5) * 1000) {
      r = await call("POST", "/writeback/precheck", { user: asRef(user("alice")) });
      if (r.status === 503) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    assert.equal(r?.body.error?.code, "AGENT_OFFLINE");
    assert.ok(Number(r?.headers.get("retry-after")) >= 1);
    const reset503 = await reset(user("alice"), "Offline-123!aA");
    assert.equal(reset503.body.error?.code, "AGENT_OFFLINE");
    await stack.agent.start();
  });
});
