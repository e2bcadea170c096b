export interface RateLimitDecision {
  allowed: boolean;
  /** When not allowed: seconds until the oldest counted attempt leaves the window. */
  retryAfterSeconds: number;
  remaining: number;
}

/** Rolling-window limiter shared by every function instance. */
export interface RateLimiter {
  consume(tenantId: string, subject: string, now: Date): Promise<RateLimitDecision>;
}
