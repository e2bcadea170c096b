import { createPublicKey, generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { importPKCS8, SignJWT } from "jose";

/**
 * A local token issuer for development and tests: an RSA key pair kept in a local folder,
 * whose public key the function app trusts through AUTH_PUBLIC_KEY_PEM. Never for production:
 * production trusts Entra ID (AUTH_JWKS_URL).
 */
export const DEV_ISSUER = "https://writeback.local/dev-issuer";
export const DEV_AUDIENCE = "api://password-writeback";

export interface DevTokenClaims {
  tenantId: string;
  roles: string[];
  subject?: string;
  /** Seconds; negative makes an already expired token (tests). */
  lifetimeSeconds?: number;
  issuer?: string;
  audience?: string;
}

export interface DevTokenIssuer {
  publicKeyPem: string;
  mint(claims: DevTokenClaims): Promise<string>;
}

export function createDevTokenIssuer(privateKeyPem?: string): DevTokenIssuer {
  const pair =
    privateKeyPem === undefined
      ? generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } })
      : undefined;
  const privatePem = privateKeyPem ?? pair?.privateKey ?? "";
  const publicKeyPem = pair?.publicKey ?? derivePublic(privatePem);
  const key = importPKCS8(privatePem, "RS256");
  return {
    publicKeyPem,
    async mint(claims) {
      const now = Math.floor(Date.now() / 1000);
      const lifetime = claims.lifetimeSeconds ?? 3600;
      return new SignJWT({ tid: claims.tenantId, roles: claims.roles })
        .setProtectedHeader({ alg: "RS256", typ: "JWT" })
        .setIssuer(claims.issuer ?? DEV_ISSUER)
        .setAudience(claims.audience ?? DEV_AUDIENCE)
        .setSubject(claims.subject ?? `dev-${randomUUID()}`)
        .setIssuedAt(now - (lifetime < 0 ? 2 * -lifetime : 0))
        .setNotBefore(now - (lifetime < 0 ? 2 * -lifetime : 0))
        .setExpirationTime(now + lifetime)
        .setJti(randomUUID())
        .sign(await key);
    },
  };
}

function derivePublic(privatePem: string): string {
  return createPublicKey(privatePem).export({ type: "spki", format: "pem" }).toString();
}

/** The issuer kept in `<dir>/dev-issuer.pem` (created with mode 0600 on first use). */
export function loadDevTokenIssuer(dir: string): DevTokenIssuer {
  const file = join(dir, "dev-issuer.pem");
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    writeFileSync(file, privateKey, { mode: 0o600 });
  }
  return createDevTokenIssuer(readFileSync(file, "utf8"));
}
