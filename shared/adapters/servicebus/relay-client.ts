import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusSessionReceiver } from "@azure/service-bus";
import { AppError } from "../../errors/app-error.js";
import type { Logger } from "../../ports/logger.port.js";
import type { LateReplyHandler, RelayClient, RelayClientStats, RelayReplyMessage, RelayRequest, ReplyOpener } from "../../ports/relay-client.port.js";
import { BatchingSender } from "./batching-sender.js";
import { toRelayError } from "./errors.js";
import { tenantQueueName } from "./queue-names.js";
import { errorCode } from "../../errors/error-code.js";

export interface ServiceBusRelayClientOptions<TReply> {
  client: ServiceBusClient;
  repliesQueue: string;
  /** This function instance's session on the replies queue. */
  instanceId: string;
  openReply: ReplyOpener<TReply>;
  onLateReply?: LateReplyHandler<TReply>;
  /** Whether an opener failure means "never trust this reply" (dead-letter) rather than "try again later". */
  isUntrusted: (error: unknown) => boolean;
  logger: Logger;
  /** Concurrent reply handlers on the one session receiver. */
  maxConcurrentReplies?: number;
  /** Requests remembered for their late replies (default 200,000; the oldest goes first). */
  maxRememberedRequests?: number;
  /** How long after its expiry a request's reply is still taken (default 60 s: broker delay). */
  lateReplyGraceMs?: number;
  /** Delays between attempts to open a reply the opener could not verify yet (a vault outage). */
  verifyRetryDelaysMs?: readonly number[];
  /**
   * Tenant queues with an open sender (an AMQP link each) at most: beyond it the least
   * recently used idle sender is closed, so links and memory do not grow with the number of
   * tenants a deployment serves. Default 256.
   */
  maxSenders?: number;
}

interface SentRequest {
  tenantId: string;
  keyVersion: number | undefined;
  /** Replies after this instant answer nothing still remembered. */
  until: number;
  /** A verified reply was handled: another one (a redelivered duplicate) is completed unopened. */
  answered?: boolean;
}

interface OpenSender {
  sender: BatchingSender;
  /** Sends not settled yet: a sender is closed only when idle. */
  inFlight: number;
}

interface Waiter<TReply> {
  tenantId: string;
  resolve(reply: TReply): void;
}

const RECEIVER_RESTART_DELAY_MS = 500;
const DEFAULT_MAX_SENDERS = 256;
// The session receiver lives as long as the instance: renew its lock for ~24 days.
const SESSION_LOCK_RENEWAL_MS = 2 ** 31 - 1;

/**
 * The relay on Azure Service Bus. Requests go to the tenant's queue with
 * messageId = correlationId = requestId and a TTL that ends at the request's expiry.
 * Replies come back on the session-enabled replies queue, in this instance's session,
 * through ONE long-lived session receiver that hands each verified reply to its waiter.
 * Replies failing verification are dead-lettered; replies nobody waits for any more are
 * still verified and given to onLateReply.
 *
 * The replies queue is shared: any tenant's agent may send to it. So a reply is opened only if
 * it answers a request this instance sent and still remembers (until the request's expiry plus
 * a grace), with that request's tenant and key version, never the message's claims: anything
 * else is dead-lettered unopened, at no cost to the vault. No reply is abandoned back into the
 * queue for an immediate redelivery loop: one the opener cannot verify yet (vault down) is
 * retried here a few times, then dead-lettered as unverifiable.
 */
export class ServiceBusRelayClient<TReply> implements RelayClient<TReply> {
  private readonly waiters = new Map<string, Waiter<TReply>>();
  /** By queue, least recently used first. */
  private readonly senders = new Map<string, OpenSender>();
  private readonly counters: RelayClientStats = { sent: 0, repliesMatched: 0, lateReplies: 0, rejectedReplies: 0, unexpectedReplies: 0, timeouts: 0 };
  /** What this instance sent, by correlation id, in sending order: the only replies worth opening. */
  private readonly sentRequests = new Map<string, SentRequest>();
  private receiver: ServiceBusSessionReceiver | undefined;
  private receiverReady: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: ServiceBusRelayClientOptions<TReply>) {}

  /** Starts the reply receiver; request() calls it too, so calling it early only saves the first caller's wait. */
  start(): Promise<void> {
    this.receiverReady ??= this.openReceiver();
    return this.receiverReady;
  }

  async request(request: RelayRequest, options: { timeoutMs: number; signal?: AbortSignal }): Promise<TReply> {
    if (this.closed) throw new AppError("RELAY_UNAVAILABLE", { message: "The relay client is closed." });
    await this.start();
    const correlationId = request.requestId;
    return new Promise<TReply>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.waiters.delete(correlationId);
        fn();
      };
      const timer = setTimeout(() => {
        this.counters.timeouts += 1;
        finish(() => reject(new AppError("AGENT_TIMEOUT")));
      }, options.timeoutMs);
      const onAbort = () => finish(() => reject(new AppError("AGENT_TIMEOUT", { message: "The request was cancelled." })));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      // Registered before sending: the reply can arrive before send() resolves.
      this.waiters.set(correlationId, { tenantId: request.tenantId, resolve: (reply) => finish(() => resolve(reply)) });
      this.remember(correlationId, { tenantId: request.tenantId, keyVersion: request.keyVersion, until: request.expiresAt.getTime() + (this.o.lateReplyGraceMs ?? 60_000) });
      this.send(request).catch((e: unknown) => finish(() => reject(toRelayError(e, "this tenant"))));
    });
  }

  private remember(correlationId: string, sent: SentRequest): void {
    const max = this.o.maxRememberedRequests ?? 200_000;
    const now = Date.now();
    this.sentRequests.delete(correlationId);
    for (const [id, old] of this.sentRequests) {
      if (this.sentRequests.size < max && old.until > now) break;
      this.sentRequests.delete(id);
    }
    this.sentRequests.set(correlationId, sent);
  }

  private recall(correlationId: string): SentRequest | undefined {
    const sent = this.sentRequests.get(correlationId);
    return sent !== undefined && sent.until > Date.now() ? sent : undefined;
  }

  /** Requests remembered now (bounded by maxRememberedRequests). */
  rememberedRequests(): number {
    return this.sentRequests.size;
  }

  private async send(request: RelayRequest): Promise<void> {
    const queue = tenantQueueName(request.tenantId);
    const open = this.senderFor(queue);
    const ttl = Math.max(1000, request.expiresAt.getTime() - Date.now());
    open.inFlight += 1;
    try {
      await open.sender.send({
        body: Buffer.from(request.body),
        messageId: request.requestId,
        correlationId: request.requestId,
        contentType: "application/vnd.writeback.envelope",
        replyTo: this.o.repliesQueue,
        replyToSessionId: this.o.instanceId,
        timeToLive: ttl,
        applicationProperties: { tenantId: request.tenantId },
      });
    } finally {
      open.inFlight -= 1;
      // Senders kept past the bound while all were busy are closed once idle.
      if (this.senders.size > (this.o.maxSenders ?? DEFAULT_MAX_SENDERS)) this.closeIdleSenders(open);
    }
    this.counters.sent += 1;
  }

  /** The queue's sender, now the most recently used; closes idle ones past maxSenders. */
  private senderFor(queue: string): OpenSender {
    let open = this.senders.get(queue);
    if (open !== undefined) {
      this.senders.delete(queue);
      this.senders.set(queue, open);
      return open;
    }
    open = { sender: new BatchingSender(this.o.client.createSender(queue)), inFlight: 0 };
    this.senders.set(queue, open);
    this.closeIdleSenders(open);
    return open;
  }

  /** Closes idle senders, least recently used first, until at most maxSenders are open (`keep` stays). */
  private closeIdleSenders(keep: OpenSender): void {
    const max = this.o.maxSenders ?? DEFAULT_MAX_SENDERS;
    for (const [name, candidate] of this.senders) {
      if (this.senders.size <= max) break;
      if (candidate === keep || candidate.inFlight > 0) continue;
      this.senders.delete(name);
      candidate.sender.close().catch((e: unknown) => this.o.logger.warn("closing an idle sender failed", { queue: name, code: toRelayError(e, "this tenant").code }));
    }
  }

  /** Tenant queues with an open sender now (bounded by maxSenders, except while all are busy). */
  get openSenders(): number {
    return this.senders.size;
  }

  private async openReceiver(): Promise<void> {
    const receiver = await this.o.client.acceptSession(this.o.repliesQueue, this.o.instanceId, {
      receiveMode: "peekLock",
      maxAutoLockRenewalDurationInMs: SESSION_LOCK_RENEWAL_MS,
      // Replies are binary envelopes: spare the SDK a failing JSON.parse per message.
      skipParsingBodyAsJson: true,
    });
    this.receiver = receiver;
    receiver.subscribe(
      {
        processMessage: (message) => this.onReply(receiver, message),
        processError: async (args) => {
          this.o.logger.warn("reply receiver error", { source: args.errorSource, code: errorCode(args.error) ?? args.error.name });
          // A lost session lock or a closed link ends this receiver: open a new one.
          if (!this.closed && (receiver.isClosed || errorCode(args.error) === "SessionLockLost")) this.restartReceiver(receiver);
        },
      },
      { autoCompleteMessages: false, maxConcurrentCalls: this.o.maxConcurrentReplies ?? 64 },
    );
  }

  private restartReceiver(old: ServiceBusSessionReceiver): void {
    if (this.receiver !== old) return;
    this.receiver = undefined;
    this.receiverReady = (async () => {
      await old.close().catch(() => {});
      for (;;) {
        if (this.closed) return;
        try {
          await this.openReceiver();
          this.o.logger.info("reply receiver reopened", { session: this.o.instanceId });
          return;
        } catch (e) {
          this.o.logger.warn("reply receiver could not reopen", { code: toRelayError(e, "replies").code });
          await new Promise((r) => setTimeout(r, RECEIVER_RESTART_DELAY_MS));
        }
      }
    })();
  }

  private async onReply(receiver: ServiceBusSessionReceiver, message: ServiceBusReceivedMessage): Promise<void> {
    const correlationId = typeof message.correlationId === "string" ? message.correlationId : "";
    const sent = this.recall(correlationId);
    if (sent === undefined) {
      this.counters.unexpectedReplies += 1;
      this.o.logger.warn("reply rejected", { correlationId: correlationId.slice(0, 64), reason: "answers no request this instance sent" });
      await receiver.deadLetterMessage(message, { deadLetterReason: "ReplyNotExpected", deadLetterErrorDescription: "The reply answers no request this instance sent." }).catch(() => {});
      return;
    }
    if (sent.answered === true) {
      await receiver.completeMessage(message).catch(() => {});
      return;
    }
    const replyMessage: RelayReplyMessage = {
      // The tenant and key version we sent with are authoritative, never the message's claims.
      tenantId: sent.tenantId,
      correlationId,
      body: Buffer.isBuffer(message.body) || message.body instanceof Uint8Array ? message.body : Buffer.alloc(0),
      ...(sent.keyVersion === undefined ? {} : { keyVersion: sent.keyVersion }),
    };
    let reply: TReply;
    try {
      reply = await this.openWithRetries(replyMessage);
    } catch (e) {
      this.counters.rejectedReplies += 1;
      const untrusted = this.o.isUntrusted(e);
      this.o.logger.warn("reply rejected", { correlationId, reason: untrusted && e instanceof Error ? e.message : "not verifiable now", code: untrusted ? undefined : (errorCode(e) ?? "unknown") });
      await receiver
        .deadLetterMessage(
          message,
          untrusted
            ? { deadLetterReason: "ReplyVerificationFailed", deadLetterErrorDescription: "The reply failed authentication." }
            : { deadLetterReason: "ReplyNotVerifiable", deadLetterErrorDescription: "The reply could not be verified (key store unavailable)." },
        )
        .catch(() => {});
      return;
    }
    const current = this.waiters.get(correlationId);
    if (current !== undefined) {
      this.counters.repliesMatched += 1;
      current.resolve(reply);
    } else {
      this.counters.lateReplies += 1;
      try {
        await this.o.onLateReply?.(reply, replyMessage);
      } catch (e) {
        // Verified: a genuine reply whose outcome could not be recorded yet (storage). Retried.
        this.o.logger.warn("late reply not recorded yet", { correlationId, code: errorCode(e) ?? "unknown" });
        await receiver.abandonMessage(message).catch(() => {});
        return;
      }
    }
    // One answer per request: a second reply under the same id is not opened again.
    sent.answered = true;
    await receiver.completeMessage(message).catch((e: unknown) => {
      this.o.logger.warn("reply not completed", { correlationId, code: errorCode(e) ?? "unknown" });
    });
  }

  /** Opens a reply; a failure that is not the reply's fault (the vault) is retried a few times here. */
  private async openWithRetries(message: RelayReplyMessage): Promise<TReply> {
    const delays = this.o.verifyRetryDelaysMs ?? [250, 1000, 3000];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.o.openReply(message);
      } catch (e) {
        const delay = delays[attempt];
        if (this.o.isUntrusted(e) || delay === undefined || this.closed) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  stats(): RelayClientStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.receiver?.close().catch(() => {});
    for (const open of this.senders.values()) await open.sender.close().catch(() => {});
    this.senders.clear();
  }
}
