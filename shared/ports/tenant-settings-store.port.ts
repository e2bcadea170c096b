import type { BannedPasswordMode } from "../domain/banned-passwords/custom-terms.js";

export interface TenantSettings {
  tenantId: string;
  enabled: boolean;
  allowUnlockWithoutReset: boolean;
  /** Absent: "enforce". */
  bannedPasswordMode?: BannedPasswordMode | undefined;
  /** The tenant's own banned terms, canonical (trimmed, lower case), at most MAX_CUSTOM_TERMS. Absent: none. */
  customBannedTerms?: readonly string[] | undefined;
  updatedAt: Date;
}

export interface StoredTenantSettings extends TenantSettings {
  /** Opaque concurrency token. */
  etag: string;
}

export interface TenantSettingsStore {
  /** With `maxAgeMs`, an implementation may answer with settings read up to that long ago (a cache). */
  get(tenantId: string, options?: { maxAgeMs?: number }): Promise<StoredTenantSettings | undefined>;
  /**
   * Writes settings. With expectedEtag, fails with ConcurrencyConflictError when another
   * writer got there first; with expectedEtag null, only creates.
   */
  put(settings: TenantSettings, expectedEtag?: string | null): Promise<StoredTenantSettings>;
  list(): Promise<StoredTenantSettings[]>;
}

export class ConcurrencyConflictError extends Error {
  override readonly name = "ConcurrencyConflictError";
}
