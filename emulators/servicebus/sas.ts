import { createHmac, timingSafeEqual } from "node:crypto";
import type { PolicyDef, Right } from "./config.js";

export interface Grant {
  /** Entity path the token covers ("" = the whole namespace). */
  scope: string;
  rights: Set<Right>;
  expiresAt: number;
}

export class SasError extends Error {
  override readonly name = "SasError";
}

/** The entity path of an audience such as sb://127.0.0.1:5672/tenant-x (or .../tenant-x/$management). */
export function entityOf(audienceOrAddress: string): string {
  let path = audienceOrAddress;
  const scheme = /^[a-z]+:\/\/[^/]+\/?/i.exec(path);
  if (scheme !== null) path = path.slice(scheme[0].length);
  path = path.replace(/^\/+|\/+$/g, "");
  const special = path.indexOf("/$");
  return (special >= 0 ? path.slice(0, special) : path).toLowerCase();
}

/**
 * Verifies "SharedAccessSignature sr=…&sig=…&se=…&skn=…" like Service Bus does: the signature
 * is HMAC-SHA256 with the policy key over `<url-encoded resource>\n<expiry>`; the policy must
 * exist (for that entity or namespace-wide) and the token must not have expired.
 */
export function verifySasToken(token: string, policies: readonly PolicyDef[], nowMs: number): Grant {
  const m = /^SharedAccessSignature (.+)$/.exec(token.trim());
  if (m?.[1] === undefined) throw new SasError("not a SharedAccessSignature");
  const fields = new Map<string, string>();
  for (const part of m[1].split("&")) {
    const i = part.indexOf("=");
    if (i > 0) fields.set(part.slice(0, i), part.slice(i + 1));
  }
  const sr = fields.get("sr");
  const sig = fields.get("sig");
  const se = fields.get("se");
  const skn = fields.get("skn");
  if (sr === undefined || sig === undefined || se === undefined || skn === undefined) throw new SasError("incomplete token");
  const expiresAt = Number(se) * 1000;
  if (!Number.isFinite(expiresAt) || expiresAt <= nowMs) throw new SasError("token expired");
  const scope = entityOf(decodeURIComponent(sr));
  const given = Buffer.from(decodeURIComponent(sig), "base64");
  const candidates = policies.filter((p) => p.name === skn);
  const rights = new Set<Right>();
  let signed = false;
  for (const p of candidates) {
    const expected = createHmac("sha256", p.key).update(`${sr}\n${se}`).digest();
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) continue;
    signed = true;
    // A queue-scoped rule covers only its queue; a namespace rule covers every entity.
    if (p.queue === undefined || (scope !== "" && p.queue.toLowerCase() === scope)) for (const r of p.rights) rights.add(r);
  }
  if (!signed) throw new SasError("invalid signature");
  if (rights.size === 0) throw new SasError("the rule does not cover this entity");
  return { scope, rights, expiresAt };
}

/** Manage implies Send and Listen. */
export function allows(grant: Grant, entity: string, right: Right, nowMs: number): boolean {
  if (grant.expiresAt <= nowMs) return false;
  if (grant.scope !== "" && grant.scope !== entity) return false;
  return grant.rights.has(right) || grant.rights.has("Manage");
}
