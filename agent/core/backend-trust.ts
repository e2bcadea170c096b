import { randomBytes, type KeyObject } from "node:crypto";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  signingKeyId,
  signingPublicKeyFromRaw,
  verifyControlSignature,
  verifyEndorsement,
  SIGNING_PUBLIC_KEY_BYTES,
} from "../../shared/protocol/control-signature.js";
import type { ControlTrailer, SigningKeyUpdate } from "../../shared/protocol/envelope.js";

/** Why a control message was not trusted; each is logged with its stable code. */
export type TrustRejection = "unsigned" | "untrustedSigner" | "forged";

export const TRUST_REJECTION_CODES: Record<TrustRejection, string> = {
  unsigned: "CONTROL_MESSAGE_UNSIGNED",
  untrustedSigner: "CONTROL_SIGNER_UNKNOWN",
  forged: "CONTROL_SIGNATURE_INVALID",
};

/** Every stable code the agent reports about its trust in the backend (logs, command errors); the README names them. */
export const AGENT_TRUST_CODES = [
  ...Object.values(TRUST_REJECTION_CODES),
  "BACKEND_KEY_NOT_PINNED",
  "BACKEND_KEY_PIN_INVALID",
  "BACKEND_KEY_PIN_UNWRITABLE",
  "BACKEND_KEY_MISSING",
  "BACKEND_KEY_PIN_MISMATCH",
  "KEY_VERSION_OUT_OF_ORDER",
  "KEY_VERSION_STALE",
] as const;

export class BackendTrustError extends Error {
  override readonly name = "BackendTrustError";
  constructor(
    readonly code: "BACKEND_KEY_NOT_PINNED" | "BACKEND_KEY_PIN_INVALID" | "BACKEND_KEY_PIN_UNWRITABLE",
    message: string,
  ) {
    super(message);
  }
}

/** The backend's signing key as the registration response gives it (and the pin file keeps it). */
export interface PinnedSigningKey {
  algorithm: "Ed25519";
  /** 16 hex digits. */
  keyId: string;
  /** Raw 32-byte public key, base64. */
  publicKey: string;
}

interface PinFile extends PinnedSigningKey {
  v: 1;
  tenantId: string;
  pinnedAt: string;
}

function parsePinned(tenantId: string, value: unknown): { raw: Buffer; key: KeyObject; keyId: string } {
  const p = value as Partial<PinFile>;
  if (p.algorithm !== "Ed25519" || typeof p.publicKey !== "string" || typeof p.keyId !== "string") throw new Error("format");
  if (p.tenantId !== undefined && p.tenantId.toLowerCase() !== tenantId.toLowerCase()) throw new Error("tenant");
  const raw = Buffer.from(p.publicKey, "base64");
  if (raw.length !== SIGNING_PUBLIC_KEY_BYTES) throw new Error("size");
  const keyId = signingKeyId(raw).toString("hex");
  if (keyId !== p.keyId.toLowerCase()) throw new Error("key id does not match the key");
  return { raw, key: signingPublicKeyFromRaw(raw), keyId };
}

/**
 * The agent's end of the chain of trust: the backend's control-signing public key, pinned at
 * `agent register` (from the admin-authenticated registration response) and moved forward
 * only by an update whose every step is endorsed by the key before it. A message signed by
 * any other key (a retired one, an unknown one) is refused. Verifying costs one Ed25519
 * check and happens before any RSA decryption, so forgeries cost the agent next to nothing.
 *
 * The pin file is not secret (a public key) but is the agent's root of trust: it is written
 * mode 0600 by temp-and-rename next to the private key, under the same protection.
 */
export class BackendTrust {
  private constructor(
    private readonly tenantId: string,
    private pinned: { raw: Buffer; key: KeyObject; keyId: string },
    private readonly file: string | undefined,
  ) {}

  /** Loads the pin; an agent without one (installed before control messages were signed) must be pinned first. */
  static async open(file: string, tenantId: string): Promise<BackendTrust> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new BackendTrustError("BACKEND_KEY_NOT_PINNED", `BACKEND_KEY_NOT_PINNED: no backend signing key is pinned (${file}). Run \`agent pin-backend-key\` (keeps this agent's key pair) or \`agent register --force\`.`);
      }
      throw new BackendTrustError("BACKEND_KEY_PIN_INVALID", `BACKEND_KEY_PIN_INVALID: cannot read ${file}.`);
    }
    try {
      return new BackendTrust(tenantId, parsePinned(tenantId, JSON.parse(text)), file);
    } catch {
      throw new BackendTrustError("BACKEND_KEY_PIN_INVALID", `BACKEND_KEY_PIN_INVALID: ${file} does not hold a valid backend signing key for tenant ${tenantId}. Run \`agent pin-backend-key\`.`);
    }
  }

  /** A pin held in memory (tests, the in-process stack); `file` makes updates persist. */
  static fromPinned(tenantId: string, pinned: PinnedSigningKey, file?: string): BackendTrust {
    try {
      return new BackendTrust(tenantId, parsePinned(tenantId, pinned), file);
    } catch {
      throw new BackendTrustError("BACKEND_KEY_PIN_INVALID", "BACKEND_KEY_PIN_INVALID: the backend signing key is malformed or its key id does not match.");
    }
  }

  /** Writes a pin file (register, pin-backend-key), after checking that the key id matches the key. */
  static async pin(file: string, tenantId: string, pinned: PinnedSigningKey): Promise<BackendTrust> {
    const trust = BackendTrust.fromPinned(tenantId, pinned, file);
    await trust.persist();
    return trust;
  }

  /** The pinned key's id (16 hex digits), reported in heartbeats so the backend sees a mismatch. */
  get keyId(): string {
    return this.pinned.keyId;
  }

  /** Checks a control message's signature against the pinned key. */
  verify(trailer: ControlTrailer | undefined): TrustRejection | undefined {
    if (trailer === undefined) return "unsigned";
    if (trailer.signerKeyId.toString("hex") !== this.pinned.keyId) return "untrustedSigner";
    return verifyControlSignature(trailer.signedBytes, this.tenantId, trailer.signature, this.pinned.key) ? undefined : "forged";
  }

  /**
   * Checks a signing-key update without applying it: the chain must start from the pinned key
   * (each step endorsed by the key before it) and its last key must have signed the message.
   * Returns the key to pin, or why not.
   */
  check(update: SigningKeyUpdate, trailer: ControlTrailer | undefined): { next: Buffer } | { rejection: TrustRejection } {
    if (trailer === undefined) return { rejection: "unsigned" };
    let previous = this.pinned.key;
    // An update sent again after it was applied starts before the pinned key: resume after it.
    const pinnedAt = update.chain.findIndex((step) => signingKeyId(step.publicKeyRaw).toString("hex") === this.pinned.keyId);
    for (const step of update.chain.slice(pinnedAt + 1)) {
      if (!verifyEndorsement(previous, this.tenantId, step.publicKeyRaw, step.endorsement)) return { rejection: "untrustedSigner" };
      previous = signingPublicKeyFromRaw(step.publicKeyRaw);
    }
    const last = update.chain[update.chain.length - 1]!.publicKeyRaw;
    if (!signingKeyId(last).equals(trailer.signerKeyId)) return { rejection: "untrustedSigner" };
    if (!verifyControlSignature(trailer.signedBytes, this.tenantId, trailer.signature, previous)) return { rejection: "forged" };
    return { next: last };
  }

  /** Pins the key a checked update leads to; the previous key is trusted no more. */
  async advance(next: Buffer): Promise<void> {
    const before = this.pinned;
    this.pinned = { raw: Buffer.from(next), key: signingPublicKeyFromRaw(next), keyId: signingKeyId(next).toString("hex") };
    try {
      await this.persist();
    } catch (e) {
      this.pinned = before;
      throw e;
    }
  }

  private async persist(): Promise<void> {
    if (this.file === undefined) return;
    const body: PinFile = { v: 1, tenantId: this.tenantId, algorithm: "Ed25519", keyId: this.pinned.keyId, publicKey: this.pinned.raw.toString("base64"), pinnedAt: new Date().toISOString() };
    const temp = `${this.file}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(temp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      await rename(temp, this.file);
    } catch (e) {
      await unlink(temp).catch(() => {});
      throw new BackendTrustError("BACKEND_KEY_PIN_UNWRITABLE", `BACKEND_KEY_PIN_UNWRITABLE: cannot write ${this.file}: ${(e as NodeJS.ErrnoException).code ?? "error"}.`);
    }
  }
}
