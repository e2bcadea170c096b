import { AppError } from "../errors/app-error.js";
import type { AgentKeyLookup, NewSigningKey, PackageKey, SigningKeyVersion, TenantKeyRing } from "../ports/tenant-key-ring.port.js";

interface Entry {
  value: Promise<unknown>;
  expiresAt: number;
}

export interface CachedTenantKeyRingOptions {
  /** How long an answer that found something is kept (default 60 s). */
  ttlMs?: number;
  /**
   * How long a key version, once read, answers lookups of that version (default 5 min, at least
   * ttlMs). A version's key never changes; this covers every reply to a request sealed with it.
   */
  versionTtlMs?: number;
  /** How long "no such version" / "no agent registered" is kept (default the smaller of ttlMs and 10 s). */
  negativeTtlMs?: number;
  /** How long a failed read is answered from memory instead of asking the vault again (default 1 s). */
  failureTtlMs?: number;
  /** Most entries held; the oldest goes first (default 10,000). */
  maxEntries?: number;
  /** The list of tenants with a registered agent is read again after this long (default 5 min)... */
  agentDirectoryMaxAgeMs?: number;
  /** ...or, for a tenant it does not list, once it is older than this (default 10 s). */
  agentDirectoryRefreshMs?: number;
  now?: () => number;
}

/**
 * Keeps Key Vault reads off the request path, and keeps what untrusted traffic can make the
 * vault do bounded:
 * - each answer is cached per tenant for a short time, concurrent misses share one read, and
 *   every write for a tenant drops its entries, so vault GETs do not grow with requests; a key
 *   version, once read (also as the current or latest key), answers for versionTtlMs, so a
 *   reply to a request sealed with it needs no read;
 * - "not found" is cached too (shorter), and so is a failure (for a second), so neither a
 *   flood of lookups for unknown versions nor a vault outage turns into one call per message;
 * - a lookup on behalf of an unauthenticated claim (an agent event naming a tenant) is first
 *   checked against the list of tenants that have an agent registered, read at most once per
 *   agentDirectoryRefreshMs on a miss: a claim naming any other tenant costs no vault call and
 *   leaves no entry behind;
 * - the cache holds at most maxEntries; expired entries leave as new ones come.
 */
export class CachedTenantKeyRing implements TenantKeyRing {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly versionTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly failureTtlMs: number;
  private readonly maxEntries: number;
  private readonly directoryMaxAgeMs: number;
  private readonly directoryRefreshMs: number;
  private readonly now: () => number;
  private directory: { tenants: Set<string>; readAt: number } | undefined;
  private directoryRead: Promise<Set<string>> | undefined;
  private directoryFailedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly inner: TenantKeyRing,
    options: CachedTenantKeyRingOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.versionTtlMs = Math.max(this.ttlMs, options.versionTtlMs ?? 300_000);
    this.negativeTtlMs = options.negativeTtlMs ?? Math.min(this.ttlMs, 10_000);
    this.failureTtlMs = options.failureTtlMs ?? 1000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.directoryMaxAgeMs = options.agentDirectoryMaxAgeMs ?? 300_000;
    this.directoryRefreshMs = options.agentDirectoryRefreshMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Entries held now (for tests and diagnostics). */
  size(): number {
    return this.entries.size;
  }

  private store(key: string, value: Promise<unknown>, expiresAt: number): void {
    // Re-inserted at the end, so the Map's order is the order of insertion: the oldest first.
    this.entries.delete(key);
    const now = this.now();
    for (const [k, e] of this.entries) {
      if (this.entries.size < this.maxEntries && e.expiresAt > now) break;
      this.entries.delete(k);
    }
    this.entries.set(key, { value, expiresAt });
  }

  private cached<T>(key: string, load: () => Promise<T>, ttlMs = this.ttlMs): Promise<T> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.expiresAt > now) return hit.value as Promise<T>;
    const value = load();
    this.store(key, value, now + ttlMs);
    value.then(
      (v) => {
        const entry = this.entries.get(key);
        if (entry?.value !== value) return;
        if (v === undefined) entry.expiresAt = Math.min(entry.expiresAt, this.now() + this.negativeTtlMs);
      },
      () => {
        const entry = this.entries.get(key);
        if (entry?.value === value) entry.expiresAt = Math.min(entry.expiresAt, this.now() + this.failureTtlMs);
      },
    );
    return value;
  }

  /** A current or latest key read also answers lookups of its version (a reply's key is then never a second read). */
  private seedVersion(tenantId: string, key: PackageKey | undefined): PackageKey | undefined {
    if (key !== undefined && !this.entries.has(`${tenantId}|v${key.version}`)) this.store(`${tenantId}|v${key.version}`, Promise.resolve(key), this.now() + this.versionTtlMs);
    return key;
  }

  private invalidate(tenantId: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(`${tenantId}|`)) this.entries.delete(key);
  }

  currentKey(tenantId: string): Promise<PackageKey | undefined> {
    return this.cached(`${tenantId}|current`, async () => this.seedVersion(tenantId, await this.inner.currentKey(tenantId)));
  }
  latestKey(tenantId: string): Promise<PackageKey | undefined> {
    return this.cached(`${tenantId}|latest`, async () => this.seedVersion(tenantId, await this.inner.latestKey(tenantId)));
  }
  keyVersion(tenantId: string, version: number): Promise<PackageKey | undefined> {
    return this.cached(`${tenantId}|v${version}`, () => this.inner.keyVersion(tenantId, version), this.versionTtlMs);
  }
  async agentPublicKey(tenantId: string, lookup: AgentKeyLookup = {}): Promise<string | undefined> {
    const key = `${tenantId}|agent`;
    const hit = this.entries.get(key);
    if (lookup.unverifiedClaim === true && (hit === undefined || hit.expiresAt <= this.now()) && !(await this.hasRegisteredAgent(tenantId))) return undefined;
    return this.cached(key, () => this.inner.agentPublicKey(tenantId));
  }

  /**
   * Whether the tenant has an agent registered, from the list of such tenants. The list is read
   * again when it is older than agentDirectoryMaxAgeMs, or older than agentDirectoryRefreshMs and
   * missing this tenant (one registered on another instance since). A failed read is not retried
   * for agentDirectoryRefreshMs; meanwhile the last list answers, or, without one, the failure.
   */
  private async hasRegisteredAgent(tenantId: string): Promise<boolean> {
    const id = tenantId.toLowerCase();
    const known = this.directory;
    const now = this.now();
    if (known !== undefined && now - known.readAt <= this.directoryMaxAgeMs && (known.tenants.has(id) || now - known.readAt <= this.directoryRefreshMs)) return known.tenants.has(id);
    const read = this.readDirectory(now);
    if (read !== undefined) {
      try {
        return (await read).has(id);
      } catch (e) {
        if (known === undefined) throw e instanceof AppError ? e : new AppError("KEY_STORE_UNAVAILABLE", { cause: e });
      }
    } else if (known === undefined) {
      throw new AppError("KEY_STORE_UNAVAILABLE", { message: "The list of registered agents could not be read; retrying shortly." });
    }
    return known.tenants.has(id);
  }

  /** One read at a time, and none within agentDirectoryRefreshMs of a failed one (undefined then). */
  private readDirectory(now: number): Promise<Set<string>> | undefined {
    if (this.directoryRead !== undefined) return this.directoryRead;
    if (now - this.directoryFailedAt <= this.directoryRefreshMs) return undefined;
    const read = this.inner.tenantsWithAgentKeys().then((tenants) => new Set(tenants.map((t) => t.toLowerCase())));
    this.directoryRead = read;
    read
      .then(
        (tenants) => {
          this.directory = { tenants, readAt: this.now() };
        },
        () => {
          this.directoryFailedAt = this.now();
        },
      )
      .finally(() => {
        this.directoryRead = undefined;
      });
    return read;
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
      this.directory?.tenants.add(tenantId.toLowerCase());
    }
  }
  signingKeys(tenantId: string): Promise<SigningKeyVersion[]> {
    return this.cached(`${tenantId}|signing`, () => this.inner.signingKeys(tenantId));
  }
  async addSigningKey(tenantId: string, key: NewSigningKey): Promise<SigningKeyVersion> {
    try {
      return await this.inner.addSigningKey(tenantId, key);
    } finally {
      this.invalidate(tenantId);
    }
  }
  tenantsWithKeys(): Promise<string[]> {
    return this.inner.tenantsWithKeys();
  }
  tenantsWithAgentKeys(): Promise<string[]> {
    return this.inner.tenantsWithAgentKeys();
  }
}
