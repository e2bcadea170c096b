import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "vitest";
import { createLocalJWKSet, SignJWT, type JWTVerifyGetKey } from "jose";
import { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER } from "../../support/fixtures.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { createTokenVerifier, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from "../../../shared/http/auth.js";

const issuer = createDevTokenIssuer();
const jwk = { ...createPublicKey(issuer.publicKeyPem).export({ format: "jwk" }), alg: "RS256" };
const tenantId = "2f0b6a37-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

/** A key set that counts how often a signature had to be checked. */
function countingKeySet(): { keySet: JWTVerifyGetKey; lookups: () => number } {
  const inner = createLocalJWKSet({ keys: [jwk] });
  let n = 0;
  return {
    keySet: (header, token) => {
      n += 1;
      return inner(header, token);
    },
    lookups: () => n,
  };
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AppError);
    return e;
  }
  assert.fail("the token was accepted");
}

test("a token's signature is checked once, then the verified principal is reused", async () => {
  const keys = countingKeySet();
  const verify = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet: keys.keySet });
  const token = await issuer.mint({ tenantId, roles: ["Writeback.Operate"], subject: "frontend" });
  const first = await verify(`Bearer ${token}`);
  const second = await verify(`Bearer ${token}`);
  assert.deepEqual(second, first);
  assert.equal(first.subject, "frontend");
  assert.equal(keys.lookups(), 1);
  // Another token is another entry: its own signature is checked.
  await verify(`Bearer ${await issuer.mint({ tenantId, roles: ["Writeback.Operate"] })}`);
  assert.equal(keys.lookups(), 2);
});

test("a remembered token stops working at its expiry (plus the clock tolerance), not at the cache's", async () => {
  let now = Date.now();
  const verify = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet: createLocalJWKSet({ keys: [jwk] }), clockToleranceSeconds: 60, verifiedTokenTtlSeconds: 3600, now: () => now });
  const token = await issuer.mint({ tenantId, roles: ["Writeback.Operate"], lifetimeSeconds: 120 });
  await verify(`Bearer ${token}`);
  now += 170_000;
  await verify(`Bearer ${token}`);
  now += 20_000; // 190 s after minting: past exp (120 s) + tolerance (60 s)
  const e = await rejection(verify(`Bearer ${token}`));
  assert.equal(e.code, "UNAUTHENTICATED");
  assert.match(e.message, /expired/);
});

test("after the cache's lifetime the token is verified again", async () => {
  let now = Date.now();
  const keys = countingKeySet();
  const verify = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet: keys.keySet, verifiedTokenTtlSeconds: 300, now: () => now });
  const token = await issuer.mint({ tenantId, roles: ["Writeback.Operate"] });
  await verify(`Bearer ${token}`);
  now += 299_000;
  await verify(`Bearer ${token}`);
  assert.equal(keys.lookups(), 1);
  now += 2_000;
  await verify(`Bearer ${token}`);
  assert.equal(keys.lookups(), 2);
});

test("failures are never remembered, and a changed token is a different token", async () => {
  const keys = countingKeySet();
  const verify = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet: keys.keySet });
  const token = await issuer.mint({ tenantId, roles: ["Writeback.Operate"] });
  await verify(`Bearer ${token}`);
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
  const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, roles: ["Writeback.Admin"] })).toString("base64url")}.${signature}`;
  for (let i = 0; i < 2; i++) assert.equal((await rejection(verify(`Bearer ${forged}`))).code, "UNAUTHENTICATED");
  const wrongAudience = await issuer.mint({ tenantId, roles: ["Writeback.Operate"], audience: "api://other" });
  for (let i = 0; i < 2; i++) assert.equal((await rejection(verify(`Bearer ${wrongAudience}`))).code, "UNAUTHENTICATED");
  assert.equal(keys.lookups(), 1 + 2 + 2);
});

test("the cache holds at most its capacity and can be turned off", async () => {
  const keys = countingKeySet();
  const verify = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet: keys.keySet, verifiedTokenCacheSize: 2 });
  const tokens = await Promise.all([1, 2, 3].map(() => issuer.mint({ tenantId, roles: [] })));
  for (const t of tokens) await verify(`Bearer ${t}`);
  await verify(`Bearer ${tokens[2]}`);
  await verify(`Bearer ${tokens[1]}`);
  assert.equal(keys.lookups(), 3);
  await verify(`Bearer ${tokens[0]}`); // the oldest went first
  assert.equal(keys.lookups(), 4);

  const uncached = countingKeySet();
  const off = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet: uncached.keySet, verifiedTokenTtlSeconds: 0 });
  for (let i = 0; i < 3; i++) await off(`Bearer ${tokens[0]}`);
  assert.equal(uncached.lookups(), 3);
});

/** Signs arbitrary claims with the test issuer's algorithm and a fresh key (for claims the dev issuer never omits). */
async function signed(claims: Record<string, unknown>, privateKey: KeyObject, kid?: string): Promise<string> {
  return new SignJWT({ tid: tenantId, roles: ["Writeback.Operate"], ...claims })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(kid === undefined ? {} : { kid }) })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject("frontend")
    .sign(privateKey);
}

test("a token without exp is refused, and so is one living longer than the configured maximum", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keySet = createLocalJWKSet({ keys: [{ ...publicKey.export({ format: "jwk" }), alg: "RS256" }] });
  const verify = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet, maxTokenLifetimeSeconds: 5400 });
  const now = Math.floor(Date.now() / 1000);
  const noExp = await rejection(verify(`Bearer ${await signed({ iat: now }, privateKey)}`));
  assert.equal(noExp.code, "UNAUTHENTICATED");
  assert.match(noExp.message, /exp/);
  const tooLong = await rejection(verify(`Bearer ${await signed({ iat: now, exp: now + 5401 }, privateKey)}`));
  assert.equal(tooLong.code, "UNAUTHENTICATED");
  assert.match(tooLong.message, /lifetime/);
  // Without iat or nbf the lifetime counts from now.
  assert.equal((await rejection(verify(`Bearer ${await signed({ exp: now + 6000 }, privateKey)}`))).code, "UNAUTHENTICATED");
  // At the maximum it is accepted; an issued-at in the past with the same exp is a shorter lifetime.
  assert.equal((await verify(`Bearer ${await signed({ iat: now, exp: now + 5400 }, privateKey)}`)).subject, "frontend");
  assert.equal((await verify(`Bearer ${await signed({ nbf: now - 100, exp: now + 5300 }, privateKey)}`)).subject, "frontend");
  // The default maximum is one day.
  const byDefault = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, keySet });
  assert.equal(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, 86_400);
  await byDefault(`Bearer ${await signed({ iat: now, exp: now + 86_400 }, privateKey)}`);
  assert.equal((await rejection(byDefault(`Bearer ${await signed({ iat: now, exp: now + 86_401 }, privateKey)}`))).code, "UNAUTHENTICATED");
});

test("after the issuer withdraws a key, its tokens are accepted at most until the key set's max age plus the verified-token lifetime", async () => {
  const old = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const next = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwkOf = (k: KeyObject, kid: string) => ({ ...k.export({ format: "jwk" }), alg: "RS256", kid, use: "sig" });
  let published = [jwkOf(old.publicKey, "old"), jwkOf(next.publicKey, "next")];
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
    const maxAge = 0.4;
    const verify = createTokenVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, jwksUrl: url, jwksMaxAgeSeconds: maxAge, verifiedTokenTtlSeconds: 0 });
    const exp = Math.floor(Date.now() / 1000) + 600;
    const withOld = () => signed({ iat: exp - 600, exp, jti: randomUUID() }, old.privateKey, "old");
    await verify(`Bearer ${await withOld()}`);
    const fetchedAt = Date.now();
    published = [jwkOf(next.publicKey, "next")]; // the issuer withdraws "old"
    // Inside the key set's max age the withdrawn key still verifies new tokens: that is the bound's first part.
    if (Date.now() - fetchedAt < maxAge * 1000 - 100) await verify(`Bearer ${await withOld()}`);
    await new Promise((r) => setTimeout(r, maxAge * 1000 + 100));
    const refused = await rejection(verify(`Bearer ${await withOld()}`));
    assert.equal(refused.code, "UNAUTHENTICATED");
    assert.ok(fetches >= 2, "the stale key set was fetched again");
    // The new key works. (A token verified before the refresh stays remembered for at most
    // verifiedTokenTtlSeconds, tested above: the two bounds add up.)
    await verify(`Bearer ${await signed({ iat: exp - 600, exp }, next.privateKey, "next")}`);
  } finally {
    server.close();
  }
});
const ENTRA_TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0";
const entraIssuer = (tid: string) => `https://login.microsoftonline.com/${tid}/v2.0`;
const otherTenant = "9c4d3e2f-1a0b-4c8d-9e7f-6a5b4c3d2e1f";
const strangerTenant = "0d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6";

test("multi-tenant: each token's issuer is checked against its own tid, for every onboarded tenant", async () => {
  const verify = createTokenVerifier({ issuer: ENTRA_TEMPLATE, allowedTenants: [tenantId, otherTenant.toUpperCase()], audience: DEV_AUDIENCE, keySet: createLocalJWKSet({ keys: [jwk] }) });
  for (const tid of [tenantId, otherTenant]) {
    const token = await issuer.mint({ tenantId: tid, roles: ["Writeback.Admin"], issuer: entraIssuer(tid) });
    const principal = await verify(`Bearer ${token}`);
    assert.equal(principal.tenantId, tid);
    assert.deepEqual(principal.roles, ["Writeback.Admin"]);
  }
});

test("multi-tenant: a token whose issuer names another tenant than its tid is refused", async () => {
  const verify = createTokenVerifier({ issuer: ENTRA_TEMPLATE, allowedTenants: [tenantId, otherTenant], audience: DEV_AUDIENCE, keySet: createLocalJWKSet({ keys: [jwk] }) });
  // Signed by a trusted key, tid of an onboarded tenant, but issued by (claiming) another one.
  const crossed = await issuer.mint({ tenantId, roles: ["Writeback.Admin"], issuer: entraIssuer(otherTenant) });
  const e = await rejection(verify(`Bearer ${crossed}`));
  assert.equal(e.code, "UNAUTHENTICATED");
  assert.match(e.message, /iss claim/);
  // The fixed single-tenant issuer is not accepted either in this mode.
  assert.equal((await rejection(verify(`Bearer ${await issuer.mint({ tenantId, roles: ["Writeback.Admin"] })}`))).code, "UNAUTHENTICATED");
});

test("multi-tenant: a tenant not onboarded is refused before any signature check", async () => {
  const keys = countingKeySet();
  const verify = createTokenVerifier({ issuer: ENTRA_TEMPLATE, allowedTenants: [tenantId], audience: DEV_AUDIENCE, keySet: keys.keySet });
  const stranger = await issuer.mint({ tenantId: strangerTenant, roles: ["Writeback.Admin"], issuer: entraIssuer(strangerTenant) });
  const e = await rejection(verify(`Bearer ${stranger}`));
  assert.equal(e.code, "UNAUTHENTICATED");
  assert.match(e.message, /not onboarded/);
  // A tid that is no GUID (or none) cannot select an issuer.
  const odd = await issuer.mint({ tenantId: "common", roles: ["Writeback.Admin"], issuer: entraIssuer("common") });
  assert.match((await rejection(verify(`Bearer ${odd}`))).message, /not onboarded/);
  assert.equal((await rejection(verify("Bearer not.a.jwt"))).code, "UNAUTHENTICATED");
  assert.equal(keys.lookups(), 0);
});

test("multi-tenant needs the onboarded tenants; single-tenant may restrict them too", async () => {
  assert.throws(() => createTokenVerifier({ issuer: ENTRA_TEMPLATE, audience: DEV_AUDIENCE, keySet: createLocalJWKSet({ keys: [jwk] }) }), /onboarded tenants/);
  const verify = createTokenVerifier({ issuer: DEV_ISSUER, allowedTenants: [otherTenant], audience: DEV_AUDIENCE, keySet: createLocalJWKSet({ keys: [jwk] }) });
  assert.match((await rejection(verify(`Bearer ${await issuer.mint({ tenantId, roles: ["Writeback.Operate"] })}`))).message, /not onboarded/);
  assert.equal((await verify(`Bearer ${await issuer.mint({ tenantId: otherTenant, roles: ["Writeback.Operate"] })}`)).tenantId, otherTenant);
});
