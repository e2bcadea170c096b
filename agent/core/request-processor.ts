import { createHash } from "node:crypto";
import type { AgentEvent } from "../../shared/protocol/agent-event.js";
import {
  MAX_MESSAGE_BYTES,
  openDisable,
  openKeyDelivery,
  openRequest,
  openSigningKeyUpdate,
  peekHeader,
  sealReply,
  UnknownKeyVersionError,
  type ControlTrailer,
  type EnvelopeHeader,
  type OpenedPasswordRequest,
  type Operation,
  type UserPasswordPolicy,
} from "../../shared/protocol/envelope.js";
import { DecryptionError } from "../../shared/protocol/primitives.js";
import type { Logger } from "../../shared/ports/logger.port.js";
import type { AccountRef, DirectoryService } from "../directory/directory.port.js";
import { AccountResolver } from "../sync/account-resolver.js";
import type { SourceAnchorLocator } from "../sync/directory-source.port.js";
import type { SyncStore } from "../sync/sync-store.port.js";
import type { AgentKeyStore, KeyAcceptance } from "./agent-key-store.js";
import { TRUST_REJECTION_CODES, type BackendTrust } from "./backend-trust.js";
import { disableAcknowledgedEvent, keyAcknowledgedEvent, type AgentIdentity } from "./agent-events.js";
import { CloudClock } from "./cloud-clock.js";
import { failure, outcomeOfError, SUCCEEDED, type ReplyOutcome } from "./outcome.js";
import { redactingLogger } from "./redacting-logger.js";
import { ReplayGuard } from "./replay-guard.js";

export const REJECTIONS = ["tampered", "expired", "replayed", "unknownKeyVersion", "malformed", "oversize", "wrongTenant", "unsigned", "untrustedSigner", "forged"] as const;
export type Rejection = (typeof REJECTIONS)[number];

/** The stable code logged with each rejection. */
export const REJECTION_CODES: Record<Rejection, string> = {
  tampered: "MESSAGE_TAMPERED",
  expired: "MESSAGE_EXPIRED",
  replayed: "MESSAGE_REPLAYED",
  unknownKeyVersion: "KEY_VERSION_UNKNOWN",
  malformed: "MESSAGE_MALFORMED",
  oversize: "MESSAGE_OVERSIZE",
  wrongTenant: "MESSAGE_WRONG_TENANT",
  ...TRUST_REJECTION_CODES,
};
export type Verdict = "applied" | "rejected" | "duplicate";

export interface IncomingMessage {
  body: Uint8Array;
  /** The broker's enqueued time (cloud clock), when the transport knows it. */
  enqueuedAt?: Date | undefined;
  /** The tenant the message claims to be for (application property), when the transport knows it. */
  tenantId?: string | undefined;
}

export interface HandleResult {
  /** applied: authenticated and answered (the outcome says whether the directory took it). */
  verdict: Verdict;
  /** The sealed reply to send back; absent for rejections (nothing the cloud could trust). */
  reply?: Buffer | undefined;
  rejection?: Rejection | undefined;
  /** "succeeded" or an agent outcome code (applied and duplicate verdicts). */
  outcome?: string | undefined;
  reason?: string | undefined;
  /** An acknowledgement to sign (signAgentEvent) and send on the agent-events queue. */
  event?: AgentEvent | undefined;
  /** The pinned backend signing key moved forward: the heartbeat should report it at once. */
  trustUpdated?: boolean | undefined;
  requestId?: string | undefined;
  operation?: Operation | undefined;
}

export interface ProcessorStats {
  received: number;
  applied: number;
  duplicates: number;
  rejected: Record<Rejection, number>;
  /** Replies by outcome ("succeeded", "PASSWORD_POLICY_VIOLATION", ...). */
  outcomes: Record<string, number>;
}

export interface RequestProcessorOptions extends AgentIdentity {
  keys: AgentKeyStore;
  /** The pinned backend signing key: every control message must be signed by it. */
  trust: BackendTrust;
  directory: DirectoryService;
  syncStore: SyncStore;
  /** Live lookup of requests that carry the user's source anchor (the directory, normally). */
  locator?: SourceAnchorLocator | undefined;
  logger: Logger;
  cloudClock?: CloudClock;
  /** A request is refused when less than this remains before its expiresAt (default 2000 ms): the write itself takes time. */
  applyMarginMs?: number;
  /** Bound of remembered request ids (default 500,000). */
  maxRememberedRequests?: number;
  /**
   * The longest a backend message lives (default 5 minutes; the backend's TTL plus reply
   * timeout must stay below it). With clockSkewMarginMs (default 60 s) it bounds how long a
   * previous package key stays accepted after a rotation, whatever the delivery says.
   */
  maxMessageLifetimeMs?: number;
  clockSkewMarginMs?: number;
}

class Rejected {
  constructor(readonly rejection: Rejection) {}
}

function classify(error: unknown): Rejection {
  if (error instanceof UnknownKeyVersionError) return "unknownKeyVersion";
  if (error instanceof DecryptionError) return "tampered";
  return "malformed";
}

function acceptanceCode(acceptance: KeyAcceptance): string {
  return acceptance === "outOfOrder" ? "KEY_VERSION_OUT_OF_ORDER" : "KEY_VERSION_STALE";
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The agent's handling of one relay message, independent of the transport: authenticate and
 * decrypt, refuse what is expired, replayed or not for this tenant, find the user through the
 * sync store, write through the directory, and seal the reply under the request's key version.
 *
 * Messages that fail authentication get no reply (the cloud could not trust one); they are
 * counted per reason and logged without secrets. Passwords exist only as Buffers, zeroed when
 * the request is done. Per request: one AES-GCM open, one RSA-OAEP decrypt, no file I/O.
 * A message moved from another tenant's queue fails authentication (the tenant id is bound
 * into the AAD); it is reported as wrongTenant when the transport passes the claimed tenant,
 * else as tampered — cryptographically the two cannot be told apart.
 */
export class RequestProcessor {
  private readonly o: RequestProcessorOptions;
  private readonly logger: Logger;
  private readonly clock: CloudClock;
  private readonly guard: ReplayGuard<HandleResult>;
  private readonly marginMs: number;
  private readonly maxOverlapMs: number;
  private readonly tenantId: string;
  private readonly accounts: AccountResolver;
  private readonly counters: ProcessorStats = {
    received: 0,
    applied: 0,
    duplicates: 0,
    rejected: Object.fromEntries(REJECTIONS.map((r) => [r, 0])) as Record<Rejection, number>,
    outcomes: {},
  };

  constructor(options: RequestProcessorOptions) {
    this.o = options;
    this.tenantId = options.tenantId.toLowerCase();
    this.logger = redactingLogger(options.logger);
    this.clock = options.cloudClock ?? new CloudClock();
    this.marginMs = options.applyMarginMs ?? 2000;
    this.accounts = new AccountResolver({ store: options.syncStore, locator: options.locator, logger: this.logger });
    this.maxOverlapMs = (options.maxMessageLifetimeMs ?? 300_000) + (options.clockSkewMarginMs ?? 60_000);
    this.guard = new ReplayGuard<HandleResult>({
      clock: { now: () => new Date(this.clock.localNow()) },
      retentionSlackMs: this.clock.maxSkewMs,
      ...(options.maxRememberedRequests === undefined ? {} : { maxEntries: options.maxRememberedRequests }),
    });
  }

  stats(): ProcessorStats {
    return { ...this.counters, rejected: { ...this.counters.rejected }, outcomes: { ...this.counters.outcomes } };
  }

  async handle(message: IncomingMessage): Promise<HandleResult> {
    this.counters.received += 1;
    const result = await this.process(message);
    this.count(result);
    return result;
  }

  private async process(message: IncomingMessage): Promise<HandleResult> {
    const receivedAt = this.clock.localNow();
    const body = asBuffer(message.body);
    if (body.length > MAX_MESSAGE_BYTES) return this.reject("oversize");
    if (message.tenantId !== undefined && message.tenantId.toLowerCase() !== this.tenantId) return this.reject("wrongTenant");
    let header: EnvelopeHeader;
    let trailer: ControlTrailer | undefined;
    try {
      ({ header, trailer } = peekHeader(body));
    } catch {
      return this.reject("malformed");
    }
    if (header.kind === "reply") return this.reject("malformed", header);
    const fingerprint = createHash("sha256").update(body).digest("base64");
    // A byte-identical redelivery of a message already authenticated: the cached answer, no decryption.
    const known = this.guard.peek(header.requestId, fingerprint);
    if (known !== undefined) return this.duplicate(await known, message);

    const observe = () => {
      if (message.enqueuedAt !== undefined) this.clock.observe(message.enqueuedAt, receivedAt);
    };
    if (header.kind === "request") return this.request(body, header, fingerprint, observe);
    if (header.operation === "updateSigningKey") return this.signingKeyUpdate(body, header, trailer, fingerprint, observe);
    // Control messages: the backend's signature first, before any RSA or AES work.
    const distrust = this.o.trust.verify(trailer);
    if (distrust !== undefined) return this.reject(distrust, header);
    if (header.operation === "deliverKey") return this.keyDelivery(body, header, fingerprint, observe);
    if (header.operation === "disable") return this.disable(body, header, fingerprint, observe);
    return this.reject("malformed", header);
  }

  // ------------------------------------------------------------ password requests

  private async request(body: Buffer, header: EnvelopeHeader, fingerprint: string, observe: () => void): Promise<HandleResult> {
    let sealingKey: Buffer | undefined;
    let opened: OpenedPasswordRequest;
    try {
      opened = openRequest(body, {
        tenantId: this.tenantId,
        agentPrivateKey: this.o.keys.privateKey,
        keyFor: (v) => (sealingKey = this.o.keys.keyFor(v, this.clock.now())),
      });
    } catch (e) {
      return this.reject(classify(e), header);
    }
    try {
      observe();
      return await this.once(header, fingerprint, async () => {
        const outcome = await this.perform(opened);
        if (outcome instanceof Rejected) return this.reject(outcome.rejection, header);
        const reply = this.seal(opened.requestId, opened.operation, opened.keyVersion, opened.expiresAt, outcome, sealingKey!, outcome.policy);
        this.logger.info("request handled", {
          requestId: opened.requestId,
          traceId: opened.traceId,
          parentSpanId: opened.parentSpanId,
          operation: opened.operation,
          keyVersion: opened.keyVersion,
          initiator: opened.initiator.kind,
          channel: opened.initiator.channel,
          outcome: outcome.outcome,
          reason: outcome.reason || undefined,
        });
        return { verdict: "applied", reply, outcome: outcome.outcome, reason: outcome.reason, requestId: opened.requestId, operation: opened.operation };
      });
    } finally {
      opened.newPassword?.fill(0);
      opened.currentPassword?.fill(0);
    }
  }

  private async perform(r: OpenedPasswordRequest): Promise<(ReplyOutcome & { policy?: UserPasswordPolicy }) | Rejected> {
    if (this.clock.isExpired(r.expiresAt, this.marginMs)) return new Rejected("expired");
    if (r.operation === "policy") return this.userPolicy(r);
    if ((r.operation === "reset" && r.newPassword === undefined) || (r.operation === "change" && (r.newPassword === undefined || r.currentPassword === undefined))) {
      return new Rejected("malformed");
    }
    try {
      const ref = await this.findAccount(r);
      if (!("objectGuid" in ref)) return ref;
      const account = await this.o.directory.readAccount(ref);
      if (account === undefined) return failure("USER_NOT_FOUND", "the linked AD object does not exist");
      if (account.protected) return failure("PROTECTED_ACCOUNT", "adminCount=1 or a protected group");
      if (account.disabled) return failure("ACCOUNT_DISABLED");
      // Resolution and the read took time: the last check before anything is written.
      if (this.clock.isExpired(r.expiresAt, this.marginMs)) return new Rejected("expired");
      switch (r.operation) {
        case "reset":
          await this.o.directory.resetPassword(ref, r.newPassword!, { unlockAccount: r.flags.unlockAccount, forceChangeAtNextLogon: r.flags.forceChangeAtNextLogon });
          break;
        case "change":
          await this.o.directory.changePassword(ref, r.currentPassword!, r.newPassword!);
          break;
        case "unlock":
          await this.o.directory.unlockAccount(ref);
          break;
      }
      return SUCCEEDED;
    } catch (e) {
      return outcomeOfError(e);
    }
  }

  /** The request's account (live by source anchor, else the sync store), or the outcome that says why there is none. */
  private async findAccount(r: OpenedPasswordRequest): Promise<AccountRef | ReplyOutcome> {
    const found = await this.accounts.resolve(r.cloudAnchor, r.sourceAnchor);
    if (found.kind === "notFound") return failure("USER_NOT_FOUND", found.detail);
    if (found.kind === "misconfigured") return failure("ONPREM_CONFIGURATION_ERROR", found.detail);
    if (found.kind === "ambiguous") return failure("USER_AMBIGUOUS", found.detail);
    return { domain: found.domain, distinguishedName: found.distinguishedName, objectGuid: found.objectGuid };
  }

  /** Precheck's question: the policy AD will apply to this user (a PSO's, else the domain's). Reads only. */
  private async userPolicy(r: OpenedPasswordRequest): Promise<ReplyOutcome & { policy?: UserPasswordPolicy }> {
    try {
      const ref = await this.findAccount(r);
      if (!("objectGuid" in ref)) return ref;
      const policy = this.o.directory.effectivePolicy !== undefined ? await this.o.directory.effectivePolicy(ref) : { ...(await this.o.directory.passwordPolicy(ref.domain)), source: "domain" as const };
      return { ...SUCCEEDED, policy };
    } catch (e) {
      return outcomeOfError(e);
    }
  }

  // ------------------------------------------------------------ control messages

  private async keyDelivery(body: Buffer, header: EnvelopeHeader, fingerprint: string, observe: () => void): Promise<HandleResult> {
    let opened: ReturnType<typeof openKeyDelivery>;
    try {
      opened = openKeyDelivery(body, this.tenantId, this.o.keys.privateKey);
    } catch (e) {
      return this.reject(classify(e), header);
    }
    const { delivery, key } = opened;
    try {
      observe();
      return await this.once(header, fingerprint, async () => {
        if (this.clock.isExpired(delivery.expiresAt)) return this.reject("expired", header);
        const acceptance = await this.o.keys.accept(delivery, key, { cloudNow: this.clock.now(), maxOverlapMs: this.maxOverlapMs });
        const refused = acceptance === "stale" || acceptance === "outOfOrder";
        const outcome = refused ? failure("ONPREM_CONFIGURATION_ERROR", acceptance === "stale" ? "stale key version" : "key version out of order") : SUCCEEDED;
        const reply = this.seal(delivery.requestId, "deliverKey", delivery.keyVersion, delivery.expiresAt, outcome, key);
        const fields = { requestId: delivery.requestId, keyVersion: delivery.keyVersion, purpose: delivery.purpose, previousKeyVersion: delivery.previousKeyVersion, keyAcceptance: acceptance };
        if (refused) this.logger.warn("package key refused", { ...fields, code: acceptanceCode(acceptance) });
        else this.logger.info("package key delivered", fields);
        return {
          verdict: "applied",
          reply,
          outcome: outcome.outcome,
          requestId: delivery.requestId,
          operation: "deliverKey",
          event: refused ? undefined : keyAcknowledgedEvent(this.o, delivery.keyVersion, delivery.requestId, new Date(this.clock.localNow())),
        };
      });
    } finally {
      key.fill(0);
    }
  }

  private async disable(body: Buffer, header: EnvelopeHeader, fingerprint: string, observe: () => void): Promise<HandleResult> {
    let sealingKey: Buffer | undefined;
    let notice: ReturnType<typeof openDisable>;
    try {
      notice = openDisable(body, this.tenantId, (v) => (sealingKey = this.o.keys.keyFor(v, this.clock.now())));
    } catch (e) {
      return this.reject(classify(e), header);
    }
    observe();
    return this.once(header, fingerprint, async () => {
      if (this.clock.isExpired(notice.expiresAt)) return this.reject("expired", header);
      // The reply is sealed under the key being discarded: keep a copy until then.
      const replyKey = Buffer.from(sealingKey!);
      try {
        await this.o.keys.discardAll();
        const reply = this.seal(notice.requestId, "disable", notice.keyVersion, notice.expiresAt, SUCCEEDED, replyKey);
        this.logger.info("writeback disabled: package keys discarded", { requestId: notice.requestId, keyVersion: notice.keyVersion });
        return {
          verdict: "applied",
          reply,
          outcome: "succeeded",
          requestId: notice.requestId,
          operation: "disable",
          event: disableAcknowledgedEvent(this.o, notice.requestId, new Date(this.clock.localNow())),
        };
      } finally {
        replyKey.fill(0);
      }
    });
  }

  /** Moves the pinned backend signing key forward along a chain of endorsements from the pinned one. */
  private async signingKeyUpdate(body: Buffer, header: EnvelopeHeader, trailer: ControlTrailer | undefined, fingerprint: string, observe: () => void): Promise<HandleResult> {
    let update: ReturnType<typeof openSigningKeyUpdate>;
    try {
      update = openSigningKeyUpdate(body);
    } catch {
      return this.reject(trailer === undefined ? "unsigned" : "malformed", header);
    }
    const checked = this.o.trust.check(update, trailer);
    if ("rejection" in checked) return this.reject(checked.rejection, header);
    observe();
    return this.once(header, fingerprint, async () => {
      if (this.clock.isExpired(update.expiresAt)) return this.reject("expired", header);
      const from = this.o.trust.keyId;
      await this.o.trust.advance(checked.next);
      this.logger.info("backend signing key updated", { requestId: update.requestId, fromKeyId: from, toKeyId: this.o.trust.keyId, steps: update.chain.length });
      // The reply is sealed under a package key the agent holds, if it holds the named one: else the heartbeat tells.
      const key = update.keyVersion === 0 ? undefined : this.o.keys.keyFor(update.keyVersion, this.clock.now());
      const reply = key === undefined ? undefined : this.seal(update.requestId, "updateSigningKey", update.keyVersion, update.expiresAt, SUCCEEDED, key);
      return { verdict: "applied", reply, outcome: "succeeded", requestId: update.requestId, operation: "updateSigningKey", trustUpdated: true };
    });
  }

  // ------------------------------------------------------------ helpers

  /** Runs work once per request id; a redelivery gets the first result, a different message under the same id nothing. */
  private async once(header: EnvelopeHeader, fingerprint: string, work: () => Promise<HandleResult>): Promise<HandleResult> {
    const requestId = header.requestId;
    const claim = this.guard.claim(requestId, fingerprint, header.expiresAt);
    if (claim.kind === "conflict") return this.reject("replayed", header);
    if (claim.kind === "duplicate") return this.duplicate(await claim.result, undefined);
    let result: HandleResult;
    try {
      result = await work();
    } catch (e) {
      claim.abandon();
      this.logger.error("message handling failed", { requestId, error: e instanceof Error ? e.name : "unknown" });
      throw e;
    }
    claim.settle(result);
    return result;
  }

  private async duplicate(first: HandleResult | undefined, message: IncomingMessage | undefined): Promise<HandleResult> {
    // The first delivery failed without an answer: judge this one afresh.
    if (first === undefined) return message === undefined ? this.reject("replayed") : this.process(message);
    if (first.verdict === "rejected") return { ...first, event: undefined };
    this.logger.info("duplicate delivery answered from cache", { requestId: first.requestId, operation: first.operation, outcome: first.outcome });
    return { ...first, verdict: "duplicate", event: undefined, trustUpdated: undefined };
  }

  private seal(requestId: string, operation: Operation, keyVersion: number, expiresAt: Date, outcome: ReplyOutcome, key: Buffer, policy?: UserPasswordPolicy): Buffer {
    return sealReply(
      {
        requestId,
        operation,
        keyVersion,
        expiresAt,
        completedAt: this.clock.now(),
        outcome: outcome.outcome,
        reason: outcome.reason,
        agentVersion: this.o.agentVersion,
        diagnostic: outcome.diagnostic,
        ...(policy === undefined ? {} : { policy }),
      },
      this.tenantId,
      key,
    );
  }

  private reject(rejection: Rejection, header?: EnvelopeHeader): HandleResult {
    // The header is unauthenticated here: only its fixed-format fields are logged.
    this.logger.warn("message rejected", { rejection, code: REJECTION_CODES[rejection], requestId: header?.requestId, kind: header?.kind, operation: header?.operation, keyVersion: header?.keyVersion });
    return { verdict: "rejected", rejection, requestId: header?.requestId, operation: header?.operation };
  }

  private count(result: HandleResult): void {
    if (result.verdict === "rejected" && result.rejection !== undefined) this.counters.rejected[result.rejection] += 1;
    if (result.verdict === "applied") this.counters.applied += 1;
    if (result.verdict === "duplicate") this.counters.duplicates += 1;
    if (result.verdict !== "rejected" && result.outcome !== undefined) this.counters.outcomes[result.outcome] = (this.counters.outcomes[result.outcome] ?? 0) + 1;
  }
}
