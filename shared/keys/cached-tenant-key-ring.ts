import type { PackageKey, TenantKeyRing } from "../ports/tenant-key-ring.port.js";

interface Entry {
  value: Promise<unknown>;
  expiresAt: number;
}

/**
 * Keeps Key Vault reads off the request path: each answer is cached per tenant for a short
 * time, concurrent misses share one read, and every write for a tenant drops its entries, so
 * the number of vault GETs does not grow with the number of requests.
 */
export class CachedTenantKeyRing implements TenantKeyRing {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;

  constructor(
    private readonly inner: TenantKeyRing,
    options: { ttlMs?: number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
  }

  private cached<T>(key: string, load: () => Promise<T>, keepUndefined = true): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.expiresAt > now) return hit.value as Promise<T>;
    const value = load();
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    value.then(
      (v) => {
        // An unknown version may be created by another instance any moment: don't remember its absence.
        if (v === undefined && !keepUndefined) this.entries.delete(key);
      },
      () => this.entries.delete(key),
    );
    return value;
  }

  private invalidate(tenantId: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(`${tenantId}|`)) this.entries.delete(key);
  }

  currentKey(tenantId: string): Promise<PackageKey | undefined> {
    return this.cached(`${tenantId}|current`, () => this.inner.currentKey(tenantId));
  }
  latestKey(tenantId: string): Promise<PackageKey | undefined> {
    return this.cached(`${tenantId}|latest`, () => this.inner.latestKey(tenantId));
  }
  keyVersion(tenantId: string, version: number): Promise<PackageKey | undefined> {
    return this.cached(`${tenantId}|v${version}`, () => this.inner.keyVersion(tenantId, version), false);
  }
  agentPublicKey(tenantId: string): Promise<string | undefined> {
    return this.cached(`${tenantId}|agent`, () => this.inner.agentPublicKey(tenantId));
  }
  async createKey(tenantId: string, now: Date): Promise<PackageKey> {
    try {
      return await this.inner.createKey(tenantId, now);
    } finally {
      this.invalidate(tenantId);
    }
  }
  async markAcknowledged(tenantId: string, version: number, at: Date): Promise<void> {
    try {
      await this.inner.markAcknowledged(tenantId, version, at);
    } finally {
      this.invalidate(tenantId);
    }
  }
  async setAgentPublicKey(tenantId: string, publicKeyPem: string): Promise<void> {
    try {
      await this.inner.setAgentPublicKey(tenantId, publicKeyPem);
    } finally {
      this.invalidate(tenantId);
    }
  }
  tenantsWithKeys(): Promise<string[]> {
    return this.inner.tenantsWithKeys();
  }
}
