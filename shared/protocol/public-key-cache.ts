import { createPublicKey, type KeyObject } from "node:crypto";

const MAX_ENTRIES = 1024;
const parsed = new Map<string, KeyObject>();

/**
 * The KeyObject for a PEM public key, parsed once. Parsing an RSA PEM costs about as much as
 * the OAEP encryption itself, and every request to a tenant uses the same agent key. Public
 * keys only (nothing secret is retained); bounded, oldest entry dropped first.
 */
export function publicKeyFromPem(pem: string): KeyObject {
  let key = parsed.get(pem);
  if (key === undefined) {
    key = createPublicKey(pem);
    if (parsed.size >= MAX_ENTRIES) {
      const oldest = parsed.keys().next();
      if (oldest.done !== true) parsed.delete(oldest.value);
    }
    parsed.set(pem, key);
  }
  return key;
}
