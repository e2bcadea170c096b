interface Entry<V> {
  value: Promise<V>;
  readAt: number;
}

/**
 * Recent answers of a store, per key, for callers that accept an answer up to a stated age.
 * Concurrent misses share one read; a failed read is not kept; the number of keys is bounded
 * (the oldest read is evicted first), so memory does not grow with the number of tenants.
 */
export class RecentReads<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(maxEntries >= 1)) throw new RangeError("maxEntries must be at least 1");
  }

  /** The answer read at most `maxAgeMs` ago, or a fresh read (which then becomes the recent one). */
  read(key: string, maxAgeMs: number, load: () => Promise<V>): Promise<V> {
    const at = this.now();
    const hit = this.entries.get(key);
    if (hit !== undefined && at - hit.readAt <= maxAgeMs) return hit.value;
    const value = load();
    // Re-inserting moves the key to the back of the eviction order.
    this.entries.delete(key);
    const entry = { value, readAt: at };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return value;
  }

  /** Forgets a key (after a write through this process), so the next read is fresh. */
  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
