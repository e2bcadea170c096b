import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "vitest";
import { BackendTrust, type PinnedSigningKey } from "../../../agent/core/backend-trust.js";
import { HeartbeatBuilder } from "../../../agent/core/heartbeat-builder.js";
import { testSigningKey } from "../../support/backend-signer.js";
import { pinBackendKey } from "../../../agent/commands/register.js";
import { agentRegistration } from "../../../functions/agent-registration.js";
import { rotateKeys } from "../../../functions/rotate-keys.js";
import { rotateSigningKey } from "../../../functions/rotate-signing-key.js";
import { startLocalRunner } from "../../../dev/functions-host/local-runner.js";
import { AgentEvents } from "../../../shared/app/agent-events.js";
import { TenantAdmin } from "../../../shared/app/tenant-admin.js";
import { useServices } from "../../../shared/composition/services.js";
import { toAppError } from "../../../shared/errors/app-error.js";
import { MAX_ENDORSEMENT_CHAIN, peekHeader } from "../../../shared/protocol/envelope.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

// Issue 17, finding 1, the backend's side: the signing key handed out at registration, the
// signing-key rotation an agent follows, the agent that slept through one, and a mismatched
// pair (an agent without a pin, or pinned to a foreign key) failing with a stable code.

const signerOf = (body: Uint8Array) => peekHeader(body).trailer?.signerKeyId.toString("hex");

async function lastHeartbeatKeyId(s: InMemoryStack): Promise<string | undefined> {
  return (await s.services.heartbeats.latest(s.tenantId))?.signingKeyId;
}

test("registration hands out the tenant's signing key; registering the same agent key again hands out the same one; deliveries are signed with it", async () => {
  const s = await startInMemoryStack();
  useServices(s.services);
  const pin = (await s.services.keyRing.signingKeys(s.tenantId)).length;
  assert.equal(pin, 1, "one signing key, made at the first registration");
  assert.equal(await lastHeartbeatKeyId(s), s.trust.keyId, "the heartbeat reports the pinned key");
  const pem = (await s.services.keyRing.agentPublicKey(s.tenantId))!;
  const again = await new TenantAdmin(s.services).registerAgent(s.tenantId, pem);
  assert.deepEqual((again.backendSigningKey as PinnedSigningKey).keyId, s.trust.keyId);
  const r = await s.call(rotateKeys, { method: "POST", path: `/v1/tenants/${s.tenantId}/writeback/keys/rotate`, token: s.adminToken });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(signerOf(s.relay.sentBodies.at(-1)!), s.trust.keyId);
});

test("signing-key rotation: the agent follows over the relay; later deliveries are signed by the new key only", async () => {
  const s = await startInMemoryStack();
  useServices(s.services);
  await s.heartbeat(); // online, holding package key 1: the update's reply is sealed under it
  const before = s.trust.keyId;
  const r = await s.call(rotateSigningKey, { method: "POST", path: `/v1/tenants/${s.tenantId}/writeback/signing-key/rotate`, token: s.adminToken });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.agentUpdated, true);
  assert.notEqual(r.body.signingKeyId, before);
  assert.equal(s.trust.keyId, r.body.signingKeyId, "the agent pinned the new key");
  assert.equal(s.processor.stats().outcomes.succeeded !== undefined, true);
  const rotated = await s.call(rotateKeys, { method: "POST", path: `/v1/tenants/${s.tenantId}/writeback/keys/rotate`, token: s.adminToken });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.equal(signerOf(s.relay.sentBodies.at(-1)!), r.body.signingKeyId);
  assert.equal(s.relay.sentBodies.length, 3, "enable, update, rotation: no second update before the rotation");
});

test("an agent offline through two signing-key rotations is moved along the chain before the next delivery", async () => {
  const s = await startInMemoryStack();
  useServices(s.services);
  const admin = new TenantAdmin(s.services);
  await s.heartbeat(); // it holds package key 1
  const pinned = s.trust.keyId;
  const live = (s.relay as unknown as { responder: Parameters<typeof s.relay.setResponder>[0] }).responder;
  s.relay.setResponder(async () => undefined); // the agent is gone
  const first = await admin.rotateSigningKey(s.tenantId);
  const second = await admin.rotateSigningKey(s.tenantId);
  assert.deepEqual([first.agentUpdated, second.agentUpdated], [false, false]);
  assert.equal(s.trust.keyId, pinned, "it missed both");
  s.relay.setResponder(live);
  await s.heartbeat(); // back: the heartbeat still names the old key
  const result = await admin.rotateKeys(s.tenantId);
  assert.equal(typeof result.keyVersion, "number");
  assert.equal(s.trust.keyId, second.signingKeyId, "followed both endorsements in one update");
  assert.equal(s.processor.stats().rejected.untrustedSigner, 0);
});

test("a mismatched pair fails with AGENT_SIGNING_KEY_MISMATCH, never a silent timeout: an agent without a pin, or pinned to a foreign key", async () => {
  const s = await startInMemoryStack();
  useServices(s.services);
  const agentKeys = s.agentKeys;
  const events = new AgentEvents(s.services);
  // An agent from before signed control messages: its heartbeat names no signing key.
  const oldAgent = new HeartbeatBuilder({ tenantId: s.tenantId, agentId: "unit-agent", agentVersion: "0.9", directory: s.directory, keys: agentKeys });
  assert.equal((await events.handle(await oldAgent.encode())).accepted, true);
  const sent = s.relay.sentBodies.length;
  const r = await s.call(rotateKeys, { method: "POST", path: `/v1/tenants/${s.tenantId}/writeback/keys/rotate`, token: s.adminToken });
  assert.equal(r.status, 502);
  assert.equal(r.body.error?.code, "AGENT_SIGNING_KEY_MISMATCH");
  assert.match(r.body.error?.message ?? "", /pin-backend-key/);
  assert.equal(s.relay.sentBodies.length, sent, "nothing sent that the agent would refuse");
  // Pinned to a key this tenant never had.
  const wrongPin = new HeartbeatBuilder({ tenantId: s.tenantId, agentId: "unit-agent", agentVersion: "1", directory: s.directory, keys: agentKeys, trust: testSigningKey(s.tenantId).trust });
  assert.equal((await events.handle(await wrongPin.encode())).accepted, true);
  await assert.rejects(new TenantAdmin(s.services).rotateKeys(s.tenantId), (e: unknown) => toAppError(e).code === "AGENT_SIGNING_KEY_MISMATCH");
  // The genuine agent's heartbeat puts things right.
  await s.heartbeat();
  assert.equal(typeof (await new TenantAdmin(s.services).rotateKeys(s.tenantId)).keyVersion, "number");
});

test("re-pinning by hand: `agent pin-backend-key` keeps the key pair and pins the current key (an agent further behind than an update can carry)", async () => {
  const s = await startInMemoryStack();
  useServices(s.services);
  const runner = await startLocalRunner({ functions: [{ kind: "http", name: "agentRegistration", methods: ["PUT"], route: "v1/tenants/{tenantId}/writeback/agent", handler: agentRegistration }], port: 0, host: "127.0.0.1", settings: {} });
  try {
    const dir = mkdtempSync(join(tmpdir(), "agent-pin-"));
    const privateKeyFile = join(dir, "agent-private-key.pem");
    const backendKeyFile = join(dir, "backend-signing-key.json");
    // This agent's key pair, registered by hand so the test keeps the private key.
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(privateKeyFile, pair.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const admin = new TenantAdmin(s.services);
    const pem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    await admin.registerAgent(s.tenantId, pem);
    const relay = s.relay;
    relay.setResponder(async () => undefined);
    for (let i = 0; i <= MAX_ENDORSEMENT_CHAIN; i++) await admin.rotateSigningKey(s.tenantId);
    const current = (await admin.registerAgent(s.tenantId, pem)).backendSigningKey as PinnedSigningKey;
    const o = { tenantId: s.tenantId, agentId: "unit-agent", backendUrl: runner.url, adminToken: s.adminToken, privateKeyFile, backendKeyFile };
    await assert.rejects(pinBackendKey({ ...o, expectKeyId: "00".repeat(8) }), /BACKEND_KEY_PIN_MISMATCH/);
    const pinned = await pinBackendKey({ ...o, expectKeyId: current.keyId });
    assert.equal(pinned.backendKeyId, current.keyId);
    assert.equal((await BackendTrust.open(backendKeyFile, s.tenantId)).keyId, current.keyId);
    assert.equal(await s.services.keyRing.agentPublicKey(s.tenantId), pem, "the agent's key pair is unchanged");
  } finally {
    await runner.close();
  }
});

test("two agents of a tenant registering at once pin the same signing key (issue 17, finding 3: the first key is not made twice over)", async () => {
  const s = await startInMemoryStack();
  useServices(s.services);
  const fresh = randomUUID();
  const pem = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
  const admin = new TenantAdmin(s.services);
  const [a, b] = await Promise.all([admin.registerAgent(fresh, pem()), admin.registerAgent(fresh, pem())]);
  assert.equal((a.backendSigningKey as PinnedSigningKey).keyId, (b.backendSigningKey as PinnedSigningKey).keyId);
  const versions = (await s.services.keyRing.signingKeys(fresh)).map((k) => k.version);
  assert.equal(new Set(versions).size, versions.length, `distinct versions: ${versions.join(",")}`);
});
