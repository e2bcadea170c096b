import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver, ServiceBusSender } from "@azure/service-bus";
import { BatchingSender } from "../../shared/adapters/servicebus/batching-sender.js";
import type { Logger } from "../../shared/ports/logger.port.js";
import { CpuTurns } from "./cpu-turns.js";
import { WorkSlots } from "./work-slots.js";
import { errorCode } from "../../shared/errors/error-code.js";

export interface IncomingRequest {
  body: Buffer;
  messageId: string;
  enqueuedAt: Date | undefined;
  deliveryCount: number;
  /** The tenantId application property: a claim, authenticated only by decryption. */
  claimedTenant: string | undefined;
}

export interface HandlerResult {
  /** A sealed reply to send to the caller's session. */
  reply?: Buffer | undefined;
  /**
   * Set when the message must never be processed again (tampered, expired, replayed...). It is
   * completed, not dead-lettered: a dead letter would keep its sealed passwords on the broker
   * with no expiry. The handler has logged the refusal (the audit entry).
   */
  discarded?: string | undefined;
}

export type RequestHandler = (request: IncomingRequest) => Promise<HandlerResult>;

export interface AgentRelayTransportOptions {
  client: ServiceBusClient;
  tenantId: string;
  tenantQueue: string;
  eventsQueue: string;
  /** Requests handled at once: RSA decryption and LDAP writes overlap across them. */
  maxConcurrentRequests: number;
  /**
   * Messages the receiver may hold (link credit), from receipt to settlement. A message keeps
   * its credit while its reply travels and its completion settles, after the work is done; with
   * credit equal to the work limit, new requests waited at the broker behind those. Default:
   * twice maxConcurrentRequests.
   */
  maxHeldMessages?: number;
  /**
   * Deliveries of a request whose handling fails before it is dropped (completed, logged) instead
   * of given back (default 4, below the tenant queue's maxDeliveryCount of 5, so the broker never
   * dead-letters a request with its sealed passwords).
   */
  maxAttempts?: number;
  /**
   * Request work (decryption first) run in one event-loop turn before the replies finished so
   * far are let out. Default 2 ms: about six RSA-2048 decrypts.
   */
  turnBudgetMs?: number;
  logger: Logger;
}

// About six RSA-2048 decrypts on this machine class: replies leave in small batches, not one burst.
const DEFAULT_TURN_BUDGET_MS = 2;

/**
 * The agent's side of the relay: outbound AMQP connections only. Receives on the tenant's
 * queue (peekLock), sends each reply to the queue and session the request named, and only
 * then completes the request, so a crash in between means redelivery — which the replay
 * guard answers from its cache, never with a second write.
 */
export class AgentRelayTransport {
  private receiver: ServiceBusReceiver | undefined;
  private subscription: { close(): Promise<void> } | undefined;
  private readonly replySenders = new Map<string, BatchingSender>();
  private eventSender: ServiceBusSender | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly slots: WorkSlots;
  private readonly turns: CpuTurns;
  private closing = false;

  constructor(private readonly o: AgentRelayTransportOptions) {
    this.slots = new WorkSlots(o.maxConcurrentRequests);
    this.turns = new CpuTurns(o.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS);
  }

  start(handler: RequestHandler): void {
    // Envelopes are binary: without skipParsingBodyAsJson the SDK tries JSON.parse on every one.
    const receiver = this.o.client.createReceiver(this.o.tenantQueue, { receiveMode: "peekLock", skipParsingBodyAsJson: true });
    this.receiver = receiver;
    this.subscription = receiver.subscribe(
      {
        processMessage: (message) => this.track(this.process(receiver, message, handler)),
        processError: async (args) => {
          this.o.logger.warn("relay receive error", { source: args.errorSource, code: errorCode(args.error) ?? args.error.name });
        },
      },
      { autoCompleteMessages: false, maxConcurrentCalls: Math.max(this.o.maxHeldMessages ?? 2 * this.o.maxConcurrentRequests, this.o.maxConcurrentRequests) },
    );
  }

  private async track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    try {
      await work;
    } finally {
      this.inFlight.delete(work);
    }
  }

  private async process(receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage, handler: RequestHandler): Promise<void> {
    const messageId = typeof message.messageId === "string" ? message.messageId : String(message.messageId ?? "");
    const body = Buffer.isBuffer(message.body) ? message.body : message.body instanceof Uint8Array ? Buffer.from(message.body) : Buffer.alloc(0);
    let result: HandlerResult;
    const release = await this.slots.acquire();
    try {
      await this.turns.take();
      if (this.closing) {
        // Stopping: a request not yet begun goes back to the queue for the next start.
        await receiver.abandonMessage(message).catch(() => {});
        return;
      }
      const claimed = message.applicationProperties?.tenantId;
      result = await handler({ body, messageId, enqueuedAt: message.enqueuedTimeUtc, deliveryCount: message.deliveryCount ?? 0, claimedTenant: typeof claimed === "string" ? claimed : undefined });
    } catch (e) {
      const attempts = (message.deliveryCount ?? 0) + 1;
      const error = e instanceof Error ? e.name : "unknown";
      if (attempts >= (this.o.maxAttempts ?? 4)) {
        // Given back once more, the broker would dead-letter it and keep its sealed passwords.
        this.o.logger.error("request discarded after repeated failures", { messageId, attempts, error });
        await receiver.completeMessage(message).catch(() => {});
      } else {
        this.o.logger.error("request handling failed", { messageId, attempts, error });
        await receiver.abandonMessage(message).catch(() => {});
      }
      return;
    } finally {
      release();
    }
    if (result.discarded !== undefined) {
      this.o.logger.info("request discarded", { messageId, reason: result.discarded });
      await receiver.completeMessage(message).catch(() => {});
      return;
    }
    if (result.reply !== undefined) {
      const replyTo = message.replyTo;
      const session = message.replyToSessionId;
      if (replyTo === undefined || session === undefined) {
        this.o.logger.warn("request names no reply address", { messageId });
      } else {
        try {
          await this.replySender(replyTo).send({
            body: result.reply,
            sessionId: session,
            correlationId: messageId,
            contentType: "application/vnd.writeback.envelope",
            timeToLive: message.timeToLive ?? 120_000,
            applicationProperties: { tenantId: this.o.tenantId },
          });
        } catch (e) {
          // Not completed: the request comes back and the cached reply is sent again.
          this.o.logger.warn("reply not sent", { messageId, code: errorCode(e) ?? "unknown" });
          await receiver.abandonMessage(message).catch(() => {});
          return;
        }
      }
    }
    await receiver.completeMessage(message).catch((e: unknown) => {
      this.o.logger.warn("request not completed", { messageId, code: errorCode(e) ?? "unknown" });
    });
  }

  /** Replies ready in the same turn go out as one batch per session. */
  private replySender(queue: string): BatchingSender {
    let sender = this.replySenders.get(queue);
    if (sender === undefined) {
      sender = new BatchingSender(this.o.client.createSender(queue));
      this.replySenders.set(queue, sender);
    }
    return sender;
  }

  async sendEvent(event: Buffer): Promise<void> {
    this.eventSender ??= this.o.client.createSender(this.o.eventsQueue);
    await this.eventSender.sendMessages({ body: event.toString("utf8"), contentType: "application/json", timeToLive: 10 * 60_000, applicationProperties: { tenantId: this.o.tenantId } });
  }

  /**
   * Stops taking requests, lets those in hand finish (reply sent, request settled), gives
   * those still waiting for a work slot back to the queue, then disconnects.
   */
  async close(drainMs = 10_000): Promise<void> {
    this.closing = true;
    await this.subscription?.close().catch(() => {});
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((done) => (timer = setTimeout(done, drainMs)))]);
      clearTimeout(timer);
    }
    await this.receiver?.close().catch(() => {});
    for (const sender of this.replySenders.values()) await sender.close().catch(() => {});
    await this.eventSender?.close().catch(() => {});
  }
}
