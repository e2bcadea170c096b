import { decide, type RateLimitOptions } from "../../domain/rate-limit-window.js";
import type { RateLimitDecision, RateLimiter, RateLimitSnapshot } from "../../ports/rate-limiter.port.js";

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
