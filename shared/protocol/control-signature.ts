import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { uuidToBytes } from "./ids.js";

/**
 * The backend's control-signing keys (Ed25519): the chain of trust for control messages.
 *
 * Package keys authenticate requests, but a package key is delivered to the agent wrapped
 * for its RSA public key, which is not secret. So the delivery itself (and every other
 * control message) is signed with a per-tenant Ed25519 key that only the backend holds
 * (Key Vault); the agent pins its public half at `agent register`, from the registration
 * response. A new signing key is endorsed by the previous one (a signature over the new
 * public key), so an agent can follow a rotation without trusting the relay.
 *
 * Key id: the first 8 bytes of SHA-256 over a domain label and the raw 32-byte public key.
 */
export const SIGNING_KEY_ID_BYTES = 8;
export const SIGNING_PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/** signer key id | Ed25519 signature: appended to every control message. */
export const CONTROL_TRAILER_BYTES = SIGNING_KEY_ID_BYTES + SIGNATURE_BYTES;

const KEY_ID_LABEL = Buffer.from("writeback-control-signing-key-v1", "ascii");
const CONTROL_LABEL = Buffer.from("writeback-control-message-v1", "ascii");
const ENDORSEMENT_LABEL = Buffer.from("writeback-signing-key-endorsement-v1", "ascii");
// SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410): the raw 32 bytes follow.
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export class SigningKeyFormatError extends Error {
  override readonly name = "SigningKeyFormatError";
}

/** The backend's private signing key, as the control-message sealers need it. */
export interface ControlSigner {
  keyId: Buffer;
  privateKey: KeyObject;
}

export function signingKeyId(publicKeyRaw: Uint8Array): Buffer {
  return createHash("sha256").update(KEY_ID_LABEL).update(publicKeyRaw).digest().subarray(0, SIGNING_KEY_ID_BYTES);
}

export function signingPublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== SIGNING_PUBLIC_KEY_BYTES) throw new SigningKeyFormatError("an Ed25519 public key has 32 bytes");
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

export function rawSigningPublicKey(key: KeyObject): Buffer {
  const der = key.export({ type: "spki", format: "der" });
  if (key.asymmetricKeyType !== "ed25519" || der.length !== ED25519_SPKI_PREFIX.length + SIGNING_PUBLIC_KEY_BYTES) throw new SigningKeyFormatError("not an Ed25519 key");
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
}

/** A fresh signing key: PKCS#8 DER of the private half (what Key Vault keeps) and the raw public half. */
export function generateSigningKey(): { privateKeyDer: Buffer; publicKeyRaw: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKeyDer: privateKey.export({ type: "pkcs8", format: "der" }), publicKeyRaw: rawSigningPublicKey(publicKey) };
}

export function signingPrivateKeyFromDer(der: Uint8Array): KeyObject {
  const key = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  if (key.asymmetricKeyType !== "ed25519") throw new SigningKeyFormatError("not an Ed25519 private key");
  return key;
}

function controlSignedBytes(tenantId: string, message: Uint8Array): Buffer[] {
  return [CONTROL_LABEL, uuidToBytes(tenantId), Buffer.from(message.buffer, message.byteOffset, message.byteLength)];
}

/** The trailer for a control message: the signature binds the tenant (not sent) and every byte before it. */
export function signControlMessage(message: Uint8Array, tenantId: string, signer: ControlSigner): Buffer {
  const signature = sign(null, Buffer.concat(controlSignedBytes(tenantId, message)), signer.privateKey);
  return Buffer.concat([signer.keyId, signature]);
}

export function verifyControlSignature(message: Uint8Array, tenantId: string, signature: Uint8Array, publicKey: KeyObject): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  return verify(null, Buffer.concat(controlSignedBytes(tenantId, message)), publicKey, signature);
}

function endorsementBytes(tenantId: string, newPublicKeyRaw: Uint8Array): Buffer {
  return Buffer.concat([ENDORSEMENT_LABEL, uuidToBytes(tenantId), newPublicKeyRaw]);
}

/** The previous signing key's statement that `newPublicKeyRaw` succeeds it for this tenant. */
export function endorseSigningKey(previous: KeyObject, tenantId: string, newPublicKeyRaw: Uint8Array): Buffer {
  return sign(null, endorsementBytes(tenantId, newPublicKeyRaw), previous);
}

export function verifyEndorsement(previousPublicKey: KeyObject, tenantId: string, newPublicKeyRaw: Uint8Array, endorsement: Uint8Array): boolean {
  if (endorsement.length !== SIGNATURE_BYTES || newPublicKeyRaw.length !== SIGNING_PUBLIC_KEY_BYTES) return false;
  return verify(null, endorsementBytes(tenantId, newPublicKeyRaw), previousPublicKey, endorsement);
}

/** One step of a signing-key rotation as it travels: the new public key and its endorsement by the key before it. */
export interface EndorsedSigningKey {
  publicKeyRaw: Buffer;
  endorsement: Buffer;
}
