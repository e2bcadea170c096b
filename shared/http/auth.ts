import { createHash } from "node:crypto";
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, importSPKI, jwtVerify, type JWTVerifyGetKey } from "jose";
import { AppError } from "../errors/app-error.js";
import type { Principal, TokenVerifier } from "../ports/token-verifier.port.js";
import { isUuid } from "../protocol/ids.js";

export const ROLES = { operate: "Writeback.Operate", admin: "Writeback.Admin" } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

export type { Principal, TokenVerifier };

/** The placeholder of a multi-tenant issuer, as in Entra's common discovery document. */
export const TENANT_ID_PLACEHOLDER = "{tenantid}";

export interface TokenVerifierOptions {
  /**
   * The expected `iss`. A multi-tenant app (Entra ID `/common` keys) gives a template with
   * `{tenantid}`, e.g. `https://login.microsoftonline.com/{tenantid}/v2.0`: each token's issuer
   * must then be the template filled with that token's own `tid`.
   */
  issuer: string;
  /**
   * The tenants onboarded in this deployment (lowercase GUIDs). Required with a `{tenantid}`
   * issuer; a token of any other tenant is refused before its signature is checked (a stranger's
   * token costs a decode, not an RSA verification).
   */
  allowedTenants?: readonly string[] | undefined;
  audience: string;
  jwksUrl?: string | undefined;
  publicKeyPem?: string | undefined;
  /** A key set in hand (for instance createLocalJWKSet of a JWKS document). */
  keySet?: JWTVerifyGetKey | undefined;
  /** Allowed clock difference, seconds. */
  clockToleranceSeconds?: number;
  /**
   * How long a verified token is remembered (default 300 s, 0 turns it off). Each hit still
   * checks the token's expiry; the bound is how long a token signed by a key the issuer has
   * since withdrawn can still be accepted.
   */
  verifiedTokenTtlSeconds?: number;
  /** Most tokens remembered at once (default 10,000; the oldest goes first). */
  verifiedTokenCacheSize?: number;
  /** Longest accepted lifetime, exp − iat (or exp − nbf, or exp − now), seconds (default 86,400). */
  maxTokenLifetimeSeconds?: number;
  /**
   * How long the key set fetched from jwksUrl is used before it is fetched again (default
   * 300 s). A key the issuer withdraws verifies new tokens until then: together with
   * verifiedTokenTtlSeconds this bounds how long such a token is accepted.
   */
  jwksMaxAgeSeconds?: number;
  now?: () => number;
}


const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"];
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
export const DEFAULT_JWKS_MAX_AGE_SECONDS = 300;

/** Validates `Authorization: Bearer <JWT>`: signature, issuer, audience, lifetime, tid claim. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  let keys: Promise<Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey>;
  if (options.keySet !== undefined) {
    keys = Promise.resolve(options.keySet);
  } else if (options.jwksUrl !== undefined) {
    const cacheMaxAge = (options.jwksMaxAgeSeconds ?? DEFAULT_JWKS_MAX_AGE_SECONDS) * 1000;
    // An unknown kid refetches at most every 30 s (never more often than the set's max age).
    keys = Promise.resolve(createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: Math.min(30_000, cacheMaxAge), cacheMaxAge }));
  } else if (options.publicKeyPem !== undefined) {
    const pem = options.publicKeyPem;
    keys = importSPKI(pem, "RS256");
  } else {
    throw new Error("a JWKS URL or a public key is required");
  }

  const multiTenant = options.issuer.toLowerCase().includes(TENANT_ID_PLACEHOLDER);
  const allowed = options.allowedTenants === undefined || options.allowedTenants.length === 0 ? undefined : new Set(options.allowedTenants.map((t) => t.toLowerCase()));
  if (multiTenant && allowed === undefined) throw new Error("a multi-tenant issuer needs the list of onboarded tenants");
  const issuerFor = (tid: string): string => (multiTenant ? options.issuer.replace(/\{tenantid\}/i, tid) : options.issuer);

  const tolerance = options.clockToleranceSeconds ?? 60;
  const maxLifetime = options.maxTokenLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  const now = options.now ?? Date.now;
  const remembered = new VerifiedTokens(options.verifiedTokenTtlSeconds ?? 300, options.verifiedTokenCacheSize ?? 10_000);

  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization ?? "");
    if (match?.[1] === undefined) throw new AppError("UNAUTHENTICATED", { message: "A bearer token is required." });
    // A frontend sends the same token for an hour: its RSA signature is checked once, not per request.
    const token = match[1];
    const id = tokenId(token);
    const known = remembered.get(id, now());
    if (known !== undefined) return known;
    // The tenant is read before the signature is checked only to choose the issuer and refuse
    // strangers early; the verified payload's tid is what the principal carries.
    const claimedTenant = allowed === undefined ? undefined : unverifiedTenant(token);
    if (allowed !== undefined && (claimedTenant === undefined || !allowed.has(claimedTenant))) {
      throw new AppError("UNAUTHENTICATED", { message: "The token's tenant is not onboarded in this deployment." });
    }
    const key = await keys;
    try {
      const verifyOptions = { issuer: issuerFor(claimedTenant ?? ""), audience: options.audience, algorithms: ALGORITHMS, clockTolerance: tolerance, currentDate: new Date(now()), requiredClaims: ["exp"] };
      const { payload } = typeof key === "function" ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions);
      const tid = payload.tid;
      const roles = payload.roles;
      if (typeof tid !== "string" || typeof payload.sub !== "string") throw new AppError("UNAUTHENTICATED", { message: "The token lacks the tid or sub claim." });
      if (claimedTenant !== undefined && tid.toLowerCase() !== claimedTenant) throw new AppError("UNAUTHENTICATED", { message: "The token's tenant is not onboarded in this deployment." });
      const exp = payload.exp as number; // required above
      if (exp - (payload.iat ?? payload.nbf ?? now() / 1000) > maxLifetime) throw new AppError("UNAUTHENTICATED", { message: "The token's lifetime is longer than this service accepts." });
      const principal: Principal = { subject: payload.sub, tenantId: tid.toLowerCase(), roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [] };
      remembered.set(id, principal, (exp + tolerance) * 1000, now());
      return principal;
    } catch (e) {
      if (e instanceof AppError) throw e;
      if (e instanceof joseErrors.JOSEError) throw new AppError("UNAUTHENTICATED", { message: tokenProblem(e) });
      throw new AppError("UNAUTHENTICATED", { message: "The token could not be validated." });
    }
  };
}

/**
 * Tokens whose signature, issuer, audience and lifetime were checked, keyed by tokenId (a
 * SHA-256 of the whole token: any change to it is a different key). An entry is used only
 * before the token's own expiry and for at most ttl after it was verified.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, { principal: Principal; usableUntil: number }>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly capacity: number,
  ) {}

  get(id: string, at: number): Principal | undefined {
    if (this.ttlSeconds <= 0) return undefined;
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (at < entry.usableUntil) return entry.principal;
    this.entries.delete(id);
    return undefined;
  }

  set(id: string, principal: Principal, expiresAt: number, at: number): void {
    if (this.ttlSeconds <= 0 || expiresAt <= at) return;
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(id, { principal, usableUntil: Math.min(expiresAt, at + this.ttlSeconds * 1000) });
  }
}

/** The token's `tid` as a lowercase GUID, unverified; undefined when absent or malformed. */
function unverifiedTenant(token: string): string | undefined {
  try {
    const tid = decodeJwt(token).tid;
    if (typeof tid !== "string") return undefined;
    const lower = tid.toLowerCase();
    return isUuid(lower) ? lower : undefined;
  } catch {
    return undefined;
  }
}

function tokenId(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

function tokenProblem(e: InstanceType<typeof joseErrors.JOSEError>): string {
  if (e instanceof joseErrors.JWTExpired) return "The token has expired.";
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `The token's ${e.claim} claim is not accepted.`;
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return "The token's signature is not valid.";
  return "The token is not valid.";
}

/** The route's tenant must be the token's, and the token must carry the role. */
export function authorize(principal: Principal, tenantId: string, role: Role): void {
  if (principal.tenantId !== tenantId.toLowerCase()) throw new AppError("FORBIDDEN", { message: "The token is for another tenant." });
  if (!principal.roles.includes(role)) throw new AppError("FORBIDDEN", { message: `The token lacks the ${role} role.` });
}

export { createLocalJWKSet };
