import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { test } from "node:test";
import { createLocalJWKSet, type JWTVerifyGetKey } from "jose";
import { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER } from "../../../shared/dev/dev-token-issuer.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { createTokenVerifier } from "../../../shared/http/auth.js";

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
