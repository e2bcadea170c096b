/** A tenant's own banned terms (company, product and place names): Entra's bounds. */
export const MAX_CUSTOM_TERMS = 1000;
export const MIN_CUSTOM_TERM_CHARS = 4;
export const MAX_CUSTOM_TERM_CHARS = 16;

export const BANNED_PASSWORD_MODES = ["enforce", "audit"] as const;
/** enforce: refuse in the cloud, nothing is sent; audit: send anyway and record that it would have been refused. */
export type BannedPasswordMode = (typeof BANNED_PASSWORD_MODES)[number];

/** How a term is stored: trimmed and lower-cased, so `Contoso` and `contoso ` are one term. */
export function canonicalTerm(term: string): string {
  return term.trim().toLowerCase();
}

export type TermChange = { terms: string[]; added: number; removed: number } | { tooMany: true; limit: number };

/** Applies removals, then additions; the list stays sorted and free of duplicates. */
export function changeTerms(existing: readonly string[], add: readonly string[], remove: readonly string[]): TermChange {
  const set = new Set(existing.map(canonicalTerm));
  let removed = 0;
  for (const term of remove) if (set.delete(canonicalTerm(term))) removed++;
  let added = 0;
  for (const term of add) {
    const t = canonicalTerm(term);
    if (!set.has(t)) {
      set.add(t);
      added++;
    }
  }
  if (set.size > MAX_CUSTOM_TERMS) return { tooMany: true, limit: MAX_CUSTOM_TERMS };
  return { terms: [...set].sort(), added, removed };
}
