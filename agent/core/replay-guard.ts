import { systemClock, type Clock } from "../../shared/ports/clock.port.js";

export type ReplayClaim<T> =
  | { kind: "new"; settle(result: T): void; abandon(): void }
  /** Byte-identical message seen before: its result (waits for it when still in flight). */
  | { kind: "duplicate"; result: Promise<T | undefined> }
  /** Same request id, different message: never processed. */
  | { kind: "conflict" };

export interface ReplayGuardOptions {
  clock?: Clock;
  /** Kept beyond expiresAt by the local clock: the cloud clock's largest believed skew. */
  retentionSlackMs: number;
  /** Upper bound of remembered ids; when reached with nothing expired, claims throw ReplayGuardFullError. */
  maxEntries?: number;
}

export class ReplayGuardFullError extends Error {
  override readonly name = "ReplayGuardFullError";
}

interface Entry<T> {
  fingerprint: string;
  forgetAt: number;
  result: Promise<T | undefined>;
  settled: boolean;
}

/**
 * Remembers request ids until they can no longer be applied, with each one's result (the
 * sealed reply), so that a redelivered request is answered from the cache and never written
 * twice; a duplicate that arrives while the first is still in flight waits for its result.
 * Memory stays bounded: ids are forgotten after expiresAt + slack, swept as time passes.
 */
export class ReplayGuard<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly clock: Clock;
  private readonly slack: number;
  private readonly max: number;
  private nextSweep = 0;

  constructor(options: ReplayGuardOptions) {
    this.clock = options.clock ?? systemClock;
    this.slack = options.retentionSlackMs;
    this.max = options.maxEntries ?? 500_000;
  }

  /** Looks up without claiming: the cheap path for byte-identical redeliveries (no decryption). */
  peek(requestId: string, fingerprint: string): Promise<T | undefined> | undefined {
    const e = this.live(requestId);
    return e !== undefined && e.fingerprint === fingerprint ? e.result : undefined;
  }

  claim(requestId: string, fingerprint: string, expiresAt: Date): ReplayClaim<T> {
    const existing = this.live(requestId);
    if (existing !== undefined) return existing.fingerprint === fingerprint ? { kind: "duplicate", result: existing.result } : { kind: "conflict" };
    this.sweep();
    if (this.entries.size >= this.max) throw new ReplayGuardFullError("too many requests in flight or remembered");
    let resolve!: (value: T | undefined) => void;
    const entry: Entry<T> = {
      fingerprint,
      forgetAt: expiresAt.getTime() + this.slack,
      result: new Promise<T | undefined>((r) => (resolve = r)),
      settled: false,
    };
    this.entries.set(requestId, entry);
    return {
      kind: "new",
      settle: (result) => {
        entry.settled = true;
        resolve(result);
      },
      // Nothing was done: forget the id so a later delivery is judged afresh.
      abandon: () => {
        entry.settled = true;
        if (this.entries.get(requestId) === entry) this.entries.delete(requestId);
        resolve(undefined);
      },
    };
  }

  get size(): number {
    return this.entries.size;
  }

  private live(requestId: string): Entry<T> | undefined {
    const e = this.entries.get(requestId);
    if (e === undefined) return undefined;
    if (e.settled && e.forgetAt <= this.clock.now().getTime()) {
      this.entries.delete(requestId);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const now = this.clock.now().getTime();
    if (now < this.nextSweep && this.entries.size < this.max) return;
    this.nextSweep = now + 1000;
    for (const [id, e] of this.entries) if (e.settled && e.forgetAt <= now) this.entries.delete(id);
  }
}
