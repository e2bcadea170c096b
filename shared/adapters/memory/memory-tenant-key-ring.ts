import { randomBytes } from "node:crypto";
import type { KeyVersionAllocator } from "../../ports/key-version-allocator.port.js";
import type { NewSigningKey, PackageKey, SigningKeyVersion, TenantKeyRing } from "../../ports/tenant-key-ring.port.js";
import { MemoryKeyVersionAllocator } from "./memory-key-version-allocator.js";

function copy(k: PackageKey): PackageKey {
  return { version: k.version, key: Buffer.from(k.key), createdAt: new Date(k.createdAt), acknowledgedAt: k.acknowledgedAt === undefined ? undefined : new Date(k.acknowledgedAt) };
}

/**
 * Key ring for unit tests and the in-process stack; counts reads like a vault would see them.
 * A new version is written as the vault adapter writes it (read the latest, then store, with
 * the allocator's await in between), so concurrent rotations interleave here as they do on a
 * real vault and the contract tests catch an allocation that is not atomic.
 */
export class MemoryTenantKeyRing implements TenantKeyRing {
  constructor(private readonly allocator: KeyVersionAllocator = new MemoryKeyVersionAllocator()) {}

  private readonly keys = new Map<string, PackageKey[]>();
  private readonly publicKeys = new Map<string, string>();
  private readonly signing = new Map<string, SigningKeyVersion[]>();
  reads = 0;

  private list(tenantId: string): PackageKey[] {
    this.reads += 1;
    return this.keys.get(tenantId) ?? [];
  }

  async currentKey(tenantId: string): Promise<PackageKey | undefined> {
    const acknowledged = this.list(tenantId).filter((k) => k.acknowledgedAt !== undefined);
    const last = acknowledged[acknowledged.length - 1];
    return last === undefined ? undefined : copy(last);
  }

  async keyVersion(tenantId: string, version: number): Promise<PackageKey | undefined> {
    const k = this.list(tenantId).find((x) => x.version === version);
    return k === undefined ? undefined : copy(k);
  }

  async latestKey(tenantId: string): Promise<PackageKey | undefined> {
    const all = this.list(tenantId);
    const last = all[all.length - 1];
    return last === undefined ? undefined : copy(last);
  }

  async createKey(tenantId: string, now: Date): Promise<PackageKey> {
    const latest = (this.keys.get(tenantId) ?? []).at(-1);
    const key: PackageKey = { version: await this.allocator.next(tenantId, "package", latest?.version ?? 0), key: randomBytes(32), createdAt: now, acknowledgedAt: undefined };
    const all = this.keys.get(tenantId) ?? [];
    all.push(key);
    all.sort((a, b) => a.version - b.version);
    this.keys.set(tenantId, all);
    return copy(key);
  }

  async markAcknowledged(tenantId: string, version: number, at: Date): Promise<void> {
    const k = (this.keys.get(tenantId) ?? []).find((x) => x.version === version);
    if (k !== undefined && k.acknowledgedAt === undefined) k.acknowledgedAt = at;
  }

  async agentPublicKey(tenantId: string): Promise<string | undefined> {
    this.reads += 1;
    return this.publicKeys.get(tenantId);
  }

  async setAgentPublicKey(tenantId: string, publicKeyPem: string): Promise<void> {
    this.publicKeys.set(tenantId, publicKeyPem);
  }

  async signingKeys(tenantId: string): Promise<SigningKeyVersion[]> {
    this.reads += 1;
    return (this.signing.get(tenantId) ?? []).map((k) => ({ ...k, publicKeyRaw: Buffer.from(k.publicKeyRaw), privateKeyDer: Buffer.from(k.privateKeyDer), createdAt: new Date(k.createdAt) }));
  }

  async addSigningKey(tenantId: string, material: NewSigningKey): Promise<SigningKeyVersion> {
    const existing = await this.signingKeys(tenantId);
    const key: SigningKeyVersion = { ...material, version: await this.allocator.next(tenantId, "signing", existing[existing.length - 1]?.version ?? 0) };
    const all = this.signing.get(tenantId) ?? [];
    all.push({ ...key });
    all.sort((a, b) => a.version - b.version);
    this.signing.set(tenantId, all);
    return key;
  }

  async tenantsWithKeys(): Promise<string[]> {
    return [...this.keys.keys()];
  }

  async tenantsWithAgentKeys(): Promise<string[]> {
    this.reads += 1;
    return [...this.publicKeys.keys()];
  }
}
