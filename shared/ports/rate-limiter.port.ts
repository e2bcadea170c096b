import type { RateLimitDecision } from "../domain/rate-limit-window.js";

export type { RateLimitDecision };

/** What read() saw of a subject's window: its attempts and the store's version (undefined: no row yet). */
export interface RateLimitSnapshot {
  attempts: readonly number[];
  version: string | undefined;
}

/** Rolling-window limiter shared by every function instance. */
export interface RateLimiter {
  /** Reads a subject's window ahead of consume(), so the read can share a round trip with others. */
  read(tenantId: string, subject: string): Promise<RateLimitSnapshot>;
  /**
   * Counts an attempt if the window allows it. With a snapshot from read() the first try skips
   * its own read; a snapshot gone stale (another instance counted since) is detected by its
   * version and the count is decided again on fresh data, so the maximum still holds exactly.
   */
  consume(tenantId: string, subject: string, now: Date, snapshot?: RateLimitSnapshot): Promise<RateLimitDecision>;
}
