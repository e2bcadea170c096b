import { constants, createCipheriv, createDecipheriv, privateDecrypt, publicEncrypt, randomBytes, type KeyLike } from "node:crypto";

export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const RSA_BLOCK_BYTES = 256;

export class DecryptionError extends Error {
  override readonly name = "DecryptionError";
}

export function aesGcmSeal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  if (key.length !== AES_KEY_BYTES) throw new RangeError("AES-256 key must be 32 bytes");
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

export function aesGcmOpen(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  if (key.length !== AES_KEY_BYTES) throw new RangeError("AES-256 key must be 32 bytes");
  if (sealed.length < GCM_TAG_BYTES) throw new DecryptionError("sealed data too short");
  const body = sealed.subarray(0, sealed.length - GCM_TAG_BYTES);
  const tag = sealed.subarray(sealed.length - GCM_TAG_BYTES);
  let plaintext: Buffer | undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    // GCM has no padding: update() yields all of it and final() only checks the tag. One
    // buffer, not a concatenated copy, so the plaintext (passwords) exists once and is zeroed.
    plaintext = decipher.update(body);
    decipher.final();
    return plaintext;
  } catch {
    plaintext?.fill(0);
    throw new DecryptionError("authentication failed");
  }
}

export function rsaOaepEncrypt(publicKey: KeyLike, plaintext: Uint8Array): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, plaintext);
}

export function rsaOaepDecrypt(privateKey: KeyLike, ciphertext: Uint8Array): Buffer {
  try {
    return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, ciphertext);
  } catch {
    throw new DecryptionError("RSA-OAEP decryption failed");
  }
}

/**
 * CSPRNG output drawn 4 KiB at a time (as Node's randomUUID does): one RAND_bytes call costs
 * about 5–7 µs here whatever its size, and every request needs a key and an IV. Each byte is
 * handed out once, copied, and wiped from the pool as it goes.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function freshRandom(n: number): Buffer {
  if (n > POOL_BYTES) return randomBytes(n);
  if (poolOffset + n > pool.length) {
    pool.fill(0);
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const used = pool.subarray(poolOffset, poolOffset + n);
  const out = Buffer.from(used);
  used.fill(0);
  poolOffset += n;
  return out;
}

export function randomKey(): Buffer {
  return freshRandom(AES_KEY_BYTES);
}

export function randomIv(): Buffer {
  return freshRandom(GCM_IV_BYTES);
}
