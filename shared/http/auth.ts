import { createHash } from "node:crypto";
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTVerifyGetKey } from "jose";
import { AppError } from "../errors/app-error.js";
import type { Principal, TokenVerifier } from "../ports/token-verifier.port.js";

export const ROLES = { operate: "Writeback.Operate", admin: "Writeback.Admin" } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

export type { Principal, TokenVerifier };

export interface TokenVerifierOptions {
  issuer: string;
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
    const key = await keys;
    try {
      const verifyOptions = { issuer: options.issuer, audience: options.audience, algorithms: ALGORITHMS, clockTolerance: tolerance, currentDate: new Date(now()), requiredClaims: ["exp"] };
      const { payload } = typeof key === "function" ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions);
      const tid = payload.tid;
      const roles = payload.roles;
      if (typeof tid !== "string" || typeof payload.sub !== "string") throw new AppError("UNAUTHENTICATED", { message: "The token lacks the tid or sub claim." });
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
