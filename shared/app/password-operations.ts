import { createHash, randomUUID } from "node:crypto";
import { hasOnPremisesPassword, type UserRef } from "../domain/user-types.js";
import { isWrittenBack, supportedChannels } from "../domain/support-matrix.js";
import { agentStatus } from "../domain/agent-status.js";
import { AppError, isAppError, toAppError } from "../errors/app-error.js";
import { isAgentOutcome, POLICY_REASONS, type ErrorCode, type PolicyReason } from "../errors/catalog.js";
import type { BegunOperation, OperationRecord } from "../ports/operation-store.port.js";
import type { AgentHeartbeat } from "../ports/agent-heartbeat-store.port.js";
import type { AuditRow } from "../ports/audit-log.port.js";
import type { PackageKey } from "../ports/tenant-key-ring.port.js";
import type { StoredTenantSettings } from "../ports/tenant-settings-store.port.js";
import type { PasswordPolicySummary } from "../domain/password-policy.js";
import { publicKeyFromPem } from "../protocol/public-key-cache.js";
import type { Initiator, PasswordOperation } from "../domain/operations.js";
import { MAX_MESSAGE_BYTES, sealedRequestBytes, sealRequest, type PasswordReply, type UserPasswordPolicy } from "../protocol/envelope.js";
import { newTraceId, type TraceContext } from "../protocol/trace-context.js";
import type { WritebackServices } from "./services.js";
import { checkBannedPassword } from "./banned-password-check.js";
import type { BannedPasswordMode } from "../domain/banned-passwords/custom-terms.js";

export interface OperationResult {
  requestId: string;
  outcome: "succeeded";
  operation: PasswordOperation;
  completedAt: string;
}

/** A reset: an administrator's, or a user's forgotten password. */
export interface ResetRequest {
  requestId?: string | undefined;
  user: UserRef;
  newPassword: string;
  initiator: Initiator;
  unlockAccount: boolean;
  forceChangeAtNextLogon: boolean;
}

/** A change: the user knows the current password (voluntarily, or because it expired). */
export interface ChangeRequest {
  requestId?: string | undefined;
  user: UserRef;
  currentPassword: string;
  newPassword: string;
  reason: "voluntary" | "expired";
  initiator: Initiator;
}

/** An unlock without a password change. */
export interface UnlockRequest {
  requestId?: string | undefined;
  user: UserRef;
  initiator: Initiator;
}

interface OperationInput {
  requestId?: string | undefined;
  /** The HTTP call's trace context: the relay message carries it to the agent's logs. */
  trace?: TraceContext | undefined;
  operation: PasswordOperation;
  user: UserRef;
  initiator: Initiator;
  flags: { unlockAccount: boolean; forceChangeAtNextLogon: boolean; expired: boolean };
  newPassword?: string;
  currentPassword?: string;
}

/** The tenant reads a request needs, started together. */
interface TenantState {
  settings: Promise<StoredTenantSettings | undefined>;
  heartbeat: Promise<AgentHeartbeat | undefined>;
  keys: Promise<[PackageKey | undefined, string | undefined]>;
}

interface Availability {
  settings: StoredTenantSettings;
  heartbeat: AgentHeartbeat;
  packageKey: PackageKey;
  publicKeyPem: string;
}

interface Attempt {
  replayed: boolean;
  audited: boolean;
  /** Set when the banned-password check refused the new password or, in audit mode, would have. */
  bannedPasswordCheck?: "refused" | "wouldRefuse";
}

const AGENT_OFFLINE_RETRY_SECONDS = 60;
/** How long precheck waits for the agent's answer about the user's own policy before showing the domain's. */
export const PRECHECK_POLICY_TIMEOUT_MS = 1500;
/** Agents from this version answer policy requests and read source anchors in requests (older ones would refuse such messages as malformed). */
const USER_POLICY_AGENT_VERSION = [0, 2, 0] as const;

export function supportsUserPolicy(agentVersion: string): boolean {
  const parts = /^(\d+)\.(\d+)\.(\d+)/.exec(agentVersion)?.slice(1).map(Number);
  if (parts === undefined) return false;
  for (let i = 0; i < 3; i++) {
    if (parts[i]! !== USER_POLICY_AGENT_VERSION[i]) return parts[i]! > USER_POLICY_AGENT_VERSION[i]!;
  }
  return true;
}

export interface PrecheckResult {
  available: true;
  policy: PasswordPolicySummary & { bannedPasswordCheck: BannedPasswordMode };
  /**
   * passwordSettingsObject: a fine-grained password policy applies to this user (named in
   * passwordSettingsObject); user: the agent looked the user up and the domain policy applies;
   * domain: the domain policy of the agent's last heartbeat (the agent could not say in time).
   */
  policySource: "passwordSettingsObject" | "user" | "domain";
  passwordSettingsObject?: string;
  allowUnlockWithoutReset: boolean;
}

/**
 * How old an answer the request path accepts for rows that change rarely (the stores' caches,
 * shared/adapters/caching; the instance that writes a row forgets its entry at once, so only
 * other instances see the old answer, for at most this long):
 * - Tenant settings, 15 s: enabling reaches every instance within 15 s (until then they
 *   refuse with WRITEBACK_DISABLED). Disabling tells the agent to discard its keys before the
 *   admin call returns, so a request that a 15-s-old "enabled" lets through is refused by the
 *   agent, never applied. Unlocks read the settings fresh (allowUnlockWithoutReset).
 * - Heartbeat, 30 s (heartbeats come every 5 minutes): an older answer has an older receipt
 *   time, so it refuses (AGENT_OFFLINE) for up to 30 s after an agent came online, and never
 *   calls online an agent that a fresh read calls offline. Its key list may be older too: a
 *   key the agent acknowledged and lost since (a re-registered agent) may pass for 30 s more,
 *   and the agent, which does not hold it, refuses such a request; nothing is applied.
 */
const TENANT_SETTINGS_MAX_AGE_MS = 15_000;
const HEARTBEAT_MAX_AGE_MS = 30_000;
const PENDING_POLL_MS = 200;
// Re-recording an outcome the agent already applied, while storage recovers (about 2 minutes in all).
const RECORD_RETRY_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000, 60_000];

function fingerprint(tenantId: string, input: OperationInput): string {
  const f = input.flags;
  const parts = [tenantId, input.operation, input.user.cloudAnchor, input.initiator.kind, input.initiator.channel, f.unlockAccount, f.forceChangeAtNextLogon, f.expired];
  // Only when given, so the fingerprints of requests without it stay what they were.
  if (input.user.onPremisesImmutableId !== undefined) parts.push(input.user.onPremisesImmutableId);
  return createHash("sha256").update(parts.join("\u0000")).digest("base64url");
}

/**
 * The agent holds the key if its last heartbeat lists it, or it acknowledged the key after
 * that heartbeat. Both times are the cloud's: the agent's clock may be off by minutes.
 */
function agentHolds(heartbeat: AgentHeartbeat | undefined, key: PackageKey): boolean {
  if (heartbeat === undefined) return false;
  if (heartbeat.keyVersions.includes(key.version)) return true;
  return key.acknowledgedAt !== undefined && key.acknowledgedAt.getTime() >= heartbeat.receivedAt.getTime();
}

function policyReason(value: string | undefined): PolicyReason | undefined {
  return (POLICY_REASONS as readonly string[]).includes(value ?? "") ? (value as PolicyReason) : undefined;
}

/** What a verified reply means: an outcome code we know (anything else is a configuration error). */
function replyOutcome(reply: PasswordReply): { outcome: string; reason: PolicyReason | undefined } {
  const outcome = reply.outcome === "succeeded" ? "succeeded" : isAgentOutcome(reply.outcome) ? reply.outcome : "ONPREM_CONFIGURATION_ERROR";
  return { outcome, reason: outcome === "PASSWORD_POLICY_VIOLATION" ? policyReason(reply.reason) ?? "unknown" : undefined };
}

/** Turns an outcome into the caller's answer: the result, or the error it stood for. */
function answerOutcome(o: { requestId: string; operation: PasswordOperation; outcome?: string | undefined; reason?: string | undefined; completedAt: Date }): OperationResult {
  if (o.outcome === "succeeded") return { requestId: o.requestId, outcome: "succeeded", operation: o.operation, completedAt: o.completedAt.toISOString() };
  const code = (o.outcome ?? "INTERNAL_ERROR") as ErrorCode;
  throw new AppError(code, { reason: policyReason(o.reason) });
}

function answer(record: OperationRecord): OperationResult {
  return answerOutcome({ ...record, completedAt: record.completedAt ?? record.startedAt });
}

export class PasswordOperations {
  constructor(private readonly s: WritebackServices) {}

  /**
   * Step 1 of the flow: can this user's password be written back right now, and under which
   * rules? The rules are the user's own when the agent can say (a fine-grained password policy
   * that applies to the user, else the domain's: one request/reply with the agent, bounded by
   * PRECHECK_POLICY_TIMEOUT_MS), else the domain policy of the agent's last heartbeat.
   */
  async precheck(tenantId: string, user: UserRef): Promise<PrecheckResult> {
    if (!hasOnPremisesPassword(user.authType)) throw new AppError("NOT_APPLICABLE_CLOUD_ONLY");
    const { settings, heartbeat, packageKey, publicKeyPem } = await this.available(this.readTenantState(tenantId), this.s.clock.now());
    const own = supportsUserPolicy(heartbeat.agentVersion) ? await this.userPolicy(tenantId, user, packageKey, publicKeyPem) : undefined;
    // The cloud's banned-password check is part of the rules the user sees.
    const bannedPasswordCheck = settings.bannedPasswordMode ?? "enforce";
    if (own === undefined) return { available: true, policy: { ...heartbeat.policy, bannedPasswordCheck }, policySource: "domain", allowUnlockWithoutReset: settings.allowUnlockWithoutReset };
    const { source, passwordSettingsObject, ...policy } = own;
    return {
      available: true,
      policy: { ...policy, bannedPasswordCheck },
      policySource: source === "passwordSettingsObject" ? "passwordSettingsObject" : "user",
      ...(passwordSettingsObject === undefined ? {} : { passwordSettingsObject }),
      allowUnlockWithoutReset: settings.allowUnlockWithoutReset,
    };
  }

  /** The agent's answer to "which policy applies to this user", or undefined (no answer in time, or none it could give). */
  private async userPolicy(tenantId: string, user: UserRef, packageKey: PackageKey, publicKeyPem: string): Promise<UserPasswordPolicy | undefined> {
    const requestId = randomUUID();
    const now = this.s.clock.now();
    const expiresAt = new Date(now.getTime() + this.s.policy.messageTtlSeconds * 1000);
    try {
      const body = sealRequest({
        tenantId,
        requestId,
        operation: "policy",
        keyVersion: packageKey.version,
        packageKey: packageKey.key,
        agentPublicKey: publicKeyFromPem(publicKeyPem),
        issuedAt: now,
        expiresAt,
        traceId: randomUUID(),
        cloudAnchor: user.cloudAnchor,
        ...(user.onPremisesImmutableId === undefined ? {} : { sourceAnchor: Buffer.from(user.onPremisesImmutableId, "base64") }),
        initiator: { kind: "user", channel: "ssprPortal" },
        flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
      });
      const reply = await this.s.relay.request({ tenantId, requestId, body, expiresAt }, { timeoutMs: Math.min(this.s.policy.replyTimeoutMs, PRECHECK_POLICY_TIMEOUT_MS) });
      if (reply.outcome !== "succeeded" || reply.policy === undefined) {
        this.s.logger.info("precheck: the agent gave no user policy; the domain policy is shown", { tenantId, requestId, outcome: reply.outcome });
        return undefined;
      }
      return reply.policy;
    } catch (e) {
      this.s.logger.warn("precheck: no user policy from the agent in time; the domain policy is shown", { tenantId, requestId, code: toAppError(e).code });
      return undefined;
    }
  }

  reset(tenantId: string, body: ResetRequest, trace?: TraceContext): Promise<OperationResult> {
    return this.run(tenantId, {
      requestId: body.requestId,
      trace,
      operation: "reset",
      user: body.user,
      initiator: body.initiator,
      flags: { unlockAccount: body.unlockAccount, forceChangeAtNextLogon: body.forceChangeAtNextLogon, expired: false },
      newPassword: body.newPassword,
    });
  }

  change(tenantId: string, body: ChangeRequest, trace?: TraceContext): Promise<OperationResult> {
    return this.run(tenantId, {
      requestId: body.requestId,
      trace,
      operation: "change",
      user: body.user,
      initiator: body.initiator,
      flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: body.reason === "expired" },
      newPassword: body.newPassword,
      currentPassword: body.currentPassword,
    });
  }

  unlock(tenantId: string, body: UnlockRequest, trace?: TraceContext): Promise<OperationResult> {
    return this.run(tenantId, {
      requestId: body.requestId,
      trace,
      operation: "unlock",
      user: body.user,
      initiator: body.initiator,
      flags: { unlockAccount: true, forceChangeAtNextLogon: false, expired: false },
    });
  }

  async status(tenantId: string, requestId: string): Promise<Record<string, unknown>> {
    const record = await this.s.operations.get(tenantId, requestId);
    if (record === undefined) throw new AppError("OPERATION_NOT_FOUND");
    const now = this.s.clock.now();
    // A pending operation whose message has expired was never applied: the agent refuses expired requests.
    const expired = record.status === "pending" && now.getTime() > record.expiresAt.getTime();
    return {
      requestId: record.requestId,
      operation: record.operation,
      status: expired ? "expired" : record.status,
      outcome: expired ? "AGENT_TIMEOUT" : record.outcome ?? null,
      reason: record.reason ?? null,
      applied: record.outcome === "succeeded" ? true : record.status === "completed" || expired ? false : null,
      startedAt: record.startedAt.toISOString(),
      completedAt: record.completedAt?.toISOString() ?? null,
      expiresAt: record.expiresAt.toISOString(),
    };
  }

  private async run(tenantId: string, input: OperationInput): Promise<OperationResult> {
    const started = this.s.clock.now();
    const requestId = (input.requestId ?? randomUUID()).toLowerCase();
    let outcome = "INTERNAL_ERROR";
    let reason: PolicyReason | undefined;
    const attempt: Attempt = { replayed: false, audited: false };
    try {
      const result = await this.execute(tenantId, requestId, input, started, attempt);
      outcome = "succeeded";
      return result;
    } catch (e) {
      const error = toAppError(e);
      outcome = error.code;
      reason = error.reason;
      throw error;
    } finally {
      // An idempotent replay is not a new operation: it is not audited (or counted) again.
      if (!attempt.replayed) this.s.telemetry?.operationCompleted(input.operation, outcome, this.s.clock.now().getTime() - started.getTime());
      if (!attempt.replayed && !attempt.audited) await this.auditRow(tenantId, requestId, input, outcome, reason, started, attempt);
    }
  }

  private async execute(tenantId: string, requestId: string, input: OperationInput, started: Date, attempt: Attempt): Promise<OperationResult> {
    // Rules that do not depend on state come first: they answer the same every time.
    if (!hasOnPremisesPassword(input.user.authType)) throw new AppError("NOT_APPLICABLE_CLOUD_ONLY");
    if (!isWrittenBack(input.operation, input.initiator)) {
      const alternatives = supportedChannels(input.operation, input.initiator.kind);
      throw new AppError("OPERATION_NOT_SUPPORTED", {
        message: `A ${input.initiator.kind} ${input.operation} from ${input.initiator.channel} is not written back to on-premises Active Directory. Supported channels for it: ${alternatives.join(", ") || "none"}.`,
      });
    }

    // The schema's byte limits guarantee this; checked again here so that nothing that cannot be
    // sealed ever reaches the rate limit (it would count an attempt that can only fail).
    if (sealedRequestBytes(Buffer.byteLength(input.user.cloudAnchor, "utf8"), utf8Length(input.newPassword), utf8Length(input.currentPassword), input.user.onPremisesImmutableId !== undefined) > MAX_MESSAGE_BYTES) {
      throw new AppError("PAYLOAD_TOO_LARGE", { message: "The cloud anchor and passwords are too long to be sealed for the agent." });
    }

    const print = fingerprint(tenantId, input);
    // The reads are independent: start them together (one storage round trip), then judge them
    // in the order the rules are written. Tenant settings and the heartbeat come from short
    // caches (SETTINGS_MAX_AGE_MS, HEARTBEAT_MAX_AGE_MS); the user's rate-limit window is read
    // fresh, and if that read fails the ledger reads for itself.
    const state = this.readTenantState(tenantId, input.operation);
    const limitRead = this.s.rateLimiter.read(tenantId, input.user.cloudAnchor).catch(() => undefined);
    let settings: StoredTenantSettings;
    let packageKey: PackageKey;
    let publicKeyPem: string;
    let heartbeat: AgentHeartbeat;
    try {
      ({ settings, packageKey, publicKeyPem, heartbeat } = await this.available(state, started, input.operation));
    } catch (e) {
      // A requestId seen before answers as recorded, whatever the tenant's state is now: one
      // read, on refusal paths only.
      const previous = await this.s.operations.get(tenantId, requestId);
      if (previous !== undefined) return this.replay(previous, print, attempt);
      throw e;
    }
    // Agents before 0.2.0 would refuse a request carrying the source anchor as malformed: they get the cloud anchor only.
    const sendSourceAnchor = input.user.onPremisesImmutableId !== undefined && supportsUserPolicy(heartbeat.agentVersion);

    // Before anything is sealed or sent: a refused password never leaves the cloud. One shorter
    // than the directory's minimum is left to the directory, whose answer (tooShort) is precise.
    if (input.newPassword !== undefined && input.newPassword.length >= heartbeat.policy.minLength) {
      const verdict = checkBannedPassword(settings, input.user, input.newPassword);
      if (verdict !== "allowed") attempt.bannedPasswordCheck = verdict;
      if (verdict === "refused") {
        // Refused before the ledger: it costs the user no rate-limit slot, and a requestId seen
        // before still answers as recorded (one read, on this refusal path only).
        const previous = await this.s.operations.get(tenantId, requestId);
        if (previous !== undefined) return this.replay(previous, print, attempt);
        throw new AppError("PASSWORD_POLICY_VIOLATION", { reason: "banned" });
      }
    }

    const expiresAt = new Date(started.getTime() + this.s.policy.messageTtlSeconds * 1000);
    const begun = await this.s.ledger.begin(
      {
        tenantId,
        requestId,
        operation: input.operation,
        fingerprint: print,
        cloudAnchor: input.user.cloudAnchor,
        initiatorKind: input.initiator.kind,
        channel: input.initiator.channel,
        status: "pending",
        startedAt: started,
        expiresAt,
        // Lets a store that retried this insert know the record as ours, not as a replay to wait on.
        attempt: randomUUID(),
      },
      { subject: input.user.cloudAnchor, snapshot: await limitRead },
    );
    if (begun.kind === "exists") return this.replay(begun.existing, print, attempt);
    if (begun.kind === "limited") {
      const previous = await this.s.operations.get(tenantId, requestId);
      if (previous !== undefined) return this.replay(previous, print, attempt);
      throw new AppError("RATE_LIMITED", { retryAfterSeconds: begun.decision.retryAfterSeconds });
    }
    const recorded = begun.begun;

    let body: Buffer;
    const newPassword = input.newPassword === undefined ? undefined : Buffer.from(input.newPassword, "utf8");
    const currentPassword = input.currentPassword === undefined ? undefined : Buffer.from(input.currentPassword, "utf8");
    try {
      body = sealRequest({
        tenantId,
        requestId,
        operation: input.operation,
        keyVersion: packageKey.version,
        packageKey: packageKey.key,
        agentPublicKey: publicKeyFromPem(publicKeyPem),
        issuedAt: started,
        expiresAt,
        traceId: input.trace?.traceId ?? newTraceId(),
        parentSpanId: input.trace?.spanId,
        traceFlags: input.trace?.flags,
        cloudAnchor: input.user.cloudAnchor,
        ...(sendSourceAnchor && input.user.onPremisesImmutableId !== undefined ? { sourceAnchor: Buffer.from(input.user.onPremisesImmutableId, "base64") } : {}),
        initiator: input.initiator,
        flags: input.flags,
        ...(newPassword === undefined ? {} : { newPassword }),
        ...(currentPassword === undefined ? {} : { currentPassword }),
      });
    } catch (e) {
      await this.finish(tenantId, requestId, "INTERNAL_ERROR", undefined);
      throw toAppError(e);
    } finally {
      newPassword?.fill(0);
      currentPassword?.fill(0);
    }

    let reply: PasswordReply;
    try {
      reply = await this.s.relay.request({ tenantId, requestId, body, expiresAt, keyVersion: packageKey.version }, { timeoutMs: this.s.policy.replyTimeoutMs });
    } catch (e) {
      const error = toAppError(e);
      // A timed-out request stays pending: a late reply or the expiry settles it.
      if (error.code !== "AGENT_TIMEOUT") await this.finish(tenantId, requestId, error.code, undefined);
      throw error;
    }
    // The outcome record and the audit row are independent writes: make them together.
    const { outcome, reason } = replyOutcome(reply);
    attempt.audited = true;
    return this.settle(tenantId, requestId, reply, recorded, this.auditOf(tenantId, requestId, input, outcome, reason, started, attempt));
  }

  /**
   * Whether writeback can run for the tenant now, judged in the order the rules are written:
   * enabled (and, for an unlock, unlock allowed), agent online, agent registered, the current
   * key held by the agent. The one check behind precheck and every operation.
   */
  private async available(state: TenantState, now: Date, operation?: PasswordOperation): Promise<Availability> {
    const settings = await state.settings;
    if (settings?.enabled !== true) throw new AppError("WRITEBACK_DISABLED");
    if (operation === "unlock" && !settings.allowUnlockWithoutReset) throw new AppError("UNLOCK_NOT_ENABLED");
    const heartbeat = await state.heartbeat;
    if (heartbeat === undefined || agentStatus(heartbeat.receivedAt, now, this.s.policy.heartbeatWindowSeconds) !== "online") {
      throw new AppError("AGENT_OFFLINE", { retryAfterSeconds: AGENT_OFFLINE_RETRY_SECONDS });
    }
    const [packageKey, publicKeyPem] = await state.keys;
    if (publicKeyPem === undefined) throw new AppError("AGENT_NOT_REGISTERED");
    if (packageKey === undefined || !agentHolds(heartbeat, packageKey)) throw new AppError("KEYS_NOT_ACKNOWLEDGED");
    return { settings, heartbeat, packageKey, publicKeyPem };
  }

  /**
   * Starts the tenant reads a request needs. A read the rules never reach (say, keys of a
   * disabled tenant) must not surface as an unhandled rejection, so each is pre-handled;
   * awaiting it later still throws.
   */
  private readTenantState(tenantId: string, operation?: PasswordOperation): TenantState {
    // Whether unlocks need a reset is a rule an answer 15 s old could break: read it fresh.
    const settings = this.s.settings.get(tenantId, operation === "unlock" ? {} : { maxAgeMs: TENANT_SETTINGS_MAX_AGE_MS });
    const heartbeat = this.s.heartbeats.latest(tenantId, { maxAgeMs: HEARTBEAT_MAX_AGE_MS });
    const keys = Promise.all([this.s.keyRing.currentKey(tenantId), this.s.keyRing.agentPublicKey(tenantId)]);
    for (const p of [settings, heartbeat, keys]) p.catch(() => {});
    return { settings, heartbeat, keys };
  }

  /**
   * Records a verified reply (also used for replies that arrive after the caller gave up).
   * If the record cannot be written, the agent has acted all the same: the caller gets the
   * agent's outcome, and the record is retried in the background so the status endpoint
   * catches up instead of reporting the operation as expired and not applied.
   */
  async settle(tenantId: string, requestId: string, reply: PasswordReply, begun?: BegunOperation, audit?: AuditRow): Promise<OperationResult> {
    const { outcome, reason } = replyOutcome(reply);
    const completion = { outcome, reason, completedAt: reply.completedAt };
    let record: OperationRecord | undefined;
    try {
      if (begun !== undefined && audit !== undefined) {
        // With the caller's audit row: the outcome and the row in one write where the store can.
        const done = await this.s.ledger.complete(begun, completion, audit);
        if (done.audit.status === "rejected") this.auditLost(audit, done.audit.reason);
        if (done.record.status === "rejected") throw done.record.reason;
        record = done.record.value;
      } else {
        record = await this.s.operations.complete(tenantId, requestId, completion, begun);
      }
    } catch (e) {
      this.s.logger.error("operation outcome not recorded yet; retrying in the background", { tenantId, requestId, outcome, code: toAppError(e).code });
      this.recordLater(tenantId, requestId, completion, 0);
      const operation = reply.operation;
      if (operation !== "reset" && operation !== "change" && operation !== "unlock") throw toAppError(e);
      return answerOutcome({ requestId, operation, outcome, reason, completedAt: reply.completedAt });
    }
    if (record === undefined) throw new AppError("OPERATION_NOT_FOUND");
    return answer(record);
  }

  private recordLater(tenantId: string, requestId: string, completion: { outcome: string; reason: PolicyReason | undefined; completedAt: Date }, attempt: number): void {
    const delay = RECORD_RETRY_DELAYS_MS[attempt];
    if (delay === undefined) {
      this.s.logger.error("operation outcome lost: storage stayed unavailable", { tenantId, requestId, outcome: completion.outcome });
      return;
    }
    const timer = setTimeout(() => {
      this.s.operations.complete(tenantId, requestId, completion).then(
        () => this.s.logger.info("operation outcome recorded after a storage outage", { tenantId, requestId }),
        () => this.recordLater(tenantId, requestId, completion, attempt + 1),
      );
    }, delay);
    timer.unref?.();
  }

  private async finish(tenantId: string, requestId: string, outcome: string, reason: PolicyReason | undefined): Promise<void> {
    try {
      await this.s.operations.complete(tenantId, requestId, { outcome, reason, completedAt: this.s.clock.now() });
    } catch (e) {
      this.s.logger.error("could not record an operation outcome", { tenantId, requestId, code: toAppError(e).code });
    }
  }

  /** Same requestId again: the recorded result, never a second write. */
  private async replay(record: OperationRecord, print: string, attempt: Attempt): Promise<OperationResult> {
    if (record.fingerprint !== print) throw new AppError("REQUEST_ID_CONFLICT");
    attempt.replayed = true;
    let current = record;
    const deadline = Date.now() + this.s.policy.replyTimeoutMs;
    while (current.status === "pending") {
      if (Date.now() >= deadline || this.s.clock.now().getTime() > current.expiresAt.getTime()) {
        throw new AppError("AGENT_TIMEOUT");
      }
      await new Promise((r) => setTimeout(r, PENDING_POLL_MS));
      current = (await this.s.operations.get(record.tenantId, record.requestId)) ?? current;
    }
    return answer(current);
  }

  private auditOf(tenantId: string, requestId: string, input: OperationInput, outcome: string, reason: PolicyReason | undefined, started: Date, attempt: Attempt): AuditRow {
    return {
      tenantId,
      requestId,
      operation: input.operation,
      initiatorKind: input.initiator.kind,
      channel: input.initiator.channel,
      cloudAnchor: input.user.cloudAnchor,
      outcome,
      reason,
      bannedPasswordCheck: attempt.bannedPasswordCheck,
      durationMs: this.s.clock.now().getTime() - started.getTime(),
      at: started,
    };
  }

  private auditRow(tenantId: string, requestId: string, input: OperationInput, outcome: string, reason: PolicyReason | undefined, started: Date, attempt: Attempt): Promise<void> {
    return this.appendAudit(this.auditOf(tenantId, requestId, input, outcome, reason, started, attempt));
  }

  private async appendAudit(row: AuditRow): Promise<void> {
    try {
      await this.s.audit.append(row);
    } catch (e) {
      this.auditLost(row, e);
    }
  }

  /** The password operation already happened; a lost audit row must not hide its result. */
  private auditLost(row: AuditRow, e: unknown): void {
    this.s.logger.error("audit row not written", { tenantId: row.tenantId, requestId: row.requestId, outcome: row.outcome, code: isAppError(e) ? e.code : "INTERNAL_ERROR" });
  }

}

function utf8Length(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Buffer.byteLength(text, "utf8");
}
