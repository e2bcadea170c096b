/**
 * Secrets never leave the sealed envelope: the e2e flows run on the local stack (Azurite, the
 * Service Bus and Key Vault peers, the function app, the agent as its own process) with unique
 * passwords — reset, change (old and new password), policy failures, wrong current password,
 * protected/disabled/unknown/cloud-only users, unsupported channel, an idempotent replay, a
 * reset with unlock, an agent killed mid-request (late reply), a key rotation — and then every
 * capture is searched for every password (plain, base64 and base64url of UTF-8, base64 of
 * UTF-16LE with and without quotes, hex, JSON and URL escaping) and for the key material
 * (agent private key, every package key the agent held): 0 findings.
 *
 * Captures: the function app's log, the agent's stdout/stderr, the audit rows, every response
 * body and header, and the agent's own files (config, sync store, encrypted key state).
 * Not reachable without changing dev/: dead-lettered messages (the handle exposes no
 * Service Bus connection) and Key Vault's stored secrets (the package keys are read back from
 * the agent's encrypted state instead).
 */
import assert from "node:assert/strict";
import { createPrivateKey, randomBytes, randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, test } from "vitest";
import { AgentKeyStore } from "../../agent/core/agent-key-store.js";
import { DEMO_INITIAL_PASSWORD, DEMO_TENANT_ID, type DemoUser, demoUser, userRef } from "../../dev/demo-tenant.js";
import type { LocalStackHandle } from "../../dev/local-stack-handle.js";
import { startLocalStack } from "../../dev/local-stack.js";
import { findSecrets, secretForms } from "../support/secret-scan.js";

let stack: LocalStackHandle;
let stateDir: string;
const passwords: string[] = [];
const responses: string[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "wb-secrets-"));
  stack = await startLocalStack({ ports: "free", stateDir, heartbeatIntervalSeconds: 2, heartbeatWindowSeconds: 30, replyTimeoutMs: 4000, messageTtlSeconds: 30, rateLimitMaxOperations: 100, quiet: true });
});
afterAll(async () => {
  await stack?.stop();
});

const user = demoUser;
const ref = userRef;
const sspr = { kind: "user", channel: "ssprPortal" } as const;

/** A unique password, remembered for the scan. */
function secret(shape: "strong" | "unicode" | "lowercase" = "strong"): string {
  const id = randomBytes(6).toString("hex");
  const p = shape === "unicode" ? `Pässwörd-${id}-Ωß1!` : shape === "lowercase" ? `onlylower${id.replace(/[0-9]/g, "x")}abc` : `Sec-${id}-Aa1!`;
  passwords.push(p);
  return p;
}

interface Answer {
  status: number;
  body: { error?: { code: string; reason?: string }; [k: string]: unknown };
}

async function call(method: string, path: string, body?: unknown, token = stack.operateToken): Promise<Answer> {
  const res = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  responses.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`);
  return { status: res.status, body: JSON.parse(text) as Answer["body"] };
}
const reset = (u: DemoUser, newPassword: string, extra: Record<string, unknown> = {}) => call("POST", "/password-resets", { requestId: randomUUID(), user: ref(u), newPassword, initiator: sspr, ...extra });
const change = (u: DemoUser, currentPassword: string, newPassword: string) =>
  call("POST", "/password-changes", { requestId: randomUUID(), user: ref(u), currentPassword, newPassword, reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } });

test("flows with unique passwords: every outcome as expected", async () => {
  assert.equal((await call("POST", "/writeback/precheck", { user: ref(user("alice")) })).status, 200);

  // Reset, then a change from it (old and new password both secrets).
  const p1 = secret();
  assert.equal((await reset(user("alice"), p1)).status, 200);
  const p2 = secret("unicode");
  const changed = await change(user("alice"), p1, p2);
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  // The demo's initial password as the old one.
  passwords.push(DEMO_INITIAL_PASSWORD);
  const p3 = secret();
  assert.equal((await change(user("bob"), DEMO_INITIAL_PASSWORD, p3)).status, 200);

  // Wrong current password.
  const wrong = await change(user("alice"), secret(), secret());
  assert.equal(wrong.body.error?.code, "WRONG_CURRENT_PASSWORD");

  // Policy failures: complexity and history (too short is under the scanner's 8 characters; it is still refused).
  const simple = await reset(user("carol"), secret("lowercase"));
  assert.equal(simple.body.error?.reason, "complexity");
  const p4 = secret();
  assert.equal((await reset(user("carol"), p4)).status, 200);
  const history = await change(user("carol"), p4, p4);
  assert.equal(history.body.error?.reason, "history");
  assert.equal((await reset(user("carol"), "Ab1!x")).body.error?.reason, "tooShort");

  // Refused accounts and users: the password travels (sealed) or is never sent.
  assert.equal((await reset(user("eve.admin"), secret())).body.error?.code, "PROTECTED_ACCOUNT");
  assert.equal((await reset(user("grace"), secret())).body.error?.code, "ACCOUNT_DISABLED");
  const ghost = await call("POST", "/password-resets", { user: { cloudAnchor: `User_${randomUUID()}`, userPrincipalName: "ghost@contoso.com", authType: "passwordHashSync" }, newPassword: secret(), initiator: sspr });
  assert.equal(ghost.body.error?.code, "USER_NOT_FOUND");
  assert.equal((await reset(user("dave"), secret())).body.error?.code, "NOT_APPLICABLE_CLOUD_ONLY");
  assert.equal((await call("POST", "/password-resets", { user: ref(user("alice")), newPassword: secret(), initiator: { kind: "user", channel: "graph" } })).body.error?.code, "OPERATION_NOT_SUPPORTED");
  // Invalid input carrying passwords: refused by name, never echoed.
  const invalid = await call("POST", "/password-changes", { user: ref(user("alice")), currentPassword: secret(), newPassword: secret(), reason: "bored", initiator: sspr, extra: secret() });
  assert.equal(invalid.body.error?.code, "INVALID_REQUEST");

  // Idempotent replay of the same request.
  const requestId = randomUUID();
  const p5 = secret();
  const body = { requestId, user: ref(user("bob")), newPassword: p5, initiator: sspr };
  const [a, b] = await Promise.all([call("POST", "/password-resets", body), call("POST", "/password-resets", body)]);
  assert.equal(a.status, 200);
  assert.deepEqual(b.body, a.body);

  // Reset with unlock on the locked account.
  assert.equal((await reset(user("frank"), secret(), { unlockAccount: true })).status, 200);
});

test("banned passwords: refused in the cloud (a unique custom term), and relayed in audit mode", async () => {
  const term = `zq${randomBytes(7).toString("hex")}`;
  assert.equal((await call("PATCH", "/writeback/banned-passwords", { add: [term] }, stack.adminToken)).status, 200);
  const banned = `${term.toUpperCase().slice(0, 1)}${term.slice(1)}2026!`;
  passwords.push(banned);
  const refused = await reset(user("alice"), banned);
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error?.reason, "banned");
  const settings = (await call("GET", "/writeback", undefined, stack.adminToken)).body as { enabled: boolean; allowUnlockWithoutReset: boolean };
  const put = (bannedPasswordMode: string) => call("PUT", "/writeback", { enabled: settings.enabled, allowUnlockWithoutReset: settings.allowUnlockWithoutReset, bannedPasswordMode }, stack.adminToken);
  assert.equal((await put("audit")).status, 200);
  const audited = `${term.toUpperCase().slice(0, 1)}${term.slice(1)}2027!`;
  passwords.push(audited);
  assert.equal((await reset(user("alice"), audited)).status, 200, "audit mode: Active Directory decides");
  assert.equal((await put("enforce")).status, 200);
  const rows = await stack.auditRows();
  assert.ok(rows.some((r) => r.bannedPasswordCheck === "refused" && r.reason === "banned"));
  assert.ok(rows.some((r) => r.bannedPasswordCheck === "wouldRefuse" && r.outcome === "succeeded"));
});

test("agent killed mid-request: the late reply settles it; key rotation delivers a new key", async () => {
  await stack.agent.kill();
  const requestId = randomUUID();
  const late = secret("unicode");
  const r = await call("POST", "/password-resets", { requestId, user: ref(user("alice")), newPassword: late, initiator: sspr });
  assert.equal(r.body.error?.code, "AGENT_TIMEOUT");
  await stack.agent.start();
  let status: Answer | undefined;
  for (let i = 0; i < 100; i++) {
    status = await call("GET", `/password-operations/${requestId}`);
    if (status.body.status !== "pending") break;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(status?.body.outcome, "succeeded");
  const rotated = await call("POST", "/writeback/keys/rotate", undefined, stack.adminToken);
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.equal((await reset(user("alice"), secret())).status, 200, "a reset under the new key");
});

test("no password and no key material in logs, agent output, audit rows, responses or the agent's files", async () => {
  // Key material: the agent's private key, and every package key it holds (read from its encrypted state).
  const agentDir = join(stateDir, "agent");
  const privatePem = readFileSync(join(agentDir, "agent-private-key.pem"), "utf8");
  const privateKey = createPrivateKey(privatePem);
  const stateCopy = join(mkdtempSync(join(tmpdir(), "wb-keys-")), "agent-keys.json");
  copyFileSync(join(agentDir, "agent-keys.json"), stateCopy);
  const keyStore = await AgentKeyStore.fromPrivateKey(privateKey, stateCopy);
  const versions = keyStore.heldVersions(new Date());
  assert.ok(versions.length >= 1, "the agent holds package keys");
  assert.ok((keyStore.currentVersion() ?? 0) >= 2, "the rotated key is among them");
  const packageKeys = versions.map((v) => keyStore.keyFor(v, new Date())).filter((k): k is Buffer => k !== undefined);
  const der = privateKey.export({ type: "pkcs8", format: "der" });
  const pkcs1 = privateKey.export({ type: "pkcs1", format: "der" });
  const pemLines = privatePem.split("\n").filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
  const keyForms = [
    ...packageKeys.flatMap((k) => [k.toString("base64"), k.toString("base64url"), k.toString("hex")]),
    ...pemLines,
    der.toString("base64").slice(0, 64),
    der.toString("hex").slice(0, 64),
    pkcs1.toString("base64").slice(0, 64),
    // The middle of the key (the private exponent and primes), not only the common DER prefix.
    der.subarray(100, 148).toString("base64"),
    der.subarray(100, 148).toString("hex"),
  ];

  const audit = await stack.auditRows();
  assert.ok(audit.length >= 15, `audit rows recorded (${audit.length})`);
  const agentFiles = ["agent.json", "sync-store.json", "agent-keys.json"].filter((f) => existsSync(join(agentDir, f))).map((f) => readFileSync(join(agentDir, f), "utf8"));
  const haystacks: Record<string, string> = {
    functionLogs: stack.functionLogs(),
    agentOutput: stack.agent.output(),
    auditRows: JSON.stringify(audit),
    responses: responses.join("\n"),
    agentFiles: agentFiles.join("\n"),
  };
  assert.ok(haystacks.functionLogs!.length > 1000, "the function app logged the flows");
  assert.ok(haystacks.agentOutput!.length > 100, "the agent logged the flows");

  const unique = [...new Set(passwords)];
  // The scanner itself finds what it looks for (UTF-16LE base64 of a password, a package key in hex).
  assert.equal(findSecrets([unique[0]!], { control: `x${Buffer.from(`"${unique[0]!}"`, "utf16le").toString("base64")}x` }).length, 1);
  assert.ok(keyForms.some((f) => `..${packageKeys[0]!.toString("hex")}..`.includes(f)));
  const findings = findSecrets(unique, haystacks);
  assert.deepEqual(findings, [], `password findings: ${JSON.stringify(findings)}`);
  const keyFindings: string[] = [];
  for (const form of keyForms) for (const [where, text] of Object.entries(haystacks)) if (text.includes(form)) keyFindings.push(where);
  assert.deepEqual(keyFindings, [], "key material found");

  const formsSearched = unique.reduce((n, p) => n + secretForms(p).length, 0);
  const bytes = Object.values(haystacks).reduce((n, t) => n + t.length, 0);
  console.log(
    `secrets e2e: ${unique.length} passwords (${formsSearched} forms) and ${keyForms.length} key-material forms (${packageKeys.length} package keys, agent private key) searched in ${bytes} characters (function log ${haystacks.functionLogs!.length}, agent output ${haystacks.agentOutput!.length}, ${audit.length} audit rows, ${responses.length} responses, agent files ${haystacks.agentFiles!.length}): 0 findings`,
  );
});
