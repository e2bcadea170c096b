import { systemClock, type Clock } from "../../shared/ports/clock.port.js";

export interface CloudClockOptions {
  clock?: Clock;
  /** The largest clock difference between cloud and agent that is believed (default 5 minutes). */
  maxSkewMs?: number;
  /** How long an observation counts (default 10 minutes), so a corrected local clock is followed. */
  sampleWindowMs?: number;
}

const SAMPLES = 32;

/**
 * The cloud's time as seen from the agent, for expiry decisions (expiresAt is cloud time).
 *
 * Service Bus stamps each message with its enqueued time by the broker's clock, which is the
 * cloud's. For every authenticated message, enqueuedAt − localReceiptTime is at most the true
 * offset (cloud − agent), short of it by the time the message waited in the queue. The largest
 * such sample of the last minutes is therefore a lower bound of the offset and, since most
 * messages wait only milliseconds, a close one. cloudNow = localNow + offset.
 *
 * - Agent clock behind the cloud: the offset is positive, so a message the cloud considers
 *   expired is refused even though the local clock says it is not.
 * - Agent clock ahead: the offset is negative, so valid messages are not refused early.
 * - No samples (no broker time given): the local clock alone.
 * - The offset is clamped to ±maxSkewMs: a broker (or an attacker who controls one) cannot
 *   move the agent's idea of time further than that. The replay guard keeps request ids until
 *   expiresAt + maxSkewMs by the local clock; past that the clamp alone makes them expired.
 */
export class CloudClock {
  private readonly clock: Clock;
  readonly maxSkewMs: number;
  private readonly windowMs: number;
  private readonly offsets = new Float64Array(SAMPLES);
  private readonly takenAt = new Float64Array(SAMPLES);
  private count = 0;
  private next = 0;

  constructor(options: CloudClockOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.maxSkewMs = options.maxSkewMs ?? 300_000;
    this.windowMs = options.sampleWindowMs ?? 600_000;
  }

  localNow(): number {
    return this.clock.now().getTime();
  }

  /** Records the broker's enqueued time of an authenticated message received at receivedAtMs (local). */
  observe(enqueuedAt: Date, receivedAtMs: number): void {
    const offset = enqueuedAt.getTime() - receivedAtMs;
    if (!Number.isFinite(offset)) return;
    this.offsets[this.next] = offset;
    this.takenAt[this.next] = receivedAtMs;
    this.next = (this.next + 1) % SAMPLES;
    this.count = Math.min(this.count + 1, SAMPLES);
  }

  offsetMs(): number {
    const local = this.localNow();
    let best = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.count; i++) {
      if (local - (this.takenAt[i] ?? 0) <= this.windowMs) best = Math.max(best, this.offsets[i] ?? 0);
    }
    if (best === Number.NEGATIVE_INFINITY) return 0;
    return Math.max(-this.maxSkewMs, Math.min(this.maxSkewMs, best));
  }

  now(): Date {
    return new Date(this.localNow() + this.offsetMs());
  }

  /** True when, by the cloud's time, less than marginMs remain before expiresAt. */
  isExpired(expiresAt: Date, marginMs = 0): boolean {
    return this.localNow() + this.offsetMs() + marginMs >= expiresAt.getTime();
  }
}
