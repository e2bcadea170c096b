import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, test } from "vitest";
import { DefaultAzureCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { Agent } from "node:https";
import { startKeyVaultPeer, type KeyVaultPeer } from "../../../emulators/keyvault/peer.js";
import { developmentToken } from "../../../emulators/keyvault/token.js";
import { createKeyVaultTenantKeyRing } from "../../../shared/adapters/keyvault/create-key-vault-tenant-key-ring.js";
import { CachedTenantKeyRing } from "../../../shared/keys/cached-tenant-key-ring.js";
import { keyRingContract } from "../../support/contracts/key-ring.contract.js";

let peer: KeyVaultPeer;
beforeAll(async () => {
  peer = await startKeyVaultPeer();
});
afterAll(() => peer.stop());
const ring = () => createKeyVaultTenantKeyRing({ vaultUrl: peer.url, credential: peer.credential(), caPem: peer.caPem });

keyRingContract("Key Vault through the SDK on the local peer", async () => ring());
const realVault = process.env.KEYVAULT_URL;
if (realVault !== undefined) keyRingContract("Key Vault (KEYVAULT_URL)", async () => createKeyVaultTenantKeyRing({ vaultUrl: realVault, credential: new DefaultAzureCredential() }));
else test.skip("Key Vault contract against a real vault (set KEYVAULT_URL and sign in for DefaultAzureCredential to run it against a real vault)", () => {});

test("the peer refuses requests without a token or with a forged one", async () => {
  const r = await fetch(`${peer.url}/secrets/x?api-version=7.5`).catch((e: unknown) => e);
  assert.ok(r instanceof Error, "self-signed TLS is not trusted by default either");
  const forged = new SecretClient(peer.url, { getToken: async () => ({ token: "a.b.c", expiresOnTimestamp: Date.now() + 60_000 }) }, { disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 }, agent: new Agent({ ca: peer.caPem }) });
  await assert.rejects(forged.getSecret("anything"), (e: unknown) => (e as { statusCode?: number }).statusCode === 401);
  assert.ok(peer.stats().refused >= 1);
});

test("throttling (429) is retried transparently by the SDK", async () => {
  const r = ring();
  const tenantId = randomUUID();
  await r.setAgentPublicKey(tenantId, "pem");
  peer.injectFaults({ status: 429, count: 2 });
  assert.equal(await r.agentPublicKey(tenantId), "pem");
});

test("Key Vault GETs do not grow with requests behind the cache", async () => {
  const tenantId = randomUUID();
  const cached = new CachedTenantKeyRing(ring());
  await cached.createKey(tenantId, new Date());
  await cached.markAcknowledged(tenantId, 1, new Date());
  const name = `tenant-${tenantId}-package-key`;
  const before = peer.stats().gets[name] ?? 0;
  for (let i = 0; i < 1000; i++) await cached.currentKey(tenantId);
  const gets = (peer.stats().gets[name] ?? 0) - before;
  assert.ok(gets <= 2, `${gets} GETs for 1,000 lookups`);
});

test("an outage is KEY_STORE_UNAVAILABLE, never a fallback", async () => {
  const own = await startKeyVaultPeer();
  const r = createKeyVaultTenantKeyRing({ vaultUrl: own.url, credential: own.credential(), caPem: own.caPem });
  await own.stop();
  await assert.rejects(r.currentKey(randomUUID()), (e: unknown) => (e as { code?: string }).code === "KEY_STORE_UNAVAILABLE" && !(e as Error).message.includes("127.0.0.1"));
});

test("standalone mode (tokens: well-formed) takes any unexpired JWT for Key Vault, unsigned included, and still refuses the rest", async () => {
  const open = await startKeyVaultPeer({ tokens: "well-formed" });
  try {
    const agent = new Agent({ ca: open.caPem });
    const clientWith = (token: string) => new SecretClient(open.url, { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 60_000 }) }, { disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 }, agent });
    const dev = clientWith(developmentToken().token);
    await dev.setSecret("standalone", "v1");
    assert.equal((await dev.getSecret("standalone")).value, "v1");
    const jwt = (claims: Record<string, unknown>) => `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;
    const exp = Math.floor(Date.now() / 1000) + 600;
    assert.equal((await clientWith(jwt({ aud: "https://vault.azure.net", exp })).getSecret("standalone")).value, "v1", "a token as Entra ID issues it (signature not checked)");
    for (const bad of ["a.b.c", jwt({ aud: "https://vault.azure.net", exp: exp - 1200 }), jwt({ aud: "https://storage.azure.com", exp }), jwt({ aud: "https://vault.azure.net" })]) {
      await assert.rejects(clientWith(bad).getSecret("standalone"), (e: unknown) => (e as { statusCode?: number }).statusCode === 401, bad);
    }
    // Its own credential's tokens pass too.
    assert.equal((await new SecretClient(open.url, open.credential(), { disableChallengeResourceVerification: true, agent }).getSecret("standalone")).value, "v1");
  } finally {
    await open.stop();
  }
});

test("a disabled version's value is refused with 403, as Key Vault does; PATCH without a version updates the latest", async () => {
  const client = new SecretClient(peer.url, peer.credential(), { disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 }, agent: new Agent({ ca: peer.caPem }) });
  const name = `disabled-${randomUUID()}`;
  const set = await client.setSecret(name, "v");
  await client.updateSecretProperties(name, set.properties.version ?? "", { enabled: false });
  await assert.rejects(client.getSecret(name), (e: unknown) => (e as { statusCode?: number }).statusCode === 403);
  const listed = [];
  for await (const p of client.listPropertiesOfSecretVersions(name)) listed.push(p);
  assert.deepEqual(listed.map((p) => p.enabled), [false], "its properties are still listed");
  await client.updateSecretProperties(name, "", { enabled: true });
  assert.equal((await client.getSecret(name)).value, "v");
});
