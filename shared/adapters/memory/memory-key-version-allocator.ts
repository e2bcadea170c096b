import type { KeySeries, KeyVersionAllocator } from "../../ports/key-version-allocator.port.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The allocator in process memory, built like the table one: read, yield, compare-and-set
 * on an etag, retry on conflict. The yield is there so that concurrent callers interleave
 * as they would across instances, and a contract test can tell a correct allocator from a
 * read-then-write one.
 */
export class MemoryKeyVersionAllocator implements KeyVersionAllocator {
  private readonly rows = new Map<string, { last: number; etag: number }>();
  conflicts = 0;

  async next(tenantId: string, series: KeySeries, floor: number): Promise<number> {
    const id = `${tenantId.toLowerCase()}|${series}`;
    for (;;) {
      const read = this.rows.get(id);
      await tick();
      const next = Math.max(read?.last ?? 0, floor) + 1;
      const now = this.rows.get(id);
      if (now?.etag !== read?.etag) {
        this.conflicts += 1;
        continue;
      }
      this.rows.set(id, { last: next, etag: (read?.etag ?? 0) + 1 });
      return next;
    }
  }
}
