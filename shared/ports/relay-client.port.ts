/**
 * The relay to a tenant's on-premises agent: send a sealed request on the tenant's queue
 * and await the correlated reply. Opening/verifying replies is the caller's job, given to
 * the relay as `ReplyOpener` so that a reply failing verification can be dead-lettered
 * by the adapter before it settles the message.
 */
export interface RelayRequest {
  tenantId: string;
  /** messageId = correlationId = requestId. */
  requestId: string;
  /** The sealed envelope (≤ 1024 bytes). */
  body: Uint8Array;
  /** The message is removed by the relay after this instant (TTL). */
  expiresAt: Date;
  /** The package key version the request is sealed with: its reply must be sealed with the same. */
  keyVersion?: number;
}

/**
 * A reply as the relay hands it to the opener. The relay passes on only replies to requests it
 * sent (and remembers): tenantId and keyVersion are those of that request, never the message's claim.
 */
export interface RelayReplyMessage {
  tenantId: string;
  correlationId: string;
  body: Uint8Array;
  /** The key version of the request answered, when the request named it. */
  keyVersion?: number;
}

/** Opens and verifies a reply; throws when it must not be trusted. */
export type ReplyOpener<TReply> = (message: RelayReplyMessage) => Promise<TReply>;
/** Receives verified replies that arrived after their caller gave up. */
export type LateReplyHandler<TReply> = (reply: TReply, message: RelayReplyMessage) => Promise<void>;

export interface RelayClientStats {
  sent: number;
  repliesMatched: number;
  lateReplies: number;
  rejectedReplies: number;
  /** Replies answering no request this instance sent (or remembers): dead-lettered unopened. */
  unexpectedReplies: number;
  timeouts: number;
}

export interface RelayClient<TReply> {
  /** Throws AppError AGENT_TIMEOUT when no verified reply arrives within timeoutMs, RELAY_UNAVAILABLE when sending fails. */
  request(request: RelayRequest, options: { timeoutMs: number; signal?: AbortSignal }): Promise<TReply>;
  stats(): RelayClientStats;
  close(): Promise<void>;
}
