import type { Right } from "./config.js";
import { AMQP_LONG, AMQP_TIMESTAMP, longValue, rhea } from "./amqp.js";
import type { AmqpMessage, Queue, StoredMessage } from "./queue.js";

/**
 * The `<entity>/$management` request/response operations, answered the way Service Bus
 * answers them: application properties `statusCode` (AMQP int), `statusDescription` and, on
 * failure, `errorCondition` (symbol); bodies are AMQP maps with the service's key names and
 * types (lock tokens as uuid, expirations as an array of timestamps, sequence numbers as an
 * array of long, messages as a list of maps holding each message's encoding as binary).
 */

export type Disposition = "completed" | "abandoned" | "suspended" | "defered";

export interface ManagementHost {
  readonly queue: Queue;
  readonly now: number;
  /** Whether the caller's tokens give this right on the entity. */
  can(right: Right): boolean;
  /** The message encoded as a delivery would carry it (header, annotations, bare message). */
  encode(m: StoredMessage, lockToken?: string): Buffer;
  /** Settles a locked message by its lock token (the delivery tag's hex); false when the lock is gone. */
  settle(token: string, status: Disposition, deadLetter?: { reason?: string; description?: string }, properties?: Record<string, unknown>): boolean;
  /** Stores a message given encoded in a schedule request. */
  schedule(encoded: Buffer): StoredMessage;
  /** Queue contents changed: wake receivers. */
  changed(): void;
}

export interface ManagementAnswer {
  status: number;
  description: string;
  condition?: string;
  body?: unknown;
}

const ok = (body?: unknown): ManagementAnswer => ({ status: 200, description: "OK", ...(body === undefined ? {} : { body }) });
const fail = (status: number, condition: string, description: string): ManagementAnswer => ({ status, condition, description });
const lockLost = () => fail(410, "com.microsoft:message-lock-lost", "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.");
const sessionLockLost = (id: string) => fail(410, "com.microsoft:session-lock-lost", `The session lock has expired on the MessageSession '${id}'. Accept a new MessageSession.`);
const unauthorized = (right: Right) => fail(401, "amqp:unauthorized-access", `Unauthorized access. '${right}' claim(s) are required to perform this operation.`);

/**
 * Lock tokens: the delivery tag is a .NET GUID's bytes (first three groups little-endian);
 * on the wire as an AMQP uuid, the same GUID is big-endian. Both SDKs send the uuid form in
 * requests; the peer knows locks by the tag's hex.
 */
export function swapGuidBytes(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  if (out.length === 16) for (const [from, to] of [[0, 4], [4, 6], [6, 8]] as const) out.subarray(from, to).reverse();
  return out;
}
export function tagOfLockToken(token: unknown): string {
  const bytes = Buffer.isBuffer(token) ? token : Buffer.from(String(token).replace(/-/g, ""), "hex");
  return swapGuidBytes(bytes).toString("hex");
}
export function lockTokenOfTag(tagHex: string): Buffer {
  return swapGuidBytes(Buffer.from(tagHex, "hex"));
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const text = (v: unknown): string | undefined => (typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined);

export function handleManagement(host: ManagementHost, operation: unknown, body: Record<string, unknown>): ManagementAnswer {
  const { queue, now } = host;
  const sessionId = text(body["session-id"]);
  const needSession = (): ManagementAnswer | undefined => {
    if (sessionId === undefined || sessionId === "") return fail(400, "com.microsoft:argument-error", "The session-id is required.");
    const lock = queue.sessionLocks.get(sessionId);
    return lock === undefined || lock.lockedUntil <= now ? sessionLockLost(sessionId) : undefined;
  };
  switch (operation) {
    case "com.microsoft:renew-lock": {
      if (!host.can("Listen")) return unauthorized("Listen");
      const expirations: number[] = [];
      for (const token of list(body["lock-tokens"])) {
        const m = queue.byLockToken(tagOfLockToken(token));
        if (m === undefined || m.lockedUntil <= now) return lockLost();
        expirations.push(queue.renew(m, now));
      }
      return ok({ expirations: rhea.types.wrap_array(expirations, AMQP_TIMESTAMP) });
    }
    case "com.microsoft:renew-session-lock": {
      if (!host.can("Listen")) return unauthorized("Listen");
      const refused = needSession();
      if (refused !== undefined || sessionId === undefined) return refused ?? lockLost();
      const lock = queue.sessionLocks.get(sessionId);
      if (lock === undefined) return sessionLockLost(sessionId);
      lock.lockedUntil = now + queue.lockMs;
      return ok({ expiration: rhea.types.wrap_timestamp(lock.lockedUntil) });
    }
    case "com.microsoft:update-disposition": {
      if (!host.can("Listen")) return unauthorized("Listen");
      const status = text(body["disposition-status"]);
      if (status !== "completed" && status !== "abandoned" && status !== "suspended" && status !== "defered") return fail(400, "com.microsoft:argument-error", `Unknown disposition-status '${status ?? ""}'.`);
      const tokens = list(body["lock-tokens"]).map(tagOfLockToken);
      // All or nothing: a request with one lost lock settles none of its messages.
      if (tokens.some((t) => {
        const m = queue.byLockToken(t);
        return m === undefined || m.lockedUntil <= now;
      }))
        return lockLost();
      const deadLetter = { reason: text(body["deadletter-reason"]), description: text(body["deadletter-description"]) };
      const properties = body["properties-to-modify"];
      for (const t of tokens) host.settle(t, status, deadLetter, properties !== null && typeof properties === "object" ? (properties as Record<string, unknown>) : undefined);
      host.changed();
      return ok();
    }
    case "com.microsoft:peek-message": {
      if (!host.can("Listen")) return unauthorized("Listen");
      const from = longValue(body["from-sequence-number"] ?? 1);
      const count = Number(body["message-count"] ?? 1);
      const found = queue.peek(from, count, now, sessionId);
      if (found.length === 0) return { status: 204, description: "No messages to peek." };
      return ok({ messages: found.map((m) => ({ message: host.encode(m) })) });
    }
    case "com.microsoft:receive-by-sequence-number": {
      if (!host.can("Listen")) return unauthorized("Listen");
      if (queue.requiresSession) {
        const refused = needSession();
        if (refused !== undefined) return refused;
      }
      const receiveAndDelete = Number(body["receiver-settle-mode"] ?? 1) === 0;
      const wanted = list(body["sequence-numbers"]).map(longValue);
      const found: StoredMessage[] = [];
      for (const seq of wanted) {
        const m = queue.bySequenceNumber(seq, now);
        if (m === undefined || m.state !== "deferred" || (m.lockToken !== undefined && m.lockedUntil > now) || (queue.requiresSession && m.sessionId !== sessionId)) {
          return fail(404, "com.microsoft:message-not-found", `Failed to retrieve the deferred message with sequence number ${seq}.`);
        }
        found.push(m);
      }
      const messages = found.map((m) => {
        if (receiveAndDelete) {
          queue.remove(m);
          return { message: host.encode(m) };
        }
        const token = queue.lock(m, now);
        return { "lock-token": rhea.types.wrap_uuid(lockTokenOfTag(token)), message: host.encode(m, token) };
      });
      return ok({ messages });
    }
    case "com.microsoft:schedule-message": {
      if (!host.can("Send")) return unauthorized("Send");
      const entries = list(body.messages);
      const encoded: Buffer[] = [];
      for (const e of entries) {
        const m = (e ?? {}) as Record<string, unknown>;
        if (!Buffer.isBuffer(m.message)) return fail(400, "com.microsoft:argument-error", "Each scheduled message needs its encoded 'message'.");
        encoded.push(m.message);
      }
      const sequenceNumbers = encoded.map((b) => host.schedule(b).sequenceNumber);
      host.changed();
      return ok({ "sequence-numbers": rhea.types.wrap_array(sequenceNumbers, AMQP_LONG) });
    }
    case "com.microsoft:cancel-scheduled-message": {
      if (!host.can("Send")) return unauthorized("Send");
      for (const seq of list(body["sequence-numbers"]).map(longValue)) {
        if (!queue.cancelScheduled(seq)) return fail(404, "com.microsoft:message-not-found", `The scheduled message with sequence number ${seq} was not found.`);
      }
      return ok();
    }
    case "com.microsoft:get-session-state": {
      if (!host.can("Listen")) return unauthorized("Listen");
      const refused = needSession();
      if (refused !== undefined || sessionId === undefined) return refused ?? lockLost();
      return ok({ "session-state": queue.sessionState.get(sessionId) ?? null });
    }
    case "com.microsoft:set-session-state": {
      if (!host.can("Listen")) return unauthorized("Listen");
      const refused = needSession();
      if (refused !== undefined || sessionId === undefined) return refused ?? lockLost();
      const state = body["session-state"];
      if (Buffer.isBuffer(state)) queue.sessionState.set(sessionId, Buffer.from(state));
      else queue.sessionState.delete(sessionId);
      return ok();
    }
    default:
      return fail(501, "amqp:not-implemented", `The operation '${String(operation)}' is not supported by this peer.`);
  }
}

/** Decodes a message a schedule request carries (exported for the peer, which also keeps its bare bytes). */
export function decodeScheduled(encoded: Buffer): AmqpMessage {
  return rhea.message.decode(encoded) as AmqpMessage;
}
