import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTVerifyGetKey } from "jose";
import { AppError } from "../errors/app-error.js";

export const ROLES = { operate: "Writeback.Operate", admin: "Writeback.Admin" } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

export interface Principal {
  subject: string;
  tenantId: string;
  roles: readonly string[];
}

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  jwksUrl?: string | undefined;
  publicKeyPem?: string | undefined;
  /** Allowed clock difference, seconds. */
  clockToleranceSeconds?: number;
}

export type TokenVerifier = (authorization: string | null) => Promise<Principal>;

const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"];

/** Validates `Authorization: Bearer <JWT>`: signature, issuer, audience, lifetime, tid claim. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  let keys: Promise<Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey>;
  if (options.jwksUrl !== undefined) {
    keys = Promise.resolve(createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 }));
  } else if (options.publicKeyPem !== undefined) {
    const pem = options.publicKeyPem;
    keys = importSPKI(pem, "RS256");
  } else {
    throw new Error("a JWKS URL or a public key is required");
  }

  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization ?? "");
    if (match?.[1] === undefined) throw new AppError("UNAUTHENTICATED", { message: "A bearer token is required." });
    const key = await keys;
    try {
      const verifyOptions = { issuer: options.issuer, audience: options.audience, algorithms: ALGORITHMS, clockTolerance: options.clockToleranceSeconds ?? 60 };
      const { payload } =
        typeof key === "function" ? await jwtVerify(match[1], key, verifyOptions) : await jwtVerify(match[1], key, verifyOptions);
      const tid = payload.tid;
      const roles = payload.roles;
      if (typeof tid !== "string" || typeof payload.sub !== "string") throw new AppError("UNAUTHENTICATED", { message: "The token lacks the tid or sub claim." });
      return { subject: payload.sub, tenantId: tid.toLowerCase(), roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [] };
    } catch (e) {
      if (e instanceof AppError) throw e;
      if (e instanceof joseErrors.JOSEError) throw new AppError("UNAUTHENTICATED", { message: tokenProblem(e) });
      throw new AppError("UNAUTHENTICATED", { message: "The token could not be validated." });
    }
  };
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
