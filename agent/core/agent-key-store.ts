import { createPrivateKey, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { aesGcmOpen, aesGcmSeal, AES_KEY_BYTES, GCM_IV_BYTES } from "../../shared/protocol/primitives.js";
import { privateFileProblem } from "./private-file.js";

export class AgentKeyError extends Error {
  override readonly name = "AgentKeyError";
}

interface HeldKey {
  version: number;
  key: Buffer;
}

export interface KeyDeliveryTerms {
  keyVersion: number;
  /** 0 when there is none. */
  previousKeyVersion: number;
  previousValidUntil: Date;
}

export type KeyAcceptance = "stored" | "alreadyHeld" | "stale" | "outOfOrder";

/**
 * How far one delivery may move the version forward. The backend allocates one version per
 * rotation; a delivery the agent never received leaves a gap, so the step is bounded rather
 * than exactly one: a version far ahead (2^32 − 1, say) is refused, whoever signed it.
 */
export const MAX_KEY_VERSION_STEP = 16;

/** The agent's own bound on the previous key's overlap; the delivery's previousValidUntil can only shorten it. */
export interface OverlapRule {
  cloudNow: Date;
  maxOverlapMs: number;
}

export type KeyStateStatus = "loaded" | "empty" | "unreadable";

export interface AgentKeyStoreOpenOptions {
  privateKeyFile: string;
  passphrase?: string | undefined;
  /** Where received package keys are kept (mode 0600, encrypted). */
  stateFile: string;
}

const STATE_INFO = Buffer.from("writeback-agent-keystore-v1", "ascii");
// Plaintext layout: current version u32 | current key 32 | previous version u32 | previous valid-until ms (double) | previous key 32.
const STATE_BYTES = 4 + AES_KEY_BYTES + 4 + 8 + AES_KEY_BYTES;

/**
 * The agent's secrets: its RSA private key and the package keys the backend delivered.
 *
 * Acceptance: the current version always; the previous version only until the
 * previousValidUntil its delivery named (cloud time); nothing else.
 *
 * At rest, the package keys are AES-256-GCM encrypted under a key derived with HKDF-SHA256
 * from the agent's private key (PKCS#8 DER) and a fresh salt per write. Deriving from the
 * private key rather than from the passphrase: the state is worthless without the private key
 * anyway (it opens every password), so no second secret has to be managed, it works whether
 * or not the private key has a passphrase (with one, the DER is reachable only through it),
 * and a copied state file (backup, support bundle) reveals nothing. HKDF, not a slow KDF,
 * because the input is a 2048-bit key, not a guessable password. A new key pair (re-register)
 * makes the old state unreadable: the agent starts empty and the backend redelivers a key
 * when the heartbeat shows none.
 */
export class AgentKeyStore {
  private current: HeldKey | undefined;
  private previous: (HeldKey & { validUntil: number }) | undefined;
  private readonly stateKeyMaterial: Buffer;
  private writing: Promise<void> = Promise.resolve();
  private loadStatus: KeyStateStatus = "empty";

  private constructor(
    readonly privateKey: KeyObject,
    private readonly stateFile: string | undefined,
  ) {
    this.stateKeyMaterial = privateKey.export({ type: "pkcs8", format: "der" });
  }

  /** Loads the private key (PEM, optionally passphrase-encrypted) and the persisted package keys. */
  static async open(o: AgentKeyStoreOpenOptions): Promise<AgentKeyStore> {
    let pem: Buffer;
    try {
      pem = await readFile(o.privateKeyFile);
    } catch {
      throw new AgentKeyError(`Cannot read the agent private key ${o.privateKeyFile}. Run \`agent register\` first.`);
    }
    // Like ssh: a key (or key state) file others can read is refused, not used.
    const problem = (await privateFileProblem(o.privateKeyFile)) ?? (o.stateFile === undefined ? undefined : await privateFileProblem(o.stateFile).catch(() => undefined));
    if (problem !== undefined) {
      pem.fill(0);
      throw new AgentKeyError(`Refusing to start: ${problem}.`);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(o.passphrase === undefined ? { key: pem } : { key: pem, passphrase: o.passphrase });
    } catch {
      throw new AgentKeyError(`The agent private key ${o.privateKeyFile} cannot be loaded: wrong or missing passphrase, or not a PEM private key.`);
    } finally {
      pem.fill(0);
    }
    if (privateKey.asymmetricKeyType !== "rsa") throw new AgentKeyError(`The agent private key ${o.privateKeyFile} is not an RSA key.`);
    return AgentKeyStore.fromPrivateKey(privateKey, o.stateFile);
  }

  /** With a key already loaded; without stateFile the package keys live in memory only. */
  static async fromPrivateKey(privateKey: KeyObject, stateFile?: string): Promise<AgentKeyStore> {
    const store = new AgentKeyStore(privateKey, stateFile);
    await store.load();
    return store;
  }

  /** How the persisted state was found at start: "unreadable" means written for another key pair or damaged. */
  get stateStatus(): KeyStateStatus {
    return this.loadStatus;
  }

  keyFor(version: number, cloudNow: Date): Buffer | undefined {
    if (this.current !== undefined && this.current.version === version) return this.current.key;
    if (this.previous !== undefined && this.previous.version === version && cloudNow.getTime() < this.previous.validUntil) return this.previous.key;
    return undefined;
  }

  /** Versions accepted now (never the keys). */
  heldVersions(cloudNow: Date): number[] {
    const versions: number[] = [];
    if (this.current !== undefined) versions.push(this.current.version);
    if (this.previous !== undefined && cloudNow.getTime() < this.previous.validUntil) versions.push(this.previous.version);
    return versions;
  }

  currentVersion(): number | undefined {
    return this.current?.version;
  }

  /**
   * Takes a delivered key (copied; the caller zeroes its buffer). A lower version than the
   * current one is stale and not stored; the same version with the same key is idempotent;
   * more than MAX_KEY_VERSION_STEP ahead is out of order. The previous key stays accepted
   * until the delivery's previousValidUntil, but never longer than `rule` allows from now.
   */
  async accept(terms: KeyDeliveryTerms, key: Uint8Array, rule?: OverlapRule): Promise<KeyAcceptance> {
    if (key.length !== AES_KEY_BYTES) throw new RangeError("a package key has 32 bytes");
    if (terms.keyVersion < 1) return "outOfOrder";
    if (this.current !== undefined) {
      if (terms.keyVersion < this.current.version) return "stale";
      if (terms.keyVersion === this.current.version) return this.current.key.equals(key) ? "alreadyHeld" : "stale";
      if (terms.keyVersion > this.current.version + MAX_KEY_VERSION_STEP) return "outOfOrder";
    }
    const keep = this.heldKey(terms.previousKeyVersion);
    const discarded = [this.current, this.previous].filter((k): k is HeldKey => k !== undefined && k !== keep);
    const validUntil = rule === undefined ? terms.previousValidUntil.getTime() : Math.min(terms.previousValidUntil.getTime(), rule.cloudNow.getTime() + rule.maxOverlapMs);
    this.previous = keep === undefined ? undefined : { version: keep.version, key: keep.key, validUntil };
    this.current = { version: terms.keyVersion, key: Buffer.from(key) };
    for (const k of discarded) k.key.fill(0);
    await this.persist();
    return "stored";
  }

  /** Hands the agent a key directly (bootstrap before key delivery exists, tests). */
  async install(version: number, key: Uint8Array): Promise<void> {
    await this.accept({ keyVersion: version, previousKeyVersion: 0, previousValidUntil: new Date(0) }, key);
  }

  /** Writeback disabled: forget every package key, in memory and on disk. */
  async discardAll(): Promise<void> {
    this.current?.key.fill(0);
    this.previous?.key.fill(0);
    this.current = undefined;
    this.previous = undefined;
    await this.persist();
  }

  private heldKey(version: number): HeldKey | undefined {
    if (version === 0) return undefined;
    if (this.current?.version === version) return this.current;
    if (this.previous?.version === version) return this.previous;
    return undefined;
  }

  private stateKey(salt: Buffer): Buffer {
    return Buffer.from(hkdfSync("sha256", this.stateKeyMaterial, salt, STATE_INFO, AES_KEY_BYTES));
  }

  private async load(): Promise<void> {
    if (this.stateFile === undefined) return;
    let text: string;
    try {
      text = await readFile(this.stateFile, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new AgentKeyError(`Cannot read the agent key state ${this.stateFile}.`);
    }
    let plain: Buffer | undefined;
    try {
      const parsed = JSON.parse(text) as { v?: unknown; salt?: unknown; iv?: unknown; data?: unknown };
      if (parsed.v !== 1 || typeof parsed.salt !== "string" || typeof parsed.iv !== "string" || typeof parsed.data !== "string") throw new Error("format");
      const stateKey = this.stateKey(Buffer.from(parsed.salt, "base64"));
      try {
        plain = aesGcmOpen(stateKey, Buffer.from(parsed.iv, "base64"), Buffer.from(parsed.data, "base64"), STATE_INFO);
      } finally {
        stateKey.fill(0);
      }
      if (plain.length !== STATE_BYTES) throw new Error("size");
      const currentVersion = plain.readUInt32BE(0);
      const previousVersion = plain.readUInt32BE(4 + AES_KEY_BYTES);
      if (currentVersion !== 0) this.current = { version: currentVersion, key: Buffer.from(plain.subarray(4, 4 + AES_KEY_BYTES)) };
      if (previousVersion !== 0) {
        const at = 8 + AES_KEY_BYTES;
        this.previous = { version: previousVersion, validUntil: plain.readDoubleBE(at), key: Buffer.from(plain.subarray(at + 8, at + 8 + AES_KEY_BYTES)) };
      }
      this.loadStatus = this.current === undefined ? "empty" : "loaded";
    } catch {
      this.loadStatus = "unreadable";
    } finally {
      plain?.fill(0);
    }
  }

  private persist(): Promise<void> {
    const file = this.stateFile;
    if (file === undefined) return Promise.resolve();
    const plain = Buffer.alloc(STATE_BYTES);
    if (this.current !== undefined) {
      plain.writeUInt32BE(this.current.version, 0);
      this.current.key.copy(plain, 4);
    }
    if (this.previous !== undefined) {
      const at = 4 + AES_KEY_BYTES;
      plain.writeUInt32BE(this.previous.version, at);
      plain.writeDoubleBE(this.previous.validUntil, at + 4);
      this.previous.key.copy(plain, at + 12);
    }
    const salt = randomBytes(16);
    const iv = randomBytes(GCM_IV_BYTES);
    const stateKey = this.stateKey(salt);
    let sealed: Buffer;
    try {
      sealed = aesGcmSeal(stateKey, iv, plain, STATE_INFO);
    } finally {
      stateKey.fill(0);
      plain.fill(0);
    }
    const body = JSON.stringify({ v: 1, salt: salt.toString("base64"), iv: iv.toString("base64"), data: sealed.toString("base64") });
    const next = this.writing.then(async () => {
      const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await mkdir(dirname(file), { recursive: true, mode: 0o700 });
        await writeFile(temp, body, { mode: 0o600, flag: "wx" });
        await rename(temp, file);
      } catch (e) {
        await unlink(temp).catch(() => {});
        throw new AgentKeyError(`Cannot write the agent key state ${file}: ${(e as NodeJS.ErrnoException).code ?? "error"}.`);
      }
    });
    this.writing = next.catch(() => {});
    return next;
  }
}
