import { changeTerms, MAX_CUSTOM_TERM_CHARS, MAX_CUSTOM_TERMS, MIN_CUSTOM_TERM_CHARS } from "../domain/banned-passwords/custom-terms.js";
import { GLOBAL_BANNED_TERMS_SOURCE } from "../domain/banned-passwords/global-terms.generated.js";
import { AppError } from "../errors/app-error.js";
import type { StoredTenantSettings } from "../ports/tenant-settings-store.port.js";
import type { WritebackServices } from "./services.js";

/** Terms to remove, then to add. */
export interface BannedTermsChange {
  add: readonly string[];
  remove: readonly string[];
}

/** Operator use cases for the tenant's custom banned-password terms (kept in the settings row). */
export class BannedTermsAdmin {
  constructor(private readonly s: WritebackServices) {}

  async list(tenantId: string): Promise<Record<string, unknown>> {
    return this.describe(tenantId, await this.s.settings.get(tenantId));
  }

  /** Removes, then adds; refused as a whole when the list would exceed its bound. */
  async change(tenantId: string, body: BannedTermsChange): Promise<Record<string, unknown>> {
    const existing = await this.s.settings.get(tenantId);
    const result = changeTerms(existing?.customBannedTerms ?? [], body.add, body.remove);
    if ("tooMany" in result) {
      throw new AppError("INVALID_REQUEST", { message: `A tenant may have at most ${result.limit} custom banned terms.`, fields: ["add"] });
    }
    const stored = await this.s.settings
      .put(
        {
          tenantId,
          enabled: existing?.enabled ?? false,
          allowUnlockWithoutReset: existing?.allowUnlockWithoutReset ?? false,
          bannedPasswordMode: existing?.bannedPasswordMode ?? "enforce",
          customBannedTerms: result.terms,
          updatedAt: this.s.clock.now(),
        },
        existing?.etag ?? null,
      )
      .catch((e: unknown) => {
        if (e instanceof Error && e.name === "ConcurrencyConflictError") throw new AppError("SETTINGS_CONFLICT");
        throw e;
      });
    // Counts only: the terms are the tenant's business, not the log's.
    this.s.logger.info("custom banned terms changed", { tenantId, added: result.added, removed: result.removed, count: result.terms.length });
    return { ...this.describe(tenantId, stored), added: result.added, removed: result.removed };
  }

  private describe(tenantId: string, settings: StoredTenantSettings | undefined): Record<string, unknown> {
    return {
      tenantId,
      mode: settings?.bannedPasswordMode ?? "enforce",
      customTerms: settings?.customBannedTerms ?? [],
      limits: { maxTerms: MAX_CUSTOM_TERMS, minTermChars: MIN_CUSTOM_TERM_CHARS, maxTermChars: MAX_CUSTOM_TERM_CHARS },
      globalList: GLOBAL_BANNED_TERMS_SOURCE,
    };
  }
}
