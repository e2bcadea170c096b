import { randomUUID } from "node:crypto";
import { durationMs, type QueueDef } from "./config.js";

/** An AMQP message as rhea decodes it; kept opaque and sent back out as received. */
export type AmqpMessage = Record<string, unknown> & {
  message_id?: unknown;
  group_id?: string;
  ttl?: number;
  absolute_expiry_time?: Date | number;
  message_annotations?: Record<string, unknown>;
  application_properties?: Record<string, unknown>;
};

/** As Service Bus reports it in `x-opt-message-state`. */
export type MessageState = "active" | "deferred" | "scheduled";
export const MESSAGE_STATE_CODE: Record<MessageState, number> = { active: 0, deferred: 1, scheduled: 2 };
const SCHEDULED_ENQUEUE_TIME = "x-opt-scheduled-enqueue-time";

export interface StoredMessage {
  sequenceNumber: number;
  state: MessageState;
  message: AmqpMessage;
  /** The bare message (properties onward) as the sender encoded it, when the peer kept it. */
  bare?: Buffer | undefined;
  enqueuedAt: number;
  expiresAt: number;
  sessionId: string | undefined;
  /** Deliveries that ended without completion (abandon, lock expiry). */
  failedDeliveries: number;
  lockToken: string | undefined;
  lockedUntil: number;
  deadLetterReason?: string | undefined;
  deadLetterDescription?: string | undefined;
}

const DEFAULT_TTL_MS = 14 * 24 * 3600 * 1000;

/**
 * One queue's messages with peekLock state. The dead-letter queue is a Queue of its own.
 * Expired messages are never handed out.
 */
export class Queue {
  readonly name: string;
  readonly requiresSession: boolean;
  readonly ttlMs: number;
  readonly lockMs: number;
  readonly maxDeliveryCount: number;
  readonly deadLetterOnExpiry: boolean;
  readonly deadLetter: Queue | undefined;
  private readonly messages: StoredMessage[] = [];
  private readonly byToken = new Map<string, StoredMessage>();
  private sequence = 0;
  /** Session id → owner link id and lock expiry. */
  readonly sessionLocks = new Map<string, { owner: string; lockedUntil: number }>();
  readonly sessionState = new Map<string, Buffer>();

  constructor(def: QueueDef, isDeadLetter = false) {
    this.name = def.name;
    this.requiresSession = def.requiresSession === true && !isDeadLetter;
    this.ttlMs = durationMs(def.defaultMessageTimeToLive, DEFAULT_TTL_MS);
    this.lockMs = durationMs(def.lockDuration, 60_000);
    this.maxDeliveryCount = def.maxDeliveryCount ?? 10;
    this.deadLetterOnExpiry = def.deadLetteringOnMessageExpiration === true;
    this.deadLetter = isDeadLetter ? undefined : new Queue({ name: `${def.name}/$deadletterqueue`, lockDuration: def.lockDuration }, true);
  }

  enqueue(message: AmqpMessage, now: number, carried?: Partial<StoredMessage>, bare?: Buffer): StoredMessage {
    if (message.message_id === undefined || message.message_id === null) {
      message.message_id = randomUUID().replace(/-/g, "");
      // The properties changed: the sender's bytes no longer describe the message.
      bare = undefined;
    }
    const ttl = this.ttlOf(message);
    // A message with a scheduled enqueue time in the future waits, invisible to receivers, until then.
    const scheduled = carried === undefined ? scheduledTime(message) : undefined;
    const enqueuedAt = carried?.enqueuedAt ?? (scheduled !== undefined && scheduled > now ? scheduled : now);
    const stored: StoredMessage = {
      sequenceNumber: ++this.sequence,
      state: enqueuedAt > now ? "scheduled" : "active",
      message,
      bare,
      enqueuedAt,
      // Like Service Bus: expiry is the broker's enqueued time + TTL. The sender's
      // absolute-expiry-time is computed from the sender's clock and is not interpreted,
      // so a sender whose clock is behind does not see its messages expire on arrival.
      expiresAt: carried?.expiresAt ?? enqueuedAt + ttl,
      sessionId: typeof message.group_id === "string" ? message.group_id : undefined,
      failedDeliveries: carried?.failedDeliveries ?? 0,
      lockToken: undefined,
      lockedUntil: 0,
      deadLetterReason: carried?.deadLetterReason,
      deadLetterDescription: carried?.deadLetterDescription,
    };
    this.messages.push(stored);
    return stored;
  }

  private ttlOf(message: AmqpMessage): number {
    return typeof message.ttl === "number" && message.ttl > 0 ? Math.min(message.ttl, this.ttlMs) : this.ttlMs;
  }

  /** Activates scheduled messages whose time came, drops (or dead-letters) expired ones and releases expired locks. */
  sweep(now: number): { changed: boolean } {
    let changed = false;
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i];
      if (m === undefined) continue;
      if (m.state === "scheduled") {
        if (m.enqueuedAt > now) continue;
        m.state = "active";
        changed = true;
      }
      if (m.lockToken !== undefined && m.lockedUntil <= now) {
        this.byToken.delete(m.lockToken);
        m.lockToken = undefined;
        m.failedDeliveries += 1;
        changed = true;
        if (m.failedDeliveries >= this.maxDeliveryCount && this.deadLetter !== undefined) {
          this.moveToDeadLetter(m, "MaxDeliveryCountExceeded", "Message could not be consumed after the maximum delivery attempts.", now);
          continue;
        }
      }
      if (m.lockToken === undefined && m.expiresAt <= now) {
        this.remove(m);
        if (this.deadLetterOnExpiry && this.deadLetter !== undefined) this.deadLetter.enqueue(m.message, now, { ...m, expiresAt: Number.MAX_SAFE_INTEGER, deadLetterReason: "TTLExpiredException" });
        changed = true;
      }
    }
    for (const [id, lock] of this.sessionLocks) if (lock.lockedUntil <= now) this.sessionLocks.delete(id);
    return { changed };
  }

  /** The next deliverable message for a receiver (optionally of one session). */
  next(now: number, sessionId: string | undefined): StoredMessage | undefined {
    return this.messages.find((m) => m.state === "active" && m.lockToken === undefined && m.expiresAt > now && (sessionId === undefined || m.sessionId === sessionId));
  }

  /** Locks the message; the token is the hex of the 16-byte delivery tag. */
  lock(m: StoredMessage, now: number): string {
    const token = randomUUID().replace(/-/g, "");
    m.lockToken = token;
    m.lockedUntil = now + this.lockMs;
    this.byToken.set(token, m);
    return token;
  }

  byLockToken(token: string): StoredMessage | undefined {
    return this.byToken.get(token);
  }

  complete(m: StoredMessage): void {
    this.remove(m);
  }

  /** Unlocks the message for redelivery (a deferred message stays deferred: it is only received by sequence number). */
  abandon(m: StoredMessage, now: number): void {
    if (m.lockToken !== undefined) this.byToken.delete(m.lockToken);
    m.lockToken = undefined;
    m.failedDeliveries += 1;
    if (m.failedDeliveries >= this.maxDeliveryCount && this.deadLetter !== undefined) {
      this.moveToDeadLetter(m, "MaxDeliveryCountExceeded", "Message could not be consumed after the maximum delivery attempts.", now);
    }
  }

  /** Sets the message aside: receivers no longer get it; receive-by-sequence-number does. */
  defer(m: StoredMessage): void {
    if (m.lockToken !== undefined) this.byToken.delete(m.lockToken);
    m.lockToken = undefined;
    m.state = "deferred";
  }

  bySequenceNumber(sequenceNumber: number, now: number): StoredMessage | undefined {
    return this.messages.find((m) => m.sequenceNumber === sequenceNumber && m.expiresAt > now);
  }

  /** Removes a scheduled message before its time; false when there is no such scheduled message. */
  cancelScheduled(sequenceNumber: number): boolean {
    const m = this.messages.find((x) => x.sequenceNumber === sequenceNumber && x.state === "scheduled");
    if (m === undefined) return false;
    this.remove(m);
    return true;
  }

  renew(m: StoredMessage, now: number): number {
    m.lockedUntil = now + this.lockMs;
    return m.lockedUntil;
  }

  moveToDeadLetter(m: StoredMessage, reason: string | undefined, description: string | undefined, now: number): void {
    this.remove(m);
    this.deadLetter?.enqueue(m.message, now, { ...m, expiresAt: Number.MAX_SAFE_INTEGER, deadLetterReason: reason, deadLetterDescription: description });
  }

  remove(m: StoredMessage): void {
    if (m.lockToken !== undefined) this.byToken.delete(m.lockToken);
    m.lockToken = undefined;
    const i = this.messages.indexOf(m);
    if (i >= 0) this.messages.splice(i, 1);
  }

  /** Releases every lock in the list (their receiver's connection dropped). */
  release(tokens: Iterable<string>): void {
    for (const t of tokens) {
      const m = this.byToken.get(t);
      if (m === undefined) continue;
      this.byToken.delete(t);
      m.lockToken = undefined;
    }
  }

  /** Every state (active, deferred, scheduled), locked or not, like the service's peek. */
  peek(fromSequence: number, count: number, now: number, sessionId?: string): StoredMessage[] {
    return this.messages.filter((m) => m.sequenceNumber >= fromSequence && m.expiresAt > now && (sessionId === undefined || m.sessionId === sessionId)).slice(0, count);
  }

  sessionsWithMessages(now: number): string[] {
    const ids = new Set<string>();
    for (const m of this.messages) if (m.sessionId !== undefined && m.state === "active" && m.lockToken === undefined && m.expiresAt > now) ids.add(m.sessionId);
    return [...ids];
  }

  get length(): number {
    return this.messages.length;
  }
}

function scheduledTime(message: AmqpMessage): number | undefined {
  const v = message.message_annotations?.[SCHEDULED_ENQUEUE_TIME];
  if (v instanceof Date) return v.getTime();
  return typeof v === "number" ? v : undefined;
}
