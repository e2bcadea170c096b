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

export class LocalKeyVaultCredential implements TokenCredential {
  constructor(private readonly secret: Buffer) {}
  async getToken(): Promise<AccessToken> {
    return mintToken(this.secret);
  }
}

export function newTokenSecret(): Buffer {
  return randomBytes(32);
}
