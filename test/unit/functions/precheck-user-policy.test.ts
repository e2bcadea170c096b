import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { describe, test } from "vitest";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { DEMO_DOMAIN, demoUser, userRef } from "../../support/fixtures.js";
import { useServices } from "../../../shared/composition/services.js";
import { supportsUserPolicy } from "../../../shared/app/password-operations.js";
import { openReply, sealReply } from "../../../shared/protocol/envelope.js";
import { AGENT_VERSION } from "../../../agent/version.js";
import { startInMemoryStack } from "../../support/in-memory-stack.js";

const u = (sam: string) => userRef(demoUser(sam));
const sspr = { kind: "user", channel: "ssprPortal" };

describe("precheck returns the user's own password policy (fine-grained password policies)", () => {
  test("a PSO applying to the user: its rules, named; others: the domain's, looked up for them; AD enforces the same", async () => {
    const s = await startInMemoryStack({ rateLimitMax: 1000, agentVersion: AGENT_VERSION });
    useServices(s.services);
    s.directory.addPasswordSettings(DEMO_DOMAIN, { name: "Admins-Strict", precedence: 10, appliesTo: ["alice"], policy: { minLength: 14, historyLength: 12, lockoutThreshold: 3 } });
    s.directory.addPasswordSettings(DEMO_DOMAIN, { name: "Looser", precedence: 20, appliesTo: ["alice"], policy: { minLength: 10 } });
    const alice = await s.call(precheck, { method: "POST", path: "/x", body: { user: u("alice") } });
    assert.equal(alice.status, 200, JSON.stringify(alice.body));
    assert.equal(alice.body.policySource, "passwordSettingsObject");
    assert.equal(alice.body.passwordSettingsObject, "Admins-Strict", "the lowest precedence wins");
    assert.deepEqual(
      [(alice.body.policy as { minLength: number }).minLength, (alice.body.policy as { historyLength: number }).historyLength, (alice.body.policy as { lockoutThreshold: number }).lockoutThreshold],
      [14, 12, 3],
    );
    const bob = await s.call(precheck, { method: "POST", path: "/x", body: { user: u("bob") } });
    assert.equal(bob.body.policySource, "user");
    assert.equal((bob.body.policy as { minLength: number }).minLength, 8);
    assert.equal(bob.body.passwordSettingsObject, undefined);
    // What precheck said is what the directory applies. (Passwords of the Pw-<hex>-aA1! form: the
    // banned-password screen refused about 6 % of "Aa1!" + 8 hex digits (1,182 of 20,000), which made this test flaky.)
    const short = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("alice"), newPassword: `Pw-${randomUUID().slice(0, 5)}-aA1!`, initiator: sspr } });
    assert.equal(short.body.error?.code, "PASSWORD_POLICY_VIOLATION");
    assert.equal(short.body.error?.reason, "tooShort");
    const ok = await s.call(passwordResets, { method: "POST", path: "/x", body: { user: u("bob"), newPassword: `Pw-${randomUUID().slice(0, 8)}-aA1!`, initiator: sspr } });
    assert.equal(ok.status, 200);
  });

  test("a user found by source anchor only gets the policy too; an unknown user, or an agent older than 0.2.0, gets the domain's from the heartbeat", async () => {
    const s = await startInMemoryStack({ rateLimitMax: 1000, agentVersion: AGENT_VERSION });
    useServices(s.services);
    const sa = randomBytes(16);
    s.directory.addUser(DEMO_DOMAIN, { sAMAccountName: "fresh", msDsConsistencyGuid: sa });
    s.directory.addPasswordSettings(DEMO_DOMAIN, { name: "New-Hires", precedence: 5, appliesTo: ["fresh"], policy: { minLength: 16 } });
    const fresh = await s.call(precheck, { method: "POST", path: "/x", body: { user: { cloudAnchor: `User_${randomUUID()}`, userPrincipalName: "fresh@contoso.com", authType: "passwordHashSync", onPremisesImmutableId: sa.toString("base64") } } });
    assert.equal(fresh.body.passwordSettingsObject, "New-Hires");
    const unknown = await s.call(precheck, { method: "POST", path: "/x", body: { user: { cloudAnchor: `User_${randomUUID()}`, userPrincipalName: "x@contoso.com", authType: "passwordHashSync" } } });
    assert.equal(unknown.status, 200);
    assert.equal(unknown.body.policySource, "domain");

    const old = await startInMemoryStack({ rateLimitMax: 1000 });
    useServices(old.services);
    const writes = old.directory.writeCount();
    const r = await old.call(precheck, { method: "POST", path: "/x", body: { user: u("alice") } });
    assert.equal(r.body.policySource, "domain");
    assert.equal(old.directory.writeCount(), writes);
    // An older agent is not sent the source anchor (it would refuse the message): it answers by cloud anchor.
    const oldSa = randomBytes(16);
    old.directory.addUser(DEMO_DOMAIN, { sAMAccountName: "fresh2", msDsConsistencyGuid: oldSa });
    const viaOld = await old.call(passwordResets, { method: "POST", path: "/x", body: { user: { cloudAnchor: `User_${randomUUID()}`, userPrincipalName: "f2@contoso.com", authType: "passwordHashSync", onPremisesImmutableId: oldSa.toString("base64") }, newPassword: `Aa1!${randomUUID()}`, initiator: sspr } });
    assert.equal(viaOld.body.error?.code, "USER_NOT_FOUND");
    assert.equal(supportsUserPolicy("0.1.9"), false);
    assert.equal(supportsUserPolicy("0.2.0"), true);
    assert.equal(supportsUserPolicy("1.0.0-preview.1"), true);
    assert.equal(supportsUserPolicy("test"), false);
  });

  test("the policy travels sealed in the reply of a policy request only", () => {
    const key = randomBytes(32);
    const tenantId = randomUUID();
    const base = { requestId: randomUUID(), keyVersion: 1, expiresAt: new Date(), completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: AGENT_VERSION, diagnostic: "" };
    const policy = { minLength: 14, complexity: true, historyLength: 24, minAgeSeconds: 86_400, maxAgeSeconds: 3_628_800, lockoutThreshold: 5, lockoutDurationSeconds: 1800, source: "passwordSettingsObject" as const, passwordSettingsObject: "Admins-Strict" };
    const opened = openReply(sealReply({ ...base, operation: "policy", policy }, tenantId, key), tenantId, () => key);
    assert.deepEqual(opened.policy, policy);
    const domain = openReply(sealReply({ ...base, operation: "policy", policy: { ...policy, source: "domain", passwordSettingsObject: undefined } }, tenantId, key), tenantId, () => key);
    const { passwordSettingsObject: _, ...withoutName } = policy;
    assert.deepEqual(domain.policy, { ...withoutName, source: "domain" });
    assert.equal(openReply(sealReply({ ...base, operation: "reset" }, tenantId, key), tenantId, () => key).policy, undefined);
  });
});
