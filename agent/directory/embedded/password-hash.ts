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

export function hashPassword(utf16le: Uint8Array): StoredHash {
  const salt = randomBytes(16);
  return { salt, hash: digest(salt, utf16le) };
}

export function matches(stored: StoredHash, utf16le: Uint8Array): boolean {
  return timingSafeEqual(stored.hash, digest(stored.salt, utf16le));
}
