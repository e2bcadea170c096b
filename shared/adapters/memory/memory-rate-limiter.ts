import type { RateLimitDecision, RateLimiter, RateLimitSnapshot } from "../../ports/rate-limiter.port.js";

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

export class MemoryRateLimiter implements RateLimiter {
  private readonly attempts = new Map<string, number[]>();
  constructor(private readonly o: RateLimitOptions = { maxOperations: 5, windowSeconds: 3600 }) {}

  async read(tenantId: string, subject: string): Promise<RateLimitSnapshot> {
    const attempts = this.attempts.get(`${tenantId}/${subject}`);
    return { attempts: [...(attempts ?? [])], version: attempts === undefined ? undefined : "memory" };
  }

  /** One process, no interleaving between read and write here: the snapshot is never needed. */
  async consume(tenantId: string, subject: string, now: Date, _snapshot?: RateLimitSnapshot): Promise<RateLimitDecision> {
    const key = `${tenantId}/${subject}`;
    const { decision, kept } = decide(this.attempts.get(key) ?? [], now.getTime(), this.o);
    this.attempts.set(key, kept);
    return decision;
  }
}
