import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * What the embedded directory keeps of a password: a salted HMAC-SHA256 over its UTF-16LE
 * bytes (AD hashes UTF-16LE too). Never the plaintext. Deliberately fast (a few µs), not a
 * slow password hash: this is an in-memory test and local-stack model whose hashes never
 * leave the process, and a history check hashes the candidate once per remembered password.
 */
export interface StoredHash {
  salt: Buffer;
  hash: Buffer;
}

function digest(salt: Buffer, utf16le: Uint8Array): Buffer {
  return createHmac("sha256", salt).update(utf16le).digest();
}

/** One account's history shares its salt (`salt` from its newest entry): a check then hashes the candidate once. */
export function hashPassword(utf16le: Uint8Array, salt: Buffer = randomBytes(16)): StoredHash {
  return { salt, hash: digest(salt, utf16le) };
}

export function matches(stored: StoredHash, utf16le: Uint8Array): boolean {
  return timingSafeEqual(stored.hash, digest(stored.salt, utf16le));
}

/** Whether any entry matches, hashing the candidate once per distinct salt (entries stored before salts were shared). */
export function matchesAny(entries: readonly StoredHash[], utf16le: Uint8Array): boolean {
  const bySalt = new Map<Buffer, Buffer>();
  let found = false;
  for (const e of entries) {
    let d = bySalt.get(e.salt);
    if (d === undefined) {
      d = digest(e.salt, utf16le);
      bySalt.set(e.salt, d);
    }
    // Every entry is compared: how long a check takes says nothing about which one matched.
    if (timingSafeEqual(e.hash, d)) found = true;
  }
  return found;
}
