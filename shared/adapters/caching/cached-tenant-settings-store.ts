import type { StoredTenantSettings, TenantSettings, TenantSettingsStore } from "../../ports/tenant-settings-store.port.js";
import { RecentReads } from "./recent-reads.js";

/**
 * Tenant settings change a few times in a tenant's life: callers that state a `maxAgeMs` get
 * an answer read at most that long ago by this process. Writes through this process forget
 * the tenant's entry at once; another instance's write is seen within the caller's max age.
 * Without `maxAgeMs` (the admin API's read-modify-write), every read is fresh.
 */
export class CachedTenantSettingsStore implements TenantSettingsStore {
  private readonly recent: RecentReads<StoredTenantSettings | undefined>;

  constructor(
    private readonly inner: TenantSettingsStore,
    options: { maxTenants?: number; now?: () => number } = {},
  ) {
    this.recent = new RecentReads(options.maxTenants ?? 10_000, options.now);
  }

  get(tenantId: string, options: { maxAgeMs?: number } = {}): Promise<StoredTenantSettings | undefined> {
    // A fresh read refreshes the entry too.
    return this.recent.read(tenantId, options.maxAgeMs ?? -1, () => this.inner.get(tenantId));
  }

  async put(settings: TenantSettings, expectedEtag?: string | null): Promise<StoredTenantSettings> {
    try {
      return await this.inner.put(settings, expectedEtag);
    } finally {
      this.recent.forget(settings.tenantId);
    }
  }

  list(): Promise<StoredTenantSettings[]> {
    return this.inner.list();
  }

  get cachedTenants(): number {
    return this.recent.size;
  }
}
