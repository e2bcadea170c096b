import { foldCase, type PasswordText } from "./password-text.js";

/**
 * "Password must meet complexity requirements", as Microsoft documents it:
 * - the password must not contain the account's sAMAccountName (skipped when that is shorter
 *   than 3 characters) nor any token of its displayName of 3 or more characters (tokens split
 *   at commas, periods, dashes, underscores, spaces, pound signs and tabs); case-insensitive;
 * - it must contain characters from 3 of these 5 categories: uppercase letters, lowercase
 *   letters, base-10 digits, the listed non-alphanumeric characters, and Unicode letters that
 *   are neither uppercase nor lowercase (for example Asian scripts). Other characters (currency
 *   symbols, spaces, ...) count in no category.
 */
const SPECIAL = new Set(Array.from("~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/", (c) => c.codePointAt(0) ?? 0));
const DISPLAY_NAME_DELIMITERS = /[,.\-_ #\t]+/;
const UPPER = /^\p{Lu}$/u;
const LOWER = /^\p{Ll}$/u;
const LETTER = /^\p{L}$/u;

export type CharacterCategory = "upper" | "lower" | "digit" | "special" | "otherLetter";

export function categoryOf(cp: number): CharacterCategory | undefined {
  if (cp >= 0x30 && cp <= 0x39) return "digit";
  if (cp >= 0x61 && cp <= 0x7a) return "lower";
  if (cp >= 0x41 && cp <= 0x5a) return "upper";
  if (SPECIAL.has(cp)) return "special";
  if (cp < 0x80) return undefined;
  const ch = String.fromCodePoint(cp);
  if (UPPER.test(ch)) return "upper";
  if (LOWER.test(ch)) return "lower";
  if (LETTER.test(ch)) return "otherLetter";
  return undefined;
}

export function categoryCount(password: PasswordText): number {
  const seen = new Set<CharacterCategory>();
  for (const cp of password.codePoints) {
    const c = categoryOf(cp);
    if (c !== undefined) seen.add(c);
  }
  return seen.size;
}

/** The account-name parts a password must not contain (already case-folded). */
export function forbiddenNameParts(sAMAccountName: string, displayName: string | undefined): number[][] {
  const parts: string[] = [];
  if (sAMAccountName.length >= 3) parts.push(sAMAccountName);
  if (displayName !== undefined) parts.push(...displayName.split(DISPLAY_NAME_DELIMITERS).filter((t) => t.length >= 3));
  return parts.map((p) => Array.from(p, (ch) => foldCase(ch.codePointAt(0) ?? 0)));
}

function containsFolded(haystack: Uint32Array, needle: readonly number[]): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

export function meetsComplexity(password: PasswordText, sAMAccountName: string, displayName: string | undefined): boolean {
  if (categoryCount(password) < 3) return false;
  const parts = forbiddenNameParts(sAMAccountName, displayName);
  if (parts.length === 0) return true;
  const folded = password.codePoints.map(foldCase);
  try {
    return !parts.some((p) => containsFolded(folded, p));
  } finally {
    folded.fill(0);
  }
}
