import { DEFAULT_LANGUAGE, LANGUAGES, type Language } from "../errors/user-messages.js";

// A header is short in practice; a longer one is read up to here (no unbounded parsing work).
const MAX_HEADER_CHARS = 512;
const MAX_RANGES = 32;

/**
 * The best supported language for an Accept-Language header (RFC 9110 §12.5.4): ranges
 * weighted by q (default 1; q=0 means "not this one"), the highest weight wins, earlier
 * ranges win ties; `es-MX` matches `es`, `*` any language not named otherwise. English when
 * nothing acceptable is supported, or the header is absent or malformed.
 */
export function negotiateLanguage(header: string | null | undefined): Language {
  if (header === null || header === undefined || header === "") return DEFAULT_LANGUAGE;
  const weights = new Map<Language, number>();
  let wildcard: number | undefined;
  const ranges = header.slice(0, MAX_HEADER_CHARS).split(",").slice(0, MAX_RANGES);
  for (const raw of ranges) {
    const [tag = "", ...params] = raw.split(";").map((p) => p.trim());
    let q = 1;
    for (const param of params) {
      const m = /^q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/i.exec(param);
      if (m) q = Number(m[1]);
      else if (/^q\s*=/i.test(param)) q = -1; // a malformed weight: ignore the range
    }
    if (q < 0 || !/^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$/.test(tag)) continue;
    if (tag === "*") {
      wildcard ??= q;
      continue;
    }
    const primary = tag.split("-")[0]!.toLowerCase();
    const language = LANGUAGES.find((l) => l === primary);
    // We serve one text per language: `es-MX;q=0.8, es;q=0.5` wants Spanish at 0.8.
    if (language !== undefined) weights.set(language, Math.max(q, weights.get(language) ?? 0));
  }
  if (wildcard !== undefined) for (const l of LANGUAGES) if (!weights.has(l)) weights.set(l, wildcard);
  let best: Language = DEFAULT_LANGUAGE;
  let bestQ = 0;
  for (const [language, q] of weights) {
    if (q > bestQ) {
      best = language;
      bestQ = q;
    }
  }
  return best;
}
