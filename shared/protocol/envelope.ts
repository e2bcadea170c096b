import type { KeyLike } from "node:crypto";
import { CHANNELS, INITIATOR_KINDS, type Channel, type InitiatorKind, type PasswordOperation } from "../domain/operations.js";
import type { PasswordPolicySummary } from "../domain/password-policy.js";
import { BinaryReader, BinaryWriter, TruncatedError } from "./binary.js";
import { CONTROL_TRAILER_BYTES, SIGNATURE_BYTES, SIGNING_KEY_ID_BYTES, SIGNING_PUBLIC_KEY_BYTES, signControlMessage, type ControlSigner, type EndorsedSigningKey } from "./control-signature.js";
import { bytesToUuid, uuidToBytes } from "./ids.js";
import { bytesToTraceId, decodeTraceExtension, encodeTraceExtension, TRACE_EXTENSION_BYTES, traceIdToBytes } from "./trace-context.js";
import {
  aesGcmOpen,
  aesGcmSeal,
  DecryptionError,
  GCM_IV_BYTES,
  randomIv,
  randomKey,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
} from "./primitives.js";

/**
 * Wire format of every relay message (request, reply, control), version 1.
 *
 *   header  = magic "PW" | version u8 | kind u8 | operation u8 | keyVersion u32
 *             | requestId 16 | expiresAt u48 ms | extension (u16 length + bytes) | iv 12
 *   body    = AES-256-GCM(packageKey[keyVersion], iv, payload, aad = header || tenantId 16) || tag 16
 *
 * The tenant id is bound as additional data but not sent: the queue is the tenant's, and
 * a message moved to another tenant's queue fails authentication there.
 * Passwords travel inside the payload sealed once more under a one-time 256-bit key that
 * is wrapped with RSA-2048 OAEP-SHA256 for the agent's public key (one OAEP block holds
 * at most 190 bytes; passwords may be 256 characters and a change carries two).
 *
 * Control messages (key delivery, disable, signing-key update) are version 2: the same
 * layout followed by a trailer = signer key id 8 | Ed25519 signature 64 over
 * (label | tenantId 16 | every byte before the trailer), made with the backend's
 * control-signing key (control-signature.ts). The agent verifies it before any decryption.
 */
export const PROTOCOL_VERSION = 1;
export const CONTROL_PROTOCOL_VERSION = 2;
export const MAX_MESSAGE_BYTES = 1024;
const MAGIC = Buffer.from("PW", "ascii");
const ZERO_IV = Buffer.alloc(GCM_IV_BYTES);

export const MESSAGE_KINDS = { request: 1, reply: 2, control: 3 } as const;
export type MessageKind = keyof typeof MESSAGE_KINDS;

export const OPERATIONS = { reset: 1, change: 2, unlock: 3, deliverKey: 4, disable: 5, policy: 6, updateSigningKey: 7 } as const;
export type Operation = keyof typeof OPERATIONS;
// The domain's vocabulary, as the wire format encodes it.
export { CHANNELS, INITIATOR_KINDS, type Channel, type InitiatorKind, type PasswordOperation } from "../domain/operations.js";
/** What a request message may ask: a password operation, or (precheck) the user's effective password policy. */
export type RequestOperation = PasswordOperation | "policy";

export class MalformedEnvelopeError extends Error {
  override readonly name = "MalformedEnvelopeError";
}

export interface EnvelopeHeader {
  version: number;
  kind: MessageKind;
  operation: Operation;
  keyVersion: number;
  requestId: string;
  expiresAt: Date;
  extension: Buffer;
  iv: Buffer;
  /** The exact header bytes, bound as additional authenticated data. */
  bytes: Buffer;
}

/** A version-2 control message's signature, split off by peekHeader (not verified there). */
export interface ControlTrailer {
  signerKeyId: Buffer;
  signature: Buffer;
  /** Every byte the signature covers (with the tenant id): the message without its trailer. */
  signedBytes: Buffer;
}

interface HeaderInput {
  kind: MessageKind;
  operation: Operation;
  keyVersion: number;
  requestId: string;
  expiresAt: Date;
  extension?: Uint8Array;
  iv: Uint8Array;
}

function reverseLookup<T extends Record<string, number>>(table: T, value: number): keyof T | undefined {
  return (Object.keys(table) as (keyof T)[]).find((k) => table[k] === value);
}

function encodeHeader(h: HeaderInput): Buffer {
  return new BinaryWriter()
    .raw(MAGIC)
    .u8(h.kind === "control" ? CONTROL_PROTOCOL_VERSION : PROTOCOL_VERSION)
    .u8(MESSAGE_KINDS[h.kind])
    .u8(OPERATIONS[h.operation])
    .u32(h.keyVersion)
    .raw(uuidToBytes(h.requestId))
    .time(h.expiresAt)
    .bytes16(h.extension ?? Buffer.alloc(0))
    .raw(h.iv)
    .toBuffer();
}

/**
 * Reads the clear header without authenticating it: only to pick the key and route. A
 * version-2 (signed control) message also yields its trailer, still to be verified; a
 * version-1 control message (what a backend before signed control messages sends) has none.
 */
export function peekHeader(message: Uint8Array): { header: EnvelopeHeader; sealed: Buffer; trailer?: ControlTrailer } {
  const buffer = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (buffer.length > MAX_MESSAGE_BYTES) throw new MalformedEnvelopeError("message larger than 1024 bytes");
  try {
    const r = new BinaryReader(buffer);
    if (!r.raw(2).equals(MAGIC)) throw new MalformedEnvelopeError("not a writeback message");
    const version = r.u8();
    if (version !== PROTOCOL_VERSION && version !== CONTROL_PROTOCOL_VERSION) throw new MalformedEnvelopeError(`unsupported protocol version ${version}`);
    const kind = reverseLookup(MESSAGE_KINDS, r.u8());
    const operation = reverseLookup(OPERATIONS, r.u8());
    if (kind === undefined || operation === undefined) throw new MalformedEnvelopeError("unknown kind or operation");
    if (version === CONTROL_PROTOCOL_VERSION && kind !== "control") throw new MalformedEnvelopeError(`protocol version ${version} carries only control messages`);
    const keyVersion = r.u32();
    const requestId = bytesToUuid(r.raw(16));
    const expiresAt = r.time();
    const extension = Buffer.from(r.bytes16());
    const iv = Buffer.from(r.raw(GCM_IV_BYTES));
    const bytes = Buffer.from(buffer.subarray(0, r.position));
    const header: EnvelopeHeader = { version, kind, operation, keyVersion, requestId, expiresAt, extension, iv, bytes };
    if (version !== CONTROL_PROTOCOL_VERSION) return { header, sealed: r.rest() };
    const rest = r.rest();
    if (rest.length < CONTROL_TRAILER_BYTES) throw new TruncatedError("control message without its signature");
    const end = buffer.length - CONTROL_TRAILER_BYTES;
    return {
      header,
      sealed: rest.subarray(0, rest.length - CONTROL_TRAILER_BYTES),
      trailer: {
        signerKeyId: Buffer.from(buffer.subarray(end, end + SIGNING_KEY_ID_BYTES)),
        signature: Buffer.from(buffer.subarray(end + SIGNING_KEY_ID_BYTES)),
        signedBytes: buffer.subarray(0, end),
      },
    };
  } catch (e) {
    if (e instanceof TruncatedError) throw new MalformedEnvelopeError("message truncated");
    throw e;
  }
}

function aad(headerBytes: Buffer, tenantId: string): Buffer {
  return Buffer.concat([headerBytes, uuidToBytes(tenantId)]);
}

function seal(header: HeaderInput, tenantId: string, key: Uint8Array, payload: Buffer): Buffer {
  const headerBytes = encodeHeader(header);
  const sealed = aesGcmSeal(key, header.iv, payload, aad(headerBytes, tenantId));
  const message = Buffer.concat([headerBytes, sealed]);
  if (message.length > MAX_MESSAGE_BYTES) throw new RangeError("sealed message exceeds 1024 bytes");
  return message;
}

/** Appends the backend's signature to a control message. */
function signed(unsigned: Buffer, tenantId: string, signer: ControlSigner): Buffer {
  const message = Buffer.concat([unsigned, signControlMessage(unsigned, tenantId, signer)]);
  if (message.length > MAX_MESSAGE_BYTES) throw new RangeError("signed control message exceeds 1024 bytes");
  return message;
}

/** Looks up a package key by version; undefined when the version is unknown or no longer accepted. */
export type PackageKeyLookup = (keyVersion: number) => Uint8Array | undefined;

export class UnknownKeyVersionError extends Error {
  override readonly name = "UnknownKeyVersionError";
}

function open(message: Uint8Array, tenantId: string, keyFor: PackageKeyLookup): { header: EnvelopeHeader; payload: Buffer } {
  const { header, sealed } = peekHeader(message);
  if (header.kind === "control" && header.version !== CONTROL_PROTOCOL_VERSION) throw new MalformedEnvelopeError("unsigned control message");
  const key = keyFor(header.keyVersion);
  if (key === undefined) throw new UnknownKeyVersionError(`key version ${header.keyVersion} is not accepted`);
  return { header, payload: aesGcmOpen(key, header.iv, sealed, aad(header.bytes, tenantId)) };
}

// ---------------------------------------------------------------- requests

export interface RequestFlags {
  unlockAccount: boolean;
  forceChangeAtNextLogon: boolean;
  /** A change forced by password expiry rather than a voluntary one. */
  expired: boolean;
}

export interface PasswordRequest {
  tenantId: string;
  requestId: string;
  operation: RequestOperation;
  keyVersion: number;
  issuedAt: Date;
  expiresAt: Date;
  /** W3C trace id (32 hex digits) of the HTTP call; the 8-4-4-4-12 form is accepted when sealing. */
  traceId: string;
  /** The sending span (W3C parent-id, 16 hex digits) and trace flags, when known. */
  parentSpanId?: string | undefined;
  traceFlags?: number | undefined;
  cloudAnchor: string;
  /**
   * The cloud user's onPremisesImmutableId decoded: the 16 bytes of ms-DS-ConsistencyGuid (or
   * objectGUID in AD byte order) the agent looks the account up by, live. Absent: the sync store decides.
   */
  sourceAnchor?: Buffer | undefined;
  initiator: { kind: InitiatorKind; channel: Channel };
  flags: RequestFlags;
}

export interface SealRequestInput extends PasswordRequest {
  packageKey: Uint8Array;
  agentPublicKey: KeyLike;
  /** UTF-8 bytes; the caller zeroes them after sealing. */
  newPassword?: Uint8Array;
  currentPassword?: Uint8Array;
  /** Fixed randomness, for test vectors only. */
  randomness?: { iv: Uint8Array; passwordKey: Uint8Array };
}

export interface OpenedPasswordRequest extends PasswordRequest {
  /** UTF-8 bytes; the receiver must zero them after use. */
  newPassword?: Buffer;
  currentPassword?: Buffer;
}

/** Flag bit: 16 source-anchor bytes follow the cloud anchor. */
const HAS_SOURCE_ANCHOR = 8;
export const SOURCE_ANCHOR_BYTES = 16;

function flagsByte(f: RequestFlags, hasSourceAnchor: boolean): number {
  return (f.unlockAccount ? 1 : 0) | (f.forceChangeAtNextLogon ? 2 : 0) | (f.expired ? 4 : 0) | (hasSourceAnchor ? HAS_SOURCE_ANCHOR : 0);
}

function passwordBlock(newPassword: Uint8Array | undefined, currentPassword: Uint8Array | undefined): Buffer {
  return new BinaryWriter()
    .bytes16(newPassword ?? Buffer.alloc(0))
    .bytes16(currentPassword ?? Buffer.alloc(0))
    .toBuffer();
}

export function sealRequest(input: SealRequestInput): Buffer {
  if (input.sourceAnchor !== undefined && input.sourceAnchor.length !== SOURCE_ANCHOR_BYTES) throw new RangeError("a source anchor has 16 bytes");
  const iv = input.randomness?.iv ?? randomIv();
  let secrets = Buffer.alloc(0);
  if (input.newPassword !== undefined || input.currentPassword !== undefined) {
    const passwordKey = Buffer.from(input.randomness?.passwordKey ?? randomKey());
    const block = passwordBlock(input.newPassword, input.currentPassword);
    try {
      const wrapped = rsaOaepEncrypt(input.agentPublicKey, passwordKey);
      // The password key is used once, so a fixed nonce is safe; the request id binds it.
      const sealedPasswords = aesGcmSeal(passwordKey, ZERO_IV, block, Buffer.concat([uuidToBytes(input.requestId), uuidToBytes(input.tenantId)]));
      secrets = Buffer.concat([wrapped, sealedPasswords]);
    } finally {
      passwordKey.fill(0);
      block.fill(0);
    }
  }
  const writer = new BinaryWriter()
    .time(input.issuedAt)
    .raw(traceIdToBytes(input.traceId))
    .u8(flagsByte(input.flags, input.sourceAnchor !== undefined))
    .u8(INITIATOR_KINDS.indexOf(input.initiator.kind))
    .u8(CHANNELS.indexOf(input.initiator.channel))
    .text8(input.cloudAnchor);
  if (input.sourceAnchor !== undefined) writer.raw(input.sourceAnchor);
  const payload = writer.bytes16(secrets).toBuffer();
  return seal(
    {
      kind: "request",
      operation: input.operation,
      keyVersion: input.keyVersion,
      requestId: input.requestId,
      expiresAt: input.expiresAt,
      iv,
      ...(input.parentSpanId === undefined || !roomForSpan(payload) ? {} : { extension: encodeTraceExtension(input.parentSpanId, input.traceFlags ?? 1) }),
    },
    input.tenantId,
    input.packageKey,
    payload,
  );
}

/**
 * The size of a sealed request with a cloud anchor and passwords of these UTF-8 byte lengths
 * (a unit test checks it against sealRequest). Requests without passwords carry no RSA block.
 */
export function sealedRequestBytes(anchorBytes: number, newPasswordBytes: number | undefined, currentPasswordBytes: number | undefined, withSourceAnchor = false): number {
  const passwords = newPasswordBytes !== undefined || currentPasswordBytes !== undefined;
  // header 45 + tag 16 + issuedAt 6 + traceId 16 + flags/initiator 3 + anchor length 1 + secrets length 2 (+ a source anchor's 16)
  const fixed = 89 + (withSourceAnchor ? SOURCE_ANCHOR_BYTES : 0);
  // RSA-2048 block 256 + the two password lengths 4 + their GCM tag 16
  return fixed + anchorBytes + (passwords ? 276 + (newPasswordBytes ?? 0) + (currentPasswordBytes ?? 0) : 0);
}

// magic 2, version, kind, operation, keyVersion 4, requestId 16, expiresAt 6, extension length 2, iv 12; tag 16.
const FIXED_REQUEST_BYTES = 2 + 1 + 1 + 1 + 4 + 16 + 6 + 2 + GCM_IV_BYTES + 16;

/**
 * The trace id always travels (in the payload); the sending span only when the message has
 * room for it: a change with both passwords at the byte limit leaves 3 bytes, not 10.
 */
function roomForSpan(payload: Buffer): boolean {
  return FIXED_REQUEST_BYTES + TRACE_EXTENSION_BYTES + payload.length <= MAX_MESSAGE_BYTES;
}

function spanOf(extension: Buffer): { parentSpanId?: string; traceFlags?: number } {
  const span = decodeTraceExtension(extension);
  return span === undefined ? {} : { parentSpanId: span.spanId, traceFlags: span.flags };
}

export interface OpenRequestOptions {
  tenantId: string;
  keyFor: PackageKeyLookup;
  agentPrivateKey: KeyLike;
}

export function openRequest(message: Uint8Array, options: OpenRequestOptions): OpenedPasswordRequest {
  const { header, payload } = open(message, options.tenantId, options.keyFor);
  if (header.kind !== "request") throw new MalformedEnvelopeError("not a request");
  if (header.operation !== "reset" && header.operation !== "change" && header.operation !== "unlock" && header.operation !== "policy") {
    throw new MalformedEnvelopeError("not a password operation");
  }
  try {
    const r = new BinaryReader(payload);
    const issuedAt = r.time();
    const traceId = bytesToTraceId(r.raw(16));
    const flags = r.u8();
    const kind = INITIATOR_KINDS[r.u8()];
    const channel = CHANNELS[r.u8()];
    if (kind === undefined || channel === undefined) throw new MalformedEnvelopeError("unknown initiator");
    const cloudAnchor = r.text8();
    const sourceAnchor = (flags & HAS_SOURCE_ANCHOR) !== 0 ? Buffer.from(r.raw(SOURCE_ANCHOR_BYTES)) : undefined;
    const secrets = r.bytes16();
    r.expectEnd();
    const opened: OpenedPasswordRequest = {
      tenantId: options.tenantId,
      requestId: header.requestId,
      operation: header.operation,
      keyVersion: header.keyVersion,
      issuedAt,
      expiresAt: header.expiresAt,
      traceId,
      cloudAnchor,
      ...(sourceAnchor === undefined ? {} : { sourceAnchor }),
      ...spanOf(header.extension),
      initiator: { kind, channel },
      flags: { unlockAccount: (flags & 1) !== 0, forceChangeAtNextLogon: (flags & 2) !== 0, expired: (flags & 4) !== 0 },
    };
    if (secrets.length > 0) {
      const passwordKey = rsaOaepDecrypt(options.agentPrivateKey, secrets.subarray(0, 256));
      try {
        const block = aesGcmOpen(passwordKey, ZERO_IV, secrets.subarray(256), Buffer.concat([uuidToBytes(header.requestId), uuidToBytes(options.tenantId)]));
        const pr = new BinaryReader(block);
        const next = Buffer.from(pr.bytes16());
        const current = Buffer.from(pr.bytes16());
        pr.expectEnd();
        block.fill(0);
        if (next.length > 0) opened.newPassword = next;
        if (current.length > 0) opened.currentPassword = current;
      } finally {
        passwordKey.fill(0);
      }
    }
    return opened;
  } catch (e) {
    if (e instanceof TruncatedError) throw new MalformedEnvelopeError("payload truncated");
    throw e;
  }
}

// ---------------------------------------------------------------- replies

export interface PasswordReply {
  requestId: string;
  operation: Operation;
  keyVersion: number;
  expiresAt: Date;
  completedAt: Date;
  /** "succeeded" or an agent outcome code from the error catalog. */
  outcome: string;
  /** Policy reason for PASSWORD_POLICY_VIOLATION, else "". */
  reason: string;
  agentVersion: string;
  /** Secret-free diagnostic for admins (for example an AD extended error code). */
  diagnostic: string;
  /** Policy replies: the user's effective password policy. */
  policy?: UserPasswordPolicy | undefined;
}

/** A user's effective password policy: the domain's, or a fine-grained policy (PSO) that applies to the user. */
export interface UserPasswordPolicy extends PasswordPolicySummary {
  source: "domain" | "passwordSettingsObject";
  /** The PSO's name (its CN) when one applies. */
  passwordSettingsObject?: string | undefined;
}

const UINT32_MAX = 0xffffffff;
const clampU32 = (n: number) => Math.max(0, Math.min(UINT32_MAX, Math.round(n)));

function writePolicy(w: BinaryWriter, p: UserPasswordPolicy): void {
  w.u16(Math.min(0xffff, p.minLength))
    .u8(p.complexity ? 1 : 0)
    .u8(Math.min(0xff, p.historyLength))
    .u32(clampU32(p.minAgeSeconds))
    .u32(clampU32(p.maxAgeSeconds))
    .u16(Math.min(0xffff, p.lockoutThreshold))
    .u32(clampU32(p.lockoutDurationSeconds))
    .u8(p.source === "passwordSettingsObject" ? 1 : 0)
    .text8((p.passwordSettingsObject ?? "").slice(0, 64));
}

function readPolicy(r: BinaryReader): UserPasswordPolicy {
  const policy: UserPasswordPolicy = {
    minLength: r.u16(),
    complexity: r.u8() === 1,
    historyLength: r.u8(),
    minAgeSeconds: r.u32(),
    maxAgeSeconds: r.u32(),
    lockoutThreshold: r.u16(),
    lockoutDurationSeconds: r.u32(),
    source: r.u8() === 1 ? "passwordSettingsObject" : "domain",
  };
  const name = r.text8();
  if (name !== "") policy.passwordSettingsObject = name;
  return policy;
}

export function sealReply(reply: PasswordReply, tenantId: string, packageKey: Uint8Array, iv: Uint8Array = randomIv()): Buffer {
  const payload = new BinaryWriter()
    .time(reply.completedAt)
    .text8(reply.outcome)
    .text8(reply.reason)
    .text8(reply.agentVersion)
    .text8(reply.diagnostic.slice(0, 120));
  // Only policy replies carry one: other replies keep the format agents and clouds before it read.
  if (reply.policy !== undefined) writePolicy(payload, reply.policy);
  return seal(
    { kind: "reply", operation: reply.operation, keyVersion: reply.keyVersion, requestId: reply.requestId, expiresAt: reply.expiresAt, iv },
    tenantId,
    packageKey,
    payload.toBuffer(),
  );
}

export function openReply(message: Uint8Array, tenantId: string, keyFor: PackageKeyLookup): PasswordReply {
  const { header, payload } = open(message, tenantId, keyFor);
  if (header.kind !== "reply") throw new MalformedEnvelopeError("not a reply");
  try {
    const r = new BinaryReader(payload);
    const reply: PasswordReply = {
      requestId: header.requestId,
      operation: header.operation,
      keyVersion: header.keyVersion,
      expiresAt: header.expiresAt,
      completedAt: r.time(),
      outcome: r.text8(),
      reason: r.text8(),
      agentVersion: r.text8(),
      diagnostic: r.text8(),
    };
    if (header.operation === "policy" && r.position < payload.length) reply.policy = readPolicy(r);
    r.expectEnd();
    return reply;
  } catch (e) {
    if (e instanceof TruncatedError) throw new MalformedEnvelopeError("payload truncated");
    throw e;
  }
}

// ---------------------------------------------------------------- control messages

export type KeyDeliveryPurpose = "enable" | "rotate";
const PURPOSES: readonly KeyDeliveryPurpose[] = ["enable", "rotate"];

export interface KeyDelivery {
  requestId: string;
  keyVersion: number;
  issuedAt: Date;
  expiresAt: Date;
  traceId: string;
  purpose: KeyDeliveryPurpose;
  /** 0 when there is none. */
  previousKeyVersion: number;
  /** Until when the agent keeps accepting the previous version (the overlap). */
  previousValidUntil: Date;
}

/**
 * A new package key, wrapped for the agent's public key, sealed under itself and signed by
 * the backend: the wrap and the seal only need the agent's public key, the signature is
 * what no one but the backend can make.
 */
export function sealKeyDelivery(delivery: KeyDelivery, tenantId: string, newKey: Uint8Array, agentPublicKey: KeyLike, signer: ControlSigner): Buffer {
  const payload = new BinaryWriter()
    .time(delivery.issuedAt)
    .raw(traceIdToBytes(delivery.traceId))
    .u8(PURPOSES.indexOf(delivery.purpose))
    .u32(delivery.previousKeyVersion)
    .time(delivery.previousValidUntil)
    .toBuffer();
  const unsigned = seal(
    {
      kind: "control",
      operation: "deliverKey",
      keyVersion: delivery.keyVersion,
      requestId: delivery.requestId,
      expiresAt: delivery.expiresAt,
      extension: rsaOaepEncrypt(agentPublicKey, newKey),
      iv: randomIv(),
    },
    tenantId,
    newKey,
    payload,
  );
  return signed(unsigned, tenantId, signer);
}

/** Decrypts a key delivery. The caller has verified its signature (BackendTrust) first: this costs an RSA decryption. */
export function openKeyDelivery(message: Uint8Array, tenantId: string, agentPrivateKey: KeyLike): { delivery: KeyDelivery; key: Buffer } {
  const { header } = peekHeader(message);
  if (header.kind !== "control" || header.operation !== "deliverKey") throw new MalformedEnvelopeError("not a key delivery");
  if (header.version !== CONTROL_PROTOCOL_VERSION) throw new MalformedEnvelopeError("unsigned control message");
  const key = rsaOaepDecrypt(agentPrivateKey, header.extension);
  try {
    const { payload } = open(message, tenantId, (v) => (v === header.keyVersion ? key : undefined));
    const r = new BinaryReader(payload);
    const issuedAt = r.time();
    const traceId = bytesToTraceId(r.raw(16));
    const purpose = PURPOSES[r.u8()];
    if (purpose === undefined) throw new MalformedEnvelopeError("unknown purpose");
    const previousKeyVersion = r.u32();
    const previousValidUntil = r.time();
    r.expectEnd();
    return {
      key,
      delivery: { requestId: header.requestId, keyVersion: header.keyVersion, issuedAt, expiresAt: header.expiresAt, traceId, purpose, previousKeyVersion, previousValidUntil },
    };
  } catch (e) {
    key.fill(0);
    if (e instanceof TruncatedError) throw new MalformedEnvelopeError("payload truncated");
    throw e;
  }
}

export interface DisableNotice {
  requestId: string;
  keyVersion: number;
  issuedAt: Date;
  expiresAt: Date;
  traceId: string;
}

/** Tells the agent to discard its keys; sealed under the current key and signed by the backend. */
export function sealDisable(notice: DisableNotice, tenantId: string, packageKey: Uint8Array, signer: ControlSigner): Buffer {
  const payload = new BinaryWriter().time(notice.issuedAt).raw(traceIdToBytes(notice.traceId)).toBuffer();
  const unsigned = seal(
    { kind: "control", operation: "disable", keyVersion: notice.keyVersion, requestId: notice.requestId, expiresAt: notice.expiresAt, iv: randomIv() },
    tenantId,
    packageKey,
    payload,
  );
  return signed(unsigned, tenantId, signer);
}

export function openDisable(message: Uint8Array, tenantId: string, keyFor: PackageKeyLookup): DisableNotice {
  const { header, payload } = open(message, tenantId, keyFor);
  if (header.kind !== "control" || header.operation !== "disable") throw new MalformedEnvelopeError("not a disable notice");
  try {
    const r = new BinaryReader(payload);
    const issuedAt = r.time();
    const traceId = bytesToTraceId(r.raw(16));
    r.expectEnd();
    return { requestId: header.requestId, keyVersion: header.keyVersion, issuedAt, expiresAt: header.expiresAt, traceId };
  } catch (e) {
    if (e instanceof TruncatedError) throw new MalformedEnvelopeError("payload truncated");
    throw e;
  }
}

// ---------------------------------------------------------------- signing-key update

/** At most this many rotations in one update; an agent further behind is re-pinned by hand. */
export const MAX_ENDORSEMENT_CHAIN = 6;
const ENDORSED_KEY_BYTES = SIGNING_PUBLIC_KEY_BYTES + SIGNATURE_BYTES;

export interface SigningKeyUpdate {
  requestId: string;
  /** The package key version the reply is sealed under (0: the agent holds none, no reply). */
  keyVersion: number;
  issuedAt: Date;
  expiresAt: Date;
  traceId: string;
  /** From the key after the agent's pinned one up to the signer of this message, each endorsed by the one before. */
  chain: EndorsedSigningKey[];
}

/**
 * Moves the agent to the backend's current signing key. Nothing in it is secret, so it is
 * not encrypted: the chain is in the header's extension, issuedAt and traceId in the clear
 * body, and the trailer is signed by the chain's last key.
 */
export function sealSigningKeyUpdate(update: SigningKeyUpdate, tenantId: string, signer: ControlSigner): Buffer {
  if (update.chain.length === 0 || update.chain.length > MAX_ENDORSEMENT_CHAIN) throw new RangeError(`a signing-key update carries 1 to ${MAX_ENDORSEMENT_CHAIN} keys`);
  const chain = new BinaryWriter().u8(update.chain.length);
  for (const step of update.chain) chain.raw(step.publicKeyRaw).raw(step.endorsement);
  const header = encodeHeader({ kind: "control", operation: "updateSigningKey", keyVersion: update.keyVersion, requestId: update.requestId, expiresAt: update.expiresAt, extension: chain.toBuffer(), iv: ZERO_IV });
  const body = new BinaryWriter().time(update.issuedAt).raw(traceIdToBytes(update.traceId)).toBuffer();
  return signed(Buffer.concat([header, body]), tenantId, signer);
}

/** Parses a signing-key update (its signatures are checked by BackendTrust, which knows the pinned key). */
export function openSigningKeyUpdate(message: Uint8Array): SigningKeyUpdate {
  const { header, sealed, trailer } = peekHeader(message);
  if (header.kind !== "control" || header.operation !== "updateSigningKey" || trailer === undefined) throw new MalformedEnvelopeError("not a signing-key update");
  try {
    const r = new BinaryReader(header.extension);
    const count = r.u8();
    if (count === 0 || count > MAX_ENDORSEMENT_CHAIN) throw new MalformedEnvelopeError("bad endorsement chain length");
    const chain: EndorsedSigningKey[] = [];
    for (let i = 0; i < count; i++) {
      const step = r.raw(ENDORSED_KEY_BYTES);
      chain.push({ publicKeyRaw: Buffer.from(step.subarray(0, SIGNING_PUBLIC_KEY_BYTES)), endorsement: Buffer.from(step.subarray(SIGNING_PUBLIC_KEY_BYTES)) });
    }
    r.expectEnd();
    const b = new BinaryReader(sealed);
    const issuedAt = b.time();
    const traceId = bytesToTraceId(b.raw(16));
    b.expectEnd();
    return { requestId: header.requestId, keyVersion: header.keyVersion, issuedAt, expiresAt: header.expiresAt, traceId, chain };
  } catch (e) {
    if (e instanceof TruncatedError) throw new MalformedEnvelopeError("signing-key update truncated");
    throw e;
  }
}

export { DecryptionError };
