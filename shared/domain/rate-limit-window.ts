// The per-user rate limit: a rolling window of attempt times (ms since the epoch), one rule
// for every store (in memory and Table storage).

/** What the window answers to an attempt. */
export interface RateLimitDecision {
  allowed: boolean;
  /** When not allowed: seconds until the oldest counted attempt leaves the window. */
  retryAfterSeconds: number;
  remaining: number;
}

export interface RateLimitOptions {
  maxOperations: number;
  windowSeconds: number;
}

/** Rolling window: an attempt counts for windowSeconds after it was made. */
export function inWindow(attempts: readonly number[], now: number, o: RateLimitOptions): number[] {
  const windowMs = o.windowSeconds * 1000;
  return attempts.filter((t) => now - t < windowMs);
}

export function decide(attempts: readonly number[], now: number, o: RateLimitOptions): { decision: RateLimitDecision; kept: number[] } {
  const windowMs = o.windowSeconds * 1000;
  const kept = inWindow(attempts, now, o).sort((a, b) => a - b);
  if (kept.length >= o.maxOperations) {
    const oldest = kept[kept.length - o.maxOperations] ?? now;
    return { decision: { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)), remaining: 0 }, kept };
  }
  kept.push(now);
  return { decision: { allowed: true, retryAfterSeconds: 0, remaining: o.maxOperations - kept.length }, kept };
}
