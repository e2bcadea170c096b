/** The numbered key series of a tenant. */
export type KeySeries = "package" | "signing";

/**
 * Hands out key version numbers. Computing "latest + 1" from a read races: an admin rotation
 * and a heartbeat's redelivery (or two function instances) read the same latest and write two
 * different keys under one number, and the backend may then seal with a key the agent refused.
 * An allocator gives every caller a number no other caller gets, across instances.
 */
export interface KeyVersionAllocator {
  /**
   * The next version of a series, never handed out before, and above `floor` (the highest
   * version already stored: tenants whose keys predate the allocator start from there).
   * Throws AppError STORAGE_UNAVAILABLE when the allocator's store is down.
   */
  next(tenantId: string, series: KeySeries, floor: number): Promise<number>;
}
