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
}

export interface RelayReplyMessage {
  tenantId: string;
  correlationId: string;
  body: Uint8Array;
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
  timeouts: number;
}

export interface RelayClient<TReply> {
  /** Throws AppError AGENT_TIMEOUT when no verified reply arrives within timeoutMs, RELAY_UNAVAILABLE when sending fails. */
  request(request: RelayRequest, options: { timeoutMs: number; signal?: AbortSignal }): Promise<TReply>;
  stats(): RelayClientStats;
  close(): Promise<void>;
}
