import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, test } from "vitest";
import { DefaultAzureCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { Agent } from "node:https";
import { startKeyVaultPeer, type KeyVaultPeer } from "../../../emulators/keyvault/peer.js";
import { developmentToken } from "../../../emulators/keyvault/token.js";
import { createKeyVaultTenantKeyRing } from "../../../shared/adapters/keyvault/create-key-vault-tenant-key-ring.js";
import { CachedTenantKeyRing } from "../../../shared/keys/cached-tenant-key-ring.js";
import { CONCURRENT_ROTATIONS, keyRingContract } from "../../support/contracts/key-ring.contract.js";
import { LazyTable } from "../../../shared/adapters/tables/table-client.js";
import { TableKeyVersionAllocator } from "../../../shared/adapters/tables/table-key-version-allocator.js";
import { tableConnectionString } from "../../support/azurite.js";

let peer: KeyVaultPeer;
// Version numbers come from a Table row with an ETag: Azurite here, as in the local stack.
const tables = await tableConnectionString();
const allocatorTable = `KeyVersions${randomUUID().replace(/-/g, "").slice(0, 8)}`;
const allocator = () => new TableKeyVersionAllocator(new LazyTable({ connectionString: tables.connectionString }, allocatorTable));
beforeAll(async () => {
  peer = await startKeyVaultPeer();
});
afterAll(async () => {
  await peer.stop();
  await tables.stop();
});
const ring = () => createKeyVaultTenantKeyRing({ vaultUrl: peer.url, credential: peer.credential(), caPem: peer.caPem, allocator: allocator() });

keyRingContract("Key Vault through the SDK on the local peer", async () => ring());
const realVault = process.env.KEYVAULT_URL;
if (realVault !== undefined) keyRingContract("Key Vault (KEYVAULT_URL)", async () => createKeyVaultTenantKeyRing({ vaultUrl: realVault, credential: new DefaultAzureCredential(), allocator: allocator() }));
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
  const r = createKeyVaultTenantKeyRing({ vaultUrl: own.url, credential: own.credential(), caPem: own.caPem, allocator: allocator() });
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

test("two function instances rotating one tenant at once (each its own SDK client and allocator): distinct versions, each holding its own key", async () => {
  const tenantId = randomUUID();
  const instances = [ring(), ring()];
  await instances[0]!.createKey(tenantId, new Date());
  const created = await Promise.all(Array.from({ length: CONCURRENT_ROTATIONS }, (_, i) => instances[i % 2]!.createKey(tenantId, new Date())));
  const versions = created.map((k) => k.version);
  assert.equal(new Set(versions).size, CONCURRENT_ROTATIONS, `versions: ${versions.join(",")}`);
  for (const k of created) assert.ok((await instances[0]!.keyVersion(tenantId, k.version))?.key.equals(k.key));
  // A tenant whose keys predate the allocator: numbering continues above what the vault holds.
  const older = randomUUID();
  const plain = new SecretClient(peer.url, peer.credential(), { disableChallengeResourceVerification: true, agent: new Agent({ ca: peer.caPem }) });
  await plain.setSecret(`tenant-${older}-package-key`, randomBytes(32).toString("base64"), { tags: { keyVersion: "7", createdAt: new Date().toISOString() } });
  assert.equal((await ring().createKey(older, new Date())).version, 8);
});
