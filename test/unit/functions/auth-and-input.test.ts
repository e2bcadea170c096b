import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { beforeAll, describe, test } from "vitest";
import { SignJWT } from "jose";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { writebackSettings } from "../../../functions/writeback-settings.js";
import { writebackStatus } from "../../../functions/writeback-status.js";
import { PasswordOperations } from "../../../shared/app/password-operations.js";
import { useServices } from "../../../shared/composition/services.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { DEMO_USERS, DEV_AUDIENCE, DEV_ISSUER } from "../../support/fixtures.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

let s: InMemoryStack;
beforeAll(async () => {
  s = await startInMemoryStack({ rateLimitMax: 3 });
});
const alice = DEMO_USERS[0] ?? (() => { throw new Error("demo"); })();
const user = { cloudAnchor: alice.cloudAnchor, userPrincipalName: alice.userPrincipalName, authType: alice.authType };
const resetBody = () => ({ user, newPassword: `Pw-${randomUUID().slice(0, 8)}-aA1!`, initiator: { kind: "user", channel: "ssprPortal" } });

describe("authentication and authorization", () => {
  test("missing, malformed, expired, badly signed or foreign tokens are 401", async () => {
    useServices(s.services);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const forged = await new SignJWT({ tid: s.tenantId, roles: ["Writeback.Operate"] }).setProtectedHeader({ alg: "RS256" }).setIssuer(DEV_ISSUER).setAudience(DEV_AUDIENCE).setSubject("x").setExpirationTime("1h").sign(other);
    const expired = await s.issuer.mint({ tenantId: s.tenantId, roles: ["Writeback.Operate"], lifetimeSeconds: -600 });
    const wrongAudience = await s.issuer.mint({ tenantId: s.tenantId, roles: ["Writeback.Operate"], audience: "api://other" });
    const wrongIssuer = await s.issuer.mint({ tenantId: s.tenantId, roles: ["Writeback.Operate"], issuer: "https://evil.example" });
    for (const [name, token] of [["missing", null], ["garbage", "not.a.jwt"], ["forged", forged], ["expired", expired], ["audience", wrongAudience], ["issuer", wrongIssuer]] as const) {
      const r = await s.call(precheck, { method: "POST", path: "/x", body: { user }, token });
      assert.equal(r.status, 401, name);
      assert.equal(r.body.error?.code, "UNAUTHENTICATED", name);
    }
  });

  test("a wrong role or another tenant's token is 403", async () => {
    useServices(s.services);
    const operateOnAdmin = await s.call(writebackStatus, { method: "GET", path: "/x" });
    assert.equal(operateOnAdmin.status, 403);
    assert.equal(operateOnAdmin.body.error?.code, "FORBIDDEN");
    const adminOnOperate = await s.call(precheck, { method: "POST", path: "/x", body: { user }, token: s.adminToken });
    assert.equal(adminOnOperate.status, 403);
    const otherTenant = await s.issuer.mint({ tenantId: randomUUID(), roles: ["Writeback.Operate", "Writeback.Admin"] });
    const r = await s.call(passwordResets, { method: "POST", path: "/x", body: resetBody(), token: otherTenant });
    assert.equal(r.status, 403);
    assert.match(r.body.error?.message ?? "", /another tenant/);
  });
});

describe("bad input", () => {
  test("invalid fields are listed by name, never echoing values", async () => {
    useServices(s.services);
    const secret = "Leaky-Secret-Value-123!";
    const r = await s.call(passwordResets, {
      method: "POST",
      path: "/x",
      body: { user: { ...user, authType: "kerberos" }, newPassword: secret, currentPassword: secret, initiator: { kind: "robot", channel: "ssprPortal" }, ["__proto__"]: { admin: true } },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error?.code, "INVALID_REQUEST");
    assert.ok(r.body.error?.fields?.includes("user.authType"));
    assert.ok(r.body.error?.fields?.includes("initiator.kind"));
    assert.ok(!JSON.stringify(r.body).includes(secret));
    assert.ok(!JSON.stringify(r.body).includes("kerberos"));
  });

  test("non-JSON, wrong content type, oversize bodies, bad route ids", async () => {
    useServices(s.services);
    const notJson = await s.call(passwordResets, { method: "POST", path: "/x", rawBody: "{nope" });
    assert.equal(notJson.body.error?.code, "INVALID_REQUEST");
    const wrongType = await s.call(passwordResets, { method: "POST", path: "/x", rawBody: "{}", headers: { "content-type": "text/plain" } });
    assert.equal(wrongType.status, 415);
    const huge = await s.call(passwordResets, { method: "POST", path: "/x", rawBody: JSON.stringify({ ...resetBody(), pad: "x".repeat(20_000) }) });
    assert.equal(huge.status, 413);
    const longPassword = await s.call(passwordResets, { method: "POST", path: "/x", body: { ...resetBody(), newPassword: "a".repeat(257) } });
    assert.deepEqual(longPassword.body.error?.fields, ["newPassword"]);
    const badTenant = await s.call(passwordResets, { method: "POST", path: "/x", body: resetBody(), params: { tenantId: "not-a-guid" } });
    assert.equal(badTenant.status, 400);
    const surrogate = await s.call(passwordResets, { method: "POST", path: "/x", rawBody: JSON.stringify(resetBody()).replace(/"newPassword":"[^"]*"/, '"newPassword":"abc\\ud800def12345"') });
    assert.deepEqual(surrogate.body.error?.fields, ["newPassword"]);
  });
});

describe("availability rules", () => {
  test("per-user rate limit: 429 with Retry-After, other users unaffected", async () => {
    useServices(s.services);
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await s.call(passwordResets, { method: "POST", path: "/x", body: { ...resetBody(), user: { ...user, cloudAnchor: DEMO_USERS[1]?.cloudAnchor ?? "", userPrincipalName: "bob@contoso.com" } } });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(last?.body.error?.code, "RATE_LIMITED");
    assert.ok(Number(last?.headers["Retry-After"]) > 3000);
    const other = await s.call(passwordResets, { method: "POST", path: "/x", body: resetBody() });
    assert.equal(other.status, 200);
  });

  test("agent offline: 503 with Retry-After, and nothing is sent on the relay", async () => {
    const offline = await startInMemoryStack({ heartbeatWindowSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1200));
    const sent = offline.relay.stats().sent;
    const r = await offline.call(passwordResets, { method: "POST", path: "/x", body: resetBody() });
    assert.equal(r.status, 503);
    assert.equal(r.body.error?.code, "AGENT_OFFLINE");
    assert.ok(Number(r.headers["Retry-After"]) >= 1);
    assert.equal(offline.relay.stats().sent, sent);
    const pre = await offline.call(precheck, { method: "POST", path: "/x", body: { user } });
    assert.equal(pre.body.error?.code, "AGENT_OFFLINE");
    await offline.heartbeat();
    assert.equal((await offline.call(precheck, { method: "POST", path: "/x", body: { user } })).status, 200);
  });

  test("writeback disabled: WRITEBACK_DISABLED, and the agent discards its keys", async () => {
    const t = await startInMemoryStack();
    const off = await t.call(writebackSettings, { method: "PUT", path: "/x", token: t.adminToken, body: { enabled: false, allowUnlockWithoutReset: false } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.agentAcknowledged, true);
    const r = await t.call(passwordResets, { method: "POST", path: "/x", body: resetBody() });
    assert.equal(r.status, 409);
    assert.equal(r.body.error?.code, "WRITEBACK_DISABLED");
    const on = await t.call(writebackSettings, { method: "PUT", path: "/x", token: t.adminToken, body: { enabled: true, allowUnlockWithoutReset: false } });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal((on.body.keys as { version: number }).version, 2, "re-enable always rotates");
    assert.equal((await t.call(passwordResets, { method: "POST", path: "/x", body: resetBody() })).status, 200);
  });
});

describe("bodies too large to seal", () => {
  test("a 64-character CJK anchor with a maximum-length password (177 × €, 531 bytes) is a 400 every time, and the rate limit is never touched", async () => {
    useServices(s.services);
    const anchor = "漢".repeat(64);
    for (let i = 0; i < 5; i++) {
      const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: { ...user, cloudAnchor: anchor }, newPassword: "€".repeat(177), initiator: { kind: "user", channel: "ssprPortal" } } });
      assert.equal(r.status, 400, `attempt ${i + 1}`);
      assert.equal(r.body.error?.code, "INVALID_REQUEST");
      assert.deepEqual(r.body.error?.fields, ["user.cloudAnchor"]);
    }
    assert.equal((await s.services.rateLimiter.read(s.tenantId, anchor)).attempts.length, 0);
  });

  test("the use case itself refuses what cannot be sealed with PAYLOAD_TOO_LARGE, before the rate limit", async () => {
    const anchor = "漢".repeat(64);
    const ops = new PasswordOperations(s.services);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        ops.reset(s.tenantId, { user: { ...user, cloudAnchor: anchor }, newPassword: "€".repeat(177), initiator: { kind: "user", channel: "ssprPortal" }, unlockAccount: false, forceChangeAtNextLogon: false }),
        (e: unknown) => e instanceof AppError && e.code === "PAYLOAD_TOO_LARGE" && e.status === 413,
      );
    }
    assert.equal((await s.services.rateLimiter.read(s.tenantId, anchor)).attempts.length, 0);
  });
});
