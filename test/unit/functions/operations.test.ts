import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { beforeAll, describe, test } from "vitest";
import { accountUnlocks } from "../../../functions/account-unlocks.js";
import { passwordChanges } from "../../../functions/password-changes.js";
import { passwordOperationStatus } from "../../../functions/password-operation-status.js";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { writebackSettings } from "../../../functions/writeback-settings.js";
import { writebackStatus } from "../../../functions/writeback-status.js";
import { CHANNELS, INITIATOR_KINDS } from "../../../shared/domain/operations.js";
import { DEMO_DOMAIN, DEMO_INITIAL_PASSWORD, demoUser, userRef } from "../../support/fixtures.js";
import { supportedChannels } from "../../../shared/domain/support-matrix.js";
import { useServices } from "../../../shared/composition/services.js";
import { MAX_PASSWORD_BYTES_TOGETHER, MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR } from "../../../shared/http/request-schemas.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { AGENT_VERSION } from "../../../agent/version.js";
import { findSecrets } from "../../support/secret-scan.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

let s: InMemoryStack;
const passwordsUsed: string[] = [DEMO_INITIAL_PASSWORD];

beforeAll(async () => {
  s = await startInMemoryStack({ rateLimitMax: 1000, agentVersion: AGENT_VERSION });
});

const u = (sam: string) => userRef(demoUser(sam));
function pw(): string {
  const p = `Pw-${randomUUID().slice(0, 8)}-aA1!`;
  passwordsUsed.push(p);
  return p;
}
const sspr = { kind: "user", channel: "ssprPortal" };

describe("password operations through the registered handlers", () => {
  test("a reset is sealed, applied by the agent core and answered 200", async () => {
    useServices(s.services);
    const requestId = randomUUID();
    const newPassword = pw();
    const r = await s.call(passwordResets, { method: "POST", path: "/v1/…/password-resets", body: { requestId, user: u("alice"), newPassword, initiator: sspr } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.requestId, requestId);
    assert.equal(r.body.outcome, "succeeded");
    const ref = s.directory.findUser("contoso.local", "alice");
    assert.ok(ref);
    assert.equal(await s.directory.verifyPassword(ref, Buffer.from(newPassword)), "ok");
    const status = await s.call(passwordOperationStatus, { method: "GET", path: "/x", params: { requestId } });
    assert.equal(status.body.status, "completed");
    assert.equal(status.body.outcome, "succeeded");
  });

  test("the support matrix decides what is written back", async () => {
    useServices(s.services);
    for (const kind of INITIATOR_KINDS) {
      for (const channel of CHANNELS) {
        const supported = supportedChannels("reset", kind).includes(channel);
        const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("bob"), newPassword: pw(), initiator: { kind, channel } } });
        if (supported) assert.equal(r.status, 200, `${kind}/${channel}: ${JSON.stringify(r.body)}`);
        else {
          assert.equal(r.status, 422, `${kind}/${channel}`);
          assert.equal(r.body.error?.code, "OPERATION_NOT_SUPPORTED");
        }
      }
    }
    for (const channel of ["accessPanel", "office365", "ssprPortal"]) {
      const current = pw();
      assert.equal((await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("carol"), newPassword: current, initiator: sspr } })).status, 200);
      const r = await s.call(passwordChanges, { method: "POST", path: "/x", body: { user: u("carol"), currentPassword: current, newPassword: pw(), reason: "expired", initiator: { kind: "user", channel } } });
      assert.equal(r.status, 200, channel);
    }
    const viaGraph = await s.call(passwordChanges, { method: "POST", path: "/x", body: { user: u("carol"), currentPassword: "x", newPassword: pw(), reason: "voluntary", initiator: { kind: "user", channel: "graph" } } });
    assert.equal(viaGraph.body.error?.code, "OPERATION_NOT_SUPPORTED");
  });

  test("user types: cloud-only is not applicable, the others are written back", async () => {
    useServices(s.services);
    const cloud = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("dave"), newPassword: pw(), initiator: sspr } });
    assert.equal(cloud.status, 422);
    assert.equal(cloud.body.error?.code, "NOT_APPLICABLE_CLOUD_ONLY");
    const pre = await s.call(precheck, { method: "POST", path: "/x", body: { user: u("dave") } });
    assert.equal(pre.body.error?.code, "NOT_APPLICABLE_CLOUD_ONLY");
    for (const sam of ["alice", "bob", "carol"]) {
      assert.equal((await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u(sam), newPassword: pw(), initiator: sspr } })).status, 200, sam);
    }
  });

  test("agent outcomes map to their codes and statuses", async () => {
    useServices(s.services);
    const cases: [string, Record<string, unknown>, number, string, string?][] = [
      ["too short", { user: u("alice"), newPassword: "aA1!", initiator: sspr }, 422, "PASSWORD_POLICY_VIOLATION", "tooShort"],
      // Lower case only, and no banned term in it (the cloud would refuse "alllowercase" as banned before AD judges complexity).
      ["complexity", { user: u("alice"), newPassword: "vkmrqzhtwpxj", initiator: sspr }, 422, "PASSWORD_POLICY_VIOLATION", "complexity"],
      ["protected", { user: u("eve.admin"), newPassword: pw(), initiator: sspr }, 403, "PROTECTED_ACCOUNT"],
      ["disabled", { user: u("grace"), newPassword: pw(), initiator: sspr }, 403, "ACCOUNT_DISABLED"],
      ["unknown user", { user: { ...u("alice"), cloudAnchor: `User_${randomUUID()}` }, newPassword: pw(), initiator: sspr }, 404, "USER_NOT_FOUND"],
    ];
    for (const [name, body, status, code, reason] of cases) {
      const r = await s.call(passwordResets, { method: "POST", path: "/x", body });
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, code, name);
      if (reason !== undefined) assert.equal(r.body.error?.reason, reason, name);
    }
    const wrong = await s.call(passwordChanges, { method: "POST", path: "/x", body: { user: u("bob"), currentPassword: "Not-It-123!", newPassword: pw(), reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } } });
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.error?.code, "WRONG_CURRENT_PASSWORD");
    const locked = await s.call(passwordChanges, { method: "POST", path: "/x", body: { user: u("frank"), currentPassword: DEMO_INITIAL_PASSWORD, newPassword: pw(), reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } } });
    assert.equal(locked.status, 423);
    assert.equal(locked.body.error?.code, "ACCOUNT_LOCKED");
    s.directory.setReachable(false);
    const down = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("alice"), newPassword: pw(), initiator: sspr } });
    s.directory.setReachable(true);
    assert.equal(down.status, 502);
    assert.equal(down.body.error?.code, "ONPREM_DIRECTORY_UNAVAILABLE");
  });

  test("unlock on reset, force change, and unlock without reset behind the tenant option", async () => {
    useServices(s.services);
    const frank = s.directory.findUser("contoso.local", "frank");
    assert.ok(frank);
    const p1 = pw();
    const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("frank"), newPassword: p1, initiator: sspr, unlockAccount: true, forceChangeAtNextLogon: true } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(await s.directory.verifyPassword(frank, Buffer.from(p1)), "mustChange");
    const off = await s.call(accountUnlocks, { method: "POST", path: "/x", body: { user: u("frank"), initiator: sspr } });
    assert.equal(off.body.error?.code, "UNLOCK_NOT_ENABLED");
    const admin = await s.call(writebackSettings, { method: "PUT", path: "/x", token: s.adminToken, body: { enabled: true, allowUnlockWithoutReset: true } });
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    s.directory.setAccountFlags(frank, { lockedOut: true });
    const on = await s.call(accountUnlocks, { method: "POST", path: "/x", body: { user: u("frank"), initiator: sspr } });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(s.directory.inspect(frank).lockoutTime, 0);
  });

  test("storage down when the agent's answer comes back: the caller still gets it, the record catches up", async () => {
    useServices(s.services);
    const operations = s.services.operations;
    const complete = operations.complete.bind(operations);
    let failures = 0;
    operations.complete = async (...args) => {
      if (failures === 0) {
        failures += 1;
        throw new AppError("STORAGE_UNAVAILABLE");
      }
      return complete(...args);
    };
    try {
      const requestId = randomUUID();
      const newPassword = pw();
      const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { requestId, user: u("alice"), newPassword, initiator: sspr } });
      assert.equal(r.status, 200, "the password was set: the caller is told so, not 503");
      const ref = s.directory.findUser("contoso.local", "alice");
      assert.ok(ref);
      assert.equal(await s.directory.verifyPassword(ref, Buffer.from(newPassword)), "ok");
      assert.equal((await s.call(passwordOperationStatus, { method: "GET", path: "/x", params: { requestId } })).body.status, "pending");
      await new Promise((res) => setTimeout(res, 1500));
      const status = await s.call(passwordOperationStatus, { method: "GET", path: "/x", params: { requestId } });
      assert.equal(status.body.status, "completed");
      assert.equal(status.body.outcome, "succeeded");
      assert.equal(status.body.applied, true);
    } finally {
      operations.complete = complete;
    }
  });

  test("the same requestId twice: the same answer and one write", async () => {
    useServices(s.services);
    const before = s.directory.writeCount();
    const body = { requestId: randomUUID(), user: u("bob"), newPassword: pw(), initiator: sspr };
    const [a, b] = await Promise.all([s.call(passwordResets, { method: "POST", path: "/x", body }), s.call(passwordResets, { method: "POST", path: "/x", body })]);
    const c = await s.call(passwordResets, { method: "POST", path: "/x", body });
    assert.equal(a.status, 200);
    assert.deepEqual(b.body, a.body);
    assert.deepEqual(c.body, a.body);
    assert.equal(s.directory.writeCount() - before, 1);
    const conflict = await s.call(passwordResets, { method: "POST", path: "/x", body: { ...body, unlockAccount: true } });
    assert.equal(conflict.body.error?.code, "REQUEST_ID_CONFLICT");
  });

  test("user.onPremisesImmutableId: an account not in the sync store is found live by its source anchor and written", async () => {
    useServices(s.services);
    const consistency = randomBytes(16);
    const ref = s.directory.addUser(DEMO_DOMAIN, { sAMAccountName: `live-${randomUUID().slice(0, 6)}`, msDsConsistencyGuid: consistency });
    const user = { cloudAnchor: `User_${randomUUID()}`, userPrincipalName: "live@contoso.com", authType: "passwordHashSync", onPremisesImmutableId: consistency.toString("base64") };
    const newPassword = pw();
    const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { user, newPassword, initiator: sspr } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(await s.directory.verifyPassword(ref, Buffer.from(newPassword)), "ok");
    // The same cloud anchor without the source anchor: the sync store does not know it.
    const { onPremisesImmutableId: _, ...withoutAnchor } = user;
    const storeOnly = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: withoutAnchor, newPassword: pw(), initiator: sspr } });
    assert.equal(storeOnly.body.error?.code, "USER_NOT_FOUND");
    // An anchor no account has: USER_NOT_FOUND, nothing written.
    const writes = s.directory.writeCount();
    const unknown = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: { ...user, onPremisesImmutableId: randomBytes(16).toString("base64") }, newPassword: pw(), initiator: sspr } });
    assert.equal(unknown.body.error?.code, "USER_NOT_FOUND");
    assert.equal(s.directory.writeCount(), writes);
  });

  test("user.onPremisesImmutableId must be base64 of 16 bytes; with it the passwords' budget is 16 bytes smaller", async () => {
    useServices(s.services);
    const base = { cloudAnchor: `User_${randomUUID()}`, userPrincipalName: "x@contoso.com", authType: "passwordHashSync" };
    for (const bad of ["", "not base64!", randomBytes(15).toString("base64"), randomBytes(17).toString("base64"), `${randomBytes(16).toString("base64").slice(0, 21)}B==`]) {
      const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: { ...base, onPremisesImmutableId: bad }, newPassword: pw(), initiator: sspr } });
      assert.equal(r.status, 400, bad);
      assert.deepEqual(r.body.error?.fields, ["user.onPremisesImmutableId"], bad);
    }
    const anchor = randomBytes(16).toString("base64");
    // Two-byte characters up to the budget, then one byte more or not.
    const current = "é".repeat(Math.floor(MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR / 2) - 4);
    const fill = MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR - Buffer.byteLength(current);
    const change = (next: string) => ({ user: { ...base, onPremisesImmutableId: anchor }, currentPassword: current, newPassword: next, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } });
    const over = await s.call(passwordChanges, { method: "POST", path: "/x", body: change("b".repeat(fill + 1)) });
    assert.equal(over.status, 400);
    assert.deepEqual(over.body.error?.fields, ["newPassword"]);
    const within = await s.call(passwordChanges, { method: "POST", path: "/x", body: change("b".repeat(fill)) });
    assert.equal(MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR, MAX_PASSWORD_BYTES_TOGETHER - 16);
    // Without the source anchor the same passwords fit with 16 bytes to spare.
    const { onPremisesImmutableId: _, ...plain } = change("b".repeat(fill + 16)).user;
    const without = await s.call(passwordChanges, { method: "POST", path: "/x", body: { ...change("b".repeat(fill + 16)), user: plain } });
    assert.notEqual(without.status, 400, JSON.stringify(without.body));
    assert.notEqual(within.status, 400, JSON.stringify(within.body));
  });

  test("status endpoint shows the agent, its policy and the keys", async () => {
    useServices(s.services);
    const r = await s.call(writebackStatus, { method: "GET", path: "/x", token: s.adminToken });
    assert.equal(r.status, 200);
    const agent = r.body.agent as { status: string; policy: { minLength: number } };
    assert.equal(agent.status, "online");
    assert.equal(agent.policy.minLength, 8);
    const keys = r.body.keys as { version: number; agentAcknowledgedCurrent: boolean };
    assert.ok(keys.version >= 1);
    assert.equal(keys.agentAcknowledgedCurrent, true);
  });

  test("no password reaches a response, a log line or an audit row", async () => {
    const bodies: string[] = [];
    useServices(s.services);
    const p = pw();
    bodies.push(JSON.stringify((await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("alice"), newPassword: p, initiator: sspr } })).body));
    bodies.push(JSON.stringify((await s.call(passwordChanges, { method: "POST", path: "/x", body: { user: u("alice"), currentPassword: p, newPassword: p, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } } })).body));
    bodies.push(JSON.stringify((await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("alice"), newPassword: `${p}\u0000`, initiator: sspr } })).body));
    bodies.push(JSON.stringify((await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("alice"), newPassword: [p], initiator: sspr } })).body));
    const audit = JSON.stringify(await s.services.audit.list(s.tenantId, 10_000));
    const findings = findSecrets(passwordsUsed, { responses: bodies.join("\n"), logs: s.logs.join("\n"), audit });
    assert.deepEqual(findings, []);
    assert.ok(audit.includes("succeeded"), "the audit log is not empty");
  });
});
