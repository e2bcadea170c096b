import { randomUUID } from "node:crypto";
import { ConcurrencyConflictError, type StoredTenantSettings, type TenantSettings, type TenantSettingsStore } from "../../ports/tenant-settings-store.port.js";

/** A copy with the defaults a stored row reads back with (as the Table adapter does). */
function copy(row: StoredTenantSettings): StoredTenantSettings {
  return { ...row, bannedPasswordMode: row.bannedPasswordMode ?? "enforce", customBannedTerms: [...(row.customBannedTerms ?? [])] };
}

export class MemoryTenantSettingsStore implements TenantSettingsStore {
  private readonly rows = new Map<string, StoredTenantSettings>();

  async get(tenantId: string): Promise<StoredTenantSettings | undefined> {
    const row = this.rows.get(tenantId);
    return row === undefined ? undefined : copy(row);
  }

  async put(settings: TenantSettings, expectedEtag?: string | null): Promise<StoredTenantSettings> {
    const existing = this.rows.get(settings.tenantId);
    if (expectedEtag === null && existing !== undefined) throw new ConcurrencyConflictError("settings exist already");
    if (typeof expectedEtag === "string" && existing?.etag !== expectedEtag) throw new ConcurrencyConflictError("settings changed meanwhile");
    const stored = copy({ ...settings, etag: randomUUID() });
    this.rows.set(settings.tenantId, stored);
    return copy(stored);
  }

  async list(): Promise<StoredTenantSettings[]> {
    return [...this.rows.values()].map(copy);
  }
}
