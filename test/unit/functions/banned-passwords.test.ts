import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { beforeAll, describe, test } from "vitest";
import { bannedPasswordsChange, bannedPasswordsList } from "../../../functions/banned-passwords.js";
import { passwordChanges } from "../../../functions/password-changes.js";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { writebackSettings } from "../../../functions/writeback-settings.js";
import { writebackStatus } from "../../../functions/writeback-status.js";
import { DEMO_INITIAL_PASSWORD, demoUser, userRef } from "../../support/fixtures.js";
import { useServices } from "../../../shared/composition/services.js";
import { MAX_CUSTOM_TERMS } from "../../../shared/domain/banned-passwords/custom-terms.js";
import { findSecrets } from "../../support/secret-scan.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

let s: InMemoryStack;
const u = (sam: string) => userRef(demoUser(sam));
const sspr = { kind: "user", channel: "ssprPortal" };
const secrets: string[] = [];
const responses: string[] = [];

beforeAll(async () => {
  s = await startInMemoryStack({ rateLimitMax: 1000 });
});

async function reset(newPassword: string, sam = "alice") {
  secrets.push(newPassword);
  useServices(s.services);
  const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { requestId: randomUUID(), user: u(sam), newPassword, initiator: sspr } });
  responses.push(JSON.stringify(r));
  return r;
}

async function terms(body: unknown) {
  useServices(s.services);
  return s.call(bannedPasswordsChange, { method: "PATCH", path: "/x", body, token: s.adminToken });
}

async function mode(bannedPasswordMode: "enforce" | "audit") {
  useServices(s.services);
  const r = await s.call(writebackSettings, { method: "PUT", path: "/x", body: { enabled: true, allowUnlockWithoutReset: false, bannedPasswordMode }, token: s.adminToken });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

describe("banned-password check in the cloud, before sealing", () => {
  test("a banned new password is refused 422 banned and nothing reaches the relay", async () => {
    const sentBefore = s.relay.stats().sent;
    for (const p of ["Password123!", "P@ssw0rd", "Qwerty!!", "Welcome1!"]) {
      const r = await reset(p);
      assert.equal(r.status, 422, `${p}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, "PASSWORD_POLICY_VIOLATION");
      assert.equal(r.body.error?.reason, "banned");
    }
    assert.equal(s.relay.stats().sent, sentBefore, "no relay traffic");
    const rows = await s.services.audit.list(s.tenantId, 4);
    assert.ok(rows.every((row) => row.outcome === "PASSWORD_POLICY_VIOLATION" && row.reason === "banned" && row.bannedPasswordCheck === "refused"));
  });

  test("a password under the directory's minimum length is left to the directory (tooShort, its precise reason)", async () => {
    const sentBefore = s.relay.stats().sent;
    const r = await reset("P@ss1!");
    assert.equal(r.body.error?.reason, "tooShort");
    assert.equal(s.relay.stats().sent, sentBefore + 1);
    assert.equal((await reset("P@ssw0rd")).body.error?.reason, "banned", "at the minimum length (8) it is checked");
  });

  test("a change is checked on its new password only", async () => {
    const current = `Cur-${randomUUID().slice(0, 8)}-Aa1!`;
    assert.equal((await reset(current, "bob")).status, 200);
    const sentBefore = s.relay.stats().sent;
    secrets.push("Password2026!");
    const refused = await s.call(passwordChanges, { method: "POST", path: "/x", body: { user: u("bob"), currentPassword: current, newPassword: "Password2026!", reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } } });
    assert.equal(refused.body.error?.reason, "banned");
    assert.equal(s.relay.stats().sent, sentBefore);
    // A banned current password is the user's existing password: not judged.
    await s.directory.resetPassword(s.directory.findUser("contoso.local", "bob")!, Buffer.from("Password2026!"), { unlockAccount: false, forceChangeAtNextLogon: false });
    const next = `New-${randomUUID().slice(0, 8)}-Aa1!`;
    secrets.push(next);
    const ok = await s.call(passwordChanges, { method: "POST", path: "/x", body: { user: u("bob"), currentPassword: "Password2026!", newPassword: next, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test("the user's own names are banned for that user", async () => {
    const r = await reset("Bob2026!", "bob");
    assert.equal(r.body.error?.reason, "banned");
    const other = await reset("Bob2026!", "alice");
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal((await reset("Contoso-9!", "alice")).body.error?.reason, "banned", "the UPN's domain");
  });

  test("custom terms: add, list, take effect at once, remove; bounded", async () => {
    useServices(s.services);
    const before = await reset("Tailspin#2026");
    assert.equal(before.status, 200, JSON.stringify(before.body));
    const added = await terms({ add: ["Tailspin", "  fabrikam ", "contoso"] });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(added.body.customTerms, ["contoso", "fabrikam", "tailspin"]);
    assert.equal(added.body.added, 3);
    const listed = await s.call(bannedPasswordsList, { method: "GET", path: "/x", token: s.adminToken });
    assert.deepEqual(listed.body.customTerms, ["contoso", "fabrikam", "tailspin"]);
    assert.equal((listed.body.limits as { maxTerms: number }).maxTerms, MAX_CUSTOM_TERMS);
    const sentBefore = s.relay.stats().sent;
    for (const p of ["Tailspin#2026", "T@ilsp1n!!", "Contoso2026!", "Fabrikan99"]) assert.equal((await reset(p)).body.error?.reason, "banned", p);
    assert.equal(s.relay.stats().sent, sentBefore);
    const removed = await terms({ remove: ["TAILSPIN"] });
    assert.deepEqual(removed.body.customTerms, ["contoso", "fabrikam"]);
    assert.equal((await reset("Tailspin#2027")).status, 200);

    assert.equal((await terms({ add: ["abc"] })).body.error?.code, "INVALID_REQUEST", "under four characters");
    assert.equal((await terms({ add: ["x".repeat(17)] })).body.error?.code, "INVALID_REQUEST", "over sixteen");
    assert.equal((await terms({})).body.error?.code, "INVALID_REQUEST", "nothing to change");
    const many = Array.from({ length: MAX_CUSTOM_TERMS - 2 }, (_, i) => `bulk${i}`);
    assert.equal((await terms({ add: many })).status, 200);
    const over = await terms({ add: ["onemore"] });
    assert.equal(over.status, 400);
    assert.match(over.body.error?.message ?? "", /at most 1000/);
    assert.equal(((await s.call(bannedPasswordsList, { method: "GET", path: "/x", token: s.adminToken })).body.customTerms as string[]).length, MAX_CUSTOM_TERMS);
    assert.equal((await terms({ remove: many })).status, 200);
    const operate = await s.call(bannedPasswordsList, { method: "GET", path: "/x" });
    assert.equal(operate.body.error?.code, "FORBIDDEN", "an operate token cannot read the list");
  });

  test("audit mode relays anyway and records that the check would have refused", async () => {
    await mode("audit");
    const sentBefore = s.relay.stats().sent;
    const r = await reset("Password123!");
    // The directory's own policy decides: the demo policy accepts it.
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(s.relay.stats().sent, sentBefore + 1);
    const [row] = await s.services.audit.list(s.tenantId, 1);
    assert.equal(row?.outcome, "succeeded");
    assert.equal(row?.bannedPasswordCheck, "wouldRefuse");
    const clean = await reset(`Ok-${randomUUID().slice(0, 8)}-Aa1!`);
    assert.equal(clean.status, 200);
    assert.equal((await s.services.audit.list(s.tenantId, 1))[0]?.bannedPasswordCheck, undefined);
    const pre = await s.call(precheck, { method: "POST", path: "/x", body: { user: u("alice") } });
    assert.equal((pre.body.policy as { bannedPasswordCheck: string }).bannedPasswordCheck, "audit");
    await mode("enforce");
  });

  test("precheck says the check is on; settings changes keep the mode and the custom terms", async () => {
    useServices(s.services);
    await terms({ add: ["northwind"] });
    const pre = await s.call(precheck, { method: "POST", path: "/x", body: { user: u("alice") } });
    assert.equal(pre.status, 200);
    assert.equal((pre.body.policy as { bannedPasswordCheck: string; minLength: number }).bannedPasswordCheck, "enforce");
    await mode("audit");
    // An older caller's PUT without the mode changes neither.
    const put = await s.call(writebackSettings, { method: "PUT", path: "/x", body: { enabled: true, allowUnlockWithoutReset: true }, token: s.adminToken });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.bannedPasswords, { mode: "audit", customTerms: 3 });
    const status = await s.call(writebackStatus, { method: "GET", path: "/x", token: s.adminToken });
    assert.deepEqual(status.body.bannedPasswords, { mode: "audit", customTerms: 3 });
    assert.equal((await s.call(writebackSettings, { method: "PUT", path: "/x", body: { enabled: true, allowUnlockWithoutReset: false, bannedPasswordMode: "off" }, token: s.adminToken })).status, 400);
    await mode("enforce");
  });

  test("no banned password reaches a response, a log line or an audit row", async () => {
    assert.ok(secrets.length > 10);
    const audit = JSON.stringify(await s.services.audit.list(s.tenantId, 10_000));
    const findings = findSecrets([...secrets, DEMO_INITIAL_PASSWORD], { responses: responses.join("\n"), logs: s.logs.join("\n"), audit });
    assert.deepEqual(findings, []);
    assert.ok(audit.includes("banned") && audit.includes("wouldRefuse"), "the audit log has the verdicts");
  });

  test("a banned refusal is made before the ledger: it uses none of the user's rate-limit slots", async () => {
    const limited = await startInMemoryStack({ rateLimitMax: 1 });
    useServices(limited.services);
    const call = (newPassword: string) =>
      limited.call(passwordResets, { method: "POST", path: "/x", body: { requestId: randomUUID(), user: u("alice"), newPassword, initiator: sspr } });
    for (const p of ["Password123!", "Qwerty!!"]) {
      secrets.push(p);
      const r = await call(p);
      assert.equal(r.body.error?.reason, "banned", JSON.stringify(r.body));
    }
    const strong = `Ok-${randomUUID().slice(0, 12)}-Aa1!`;
    secrets.push(strong);
    const r = await call(strong);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const again = await call(`Ok-${randomUUID().slice(0, 12)}-Aa1!`);
    assert.equal(again.body.error?.code, "RATE_LIMITED", "the one slot went to the accepted reset");
    useServices(s.services);
  });
});
