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
}

interface Waiter<TReply> {
  tenantId: string;
  resolve(reply: TReply): void;
}

const RECEIVER_RESTART_DELAY_MS = 500;
// The session receiver lives as long as the instance: renew its lock for ~24 days.
const SESSION_LOCK_RENEWAL_MS = 2 ** 31 - 1;

/**
 * The relay on Azure Service Bus. Requests go to the tenant's queue with
 * messageId = correlationId = requestId and a TTL that ends at the request's expiry.
 * Replies come back on the session-enabled replies queue, in this instance's session,
 * through ONE long-lived session receiver that hands each verified reply to its waiter.
 * Replies failing verification are dead-lettered; replies nobody waits for any more are
 * still verified and given to onLateReply.
 */
export class ServiceBusRelayClient<TReply> implements RelayClient<TReply> {
  private readonly waiters = new Map<string, Waiter<TReply>>();
  private readonly senders = new Map<string, BatchingSender>();
  private readonly counters: RelayClientStats = { sent: 0, repliesMatched: 0, lateReplies: 0, rejectedReplies: 0, timeouts: 0 };
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
      this.send(request).catch((e: unknown) => finish(() => reject(toRelayError(e, "this tenant"))));
    });
  }

  private async send(request: RelayRequest): Promise<void> {
    const queue = tenantQueueName(request.tenantId);
    let sender = this.senders.get(queue);
    if (sender === undefined) {
      sender = new BatchingSender(this.o.client.createSender(queue));
      this.senders.set(queue, sender);
    }
    const ttl = Math.max(1000, request.expiresAt.getTime() - Date.now());
    await sender.send({
      body: Buffer.from(request.body),
      messageId: request.requestId,
      correlationId: request.requestId,
      contentType: "application/vnd.writeback.envelope",
      replyTo: this.o.repliesQueue,
      replyToSessionId: this.o.instanceId,
      timeToLive: ttl,
      applicationProperties: { tenantId: request.tenantId },
    });
    this.counters.sent += 1;
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
    const waiter = this.waiters.get(correlationId);
    const claimedTenant = message.applicationProperties?.tenantId;
    const replyMessage: RelayReplyMessage = {
      // The tenant we sent to is authoritative; the property only serves late replies.
      tenantId: waiter?.tenantId ?? (typeof claimedTenant === "string" ? claimedTenant : ""),
      correlationId,
      body: Buffer.isBuffer(message.body) || message.body instanceof Uint8Array ? message.body : Buffer.alloc(0),
    };
    let reply: TReply;
    try {
      reply = await this.o.openReply(replyMessage);
    } catch (e) {
      if (this.o.isUntrusted(e)) {
        this.counters.rejectedReplies += 1;
        this.o.logger.warn("reply rejected", { correlationId, reason: e instanceof Error ? e.message : "unverifiable" });
        await receiver.deadLetterMessage(message, { deadLetterReason: "ReplyVerificationFailed", deadLetterErrorDescription: "The reply failed authentication." }).catch(() => {});
      } else {
        await receiver.abandonMessage(message).catch(() => {});
      }
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
        this.o.logger.warn("late reply not recorded yet", { correlationId, code: errorCode(e) ?? "unknown" });
        await receiver.abandonMessage(message).catch(() => {});
        return;
      }
    }
    await receiver.completeMessage(message).catch((e: unknown) => {
      this.o.logger.warn("reply not completed", { correlationId, code: errorCode(e) ?? "unknown" });
    });
  }

  stats(): RelayClientStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.receiver?.close().catch(() => {});
    for (const sender of this.senders.values()) await sender.close().catch(() => {});
    this.senders.clear();
  }
}
