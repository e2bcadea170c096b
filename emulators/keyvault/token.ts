import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { AccessToken, TokenCredential } from "@azure/core-auth";

export const VAULT_AUDIENCE = "https://vault.azure.net";

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** HS256 tokens: the peer holds the secret; LocalKeyVaultCredential mints with it. */
export function mintToken(secret: Buffer, lifetimeSeconds = 3600): AccessToken {
  const exp = Math.floor(Date.now() / 1000) + lifetimeSeconds;
  const head = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify({ aud: VAULT_AUDIENCE, exp, sub: "local-keyvault-client" }))}`;
  return { token: `${head}.${b64url(createHmac("sha256", secret).update(head).digest())}`, expiresOnTimestamp: exp * 1000 };
}

export function verifyToken(secret: Buffer, token: string): boolean {
  const [h, p, s] = token.split(".");
  if (h === undefined || p === undefined || s === undefined) return false;
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  try {
    const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as { aud?: string; exp?: number };
    return claims.aud === VAULT_AUDIENCE && typeof claims.exp === "number" && claims.exp * 1000 > Date.now();
  } catch {
    return false;
  }
}

/** Audiences Key Vault accepts: the resource URL (with or without the slash) and its app id. */
const VAULT_AUDIENCES = new Set([VAULT_AUDIENCE, `${VAULT_AUDIENCE}/`, "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"]);

/**
 * What other Key Vault emulators accept, so that any client on the machine (a separately
 * started function app, another SDK, Azure CLI tokens) can use the peer: a JWT of three
 * base64url parts whose header and claims are JSON, unexpired, for Key Vault if it names an
 * audience. The signature is not checked: a development peer has no Entra ID keys.
 */
export function isWellFormedToken(token: string, nowMs = Date.now()): boolean {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p, i) => (i < 2 ? !/^[A-Za-z0-9_-]+$/.test(p) : !/^[A-Za-z0-9_-]*$/.test(p)))) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0] ?? "", "base64url").toString("utf8")) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown; aud?: unknown } | null;
    if (header === null || typeof header !== "object" || claims === null || typeof claims !== "object") return false;
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= nowMs) return false;
    return claims.aud === undefined || (typeof claims.aud === "string" && VAULT_AUDIENCES.has(claims.aud));
  } catch {
    return false;
  }
}

/** An unsigned development token (alg "none") that a peer accepting well-formed tokens takes. */
export function developmentToken(lifetimeSeconds = 3600): AccessToken {
  const exp = Math.floor(Date.now() / 1000) + lifetimeSeconds;
  return { token: `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify({ aud: VAULT_AUDIENCE, exp, sub: "local-development" }))}.`, expiresOnTimestamp: exp * 1000 };
}

export class LocalKeyVaultCredential implements TokenCredential {
  constructor(private readonly secret: Buffer) {}
  async getToken(): Promise<AccessToken> {
    return mintToken(this.secret);
  }
}

export function newTokenSecret(): Buffer {
  return randomBytes(32);
}
