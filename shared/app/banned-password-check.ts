import { globalBannedTerms } from "../domain/banned-passwords/global-list.js";
import { screenPassword, userTerms } from "../domain/banned-passwords/password-screen.js";
import { TermTrie } from "../domain/banned-passwords/term-trie.js";
import type { UserRef } from "../domain/user-types.js";
import type { StoredTenantSettings } from "../ports/tenant-settings-store.port.js";

/** What the check decided for one new password. */
export type BannedPasswordVerdict = "allowed" | "refused" | "wouldRefuse";

// Each tenant's custom list as a trie, rebuilt when the settings row changes (its etag).
const MAX_CACHED_TENANTS = 500;
const customTries = new Map<string, { etag: string; trie: TermTrie | undefined }>();

function customTrie(settings: StoredTenantSettings): TermTrie | undefined {
  const cached = customTries.get(settings.tenantId);
  if (cached !== undefined && cached.etag === settings.etag) return cached.trie;
  const terms = settings.customBannedTerms ?? [];
  const trie = terms.length === 0 ? undefined : TermTrie.fromTerms(terms);
  customTries.delete(settings.tenantId);
  if (customTries.size >= MAX_CACHED_TENANTS) customTries.delete(customTries.keys().next().value as string);
  customTries.set(settings.tenantId, { etag: settings.etag, trie });
  return trie;
}

/**
 * The cloud's banned-password check of a new password, with the tenant's settings as read for
 * the request (the custom list and the mode travel in the settings row: no extra read).
 */
export function checkBannedPassword(settings: StoredTenantSettings, user: UserRef, newPassword: string): BannedPasswordVerdict {
  const { banned } = screenPassword(newPassword, { global: globalBannedTerms(), custom: customTrie(settings) }, userTerms([user.userPrincipalName]));
  if (!banned) return "allowed";
  return settings.bannedPasswordMode === "audit" ? "wouldRefuse" : "refused";
}
