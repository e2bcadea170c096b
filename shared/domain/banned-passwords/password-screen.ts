import { normaliseCode, normalise } from "./normalise.js";
import type { MatchSink, TermTrie } from "./term-trie.js";

/** Entra's threshold: a password that contains a banned term needs at least this many points. */
export const MIN_POINTS = 5;
/** Longest password the screen reads (the API refuses longer ones before this). */
export const MAX_SCREENED_CHARS = 256;
/** User name parts shorter than this are not matched (initials, "jo", "ad"). */
export const MIN_USER_TERM_LENGTH = 3;

export interface BannedListSet {
  global: TermTrie;
  custom: TermTrie | undefined;
}

export interface ScreenResult {
  /** The password contains a banned term and scores fewer than MIN_POINTS. */
  banned: boolean;
  /** Points of the cheapest reading of the password (diagnostics and tests only; not a strength score). */
  points: number;
}

// Constant memory per request: one set of buffers, used synchronously and wiped after each use.
const codes = new Uint16Array(MAX_SCREENED_CHARS);
const best = new Int32Array(MAX_SCREENED_CHARS + 1);

class DpSink implements MatchSink {
  found = false;
  from = 0;
  record(end: number): void {
    this.found = true;
    const points = (best[this.from] as number) + 1;
    if (points < (best[end] as number)) best[end] = points;
  }
}
const sink = new DpSink();

function offer(from: number, end: number): void {
  const points = (best[from] as number) + 1;
  if (points < (best[end] as number)) best[end] = points;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlnum = (c: number) => isDigit(c) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90);

/**
 * Patterns that count as one point, like a banned term, but do not make a password banned by
 * themselves: a year (19xx, 20xx), a run of one character (`aaa`), a run up or down (`123`,
 * `cba`). Entra counts each of these characters as a point; `Contoso2026!` would pass there.
 */
function offerPatterns(text: string, n: number, start: number): void {
  const first = text.charCodeAt(start);
  if (start + 4 <= n && isDigit(first) && isDigit(text.charCodeAt(start + 1)) && isDigit(text.charCodeAt(start + 2)) && isDigit(text.charCodeAt(start + 3))) {
    const century = text.slice(start, start + 2);
    if (century === "19" || century === "20") offer(start, start + 4);
  }
  let repeat = start + 1;
  while (repeat < n && text.charCodeAt(repeat) === first) repeat++;
  for (let end = start + 3; end <= repeat; end++) offer(start, end);
  if (!isAlnum(first) || start + 1 >= n) return;
  const step = text.charCodeAt(start + 1) - first;
  if (step !== 1 && step !== -1) return;
  let run = start + 1;
  while (run < n && isAlnum(text.charCodeAt(run)) && text.charCodeAt(run) - text.charCodeAt(run - 1) === step) run++;
  for (let end = start + 3; end <= run; end++) offer(start, end);
}

/**
 * The user's own names as terms: a UPN's local part and its domain's labels but the last
 * (`alice.smith@contoso.com` → alice, smith, contoso), and any display name, split on separators.
 */
export function userTerms(parts: readonly string[]): string[] {
  const out = new Set<string>();
  for (const part of parts) {
    const at = part.lastIndexOf("@");
    const words = at === -1 ? [part] : [part.slice(0, at), ...part.slice(at + 1).split(".").slice(0, -1)];
    for (const word of words) {
      for (const piece of word.split(/[\s@._\-+,;:'"/\\()]+/)) {
        const term = normalise(piece);
        if (term.length >= MIN_USER_TERM_LENGTH) out.add(term);
      }
    }
  }
  return [...out].slice(0, 16);
}

function offerUserTerms(terms: readonly string[], n: number, start: number): void {
  for (const term of terms) {
    const end = start + term.length;
    if (end > n) continue;
    let i = 0;
    while (i < term.length && term.charCodeAt(i) === codes[start + i]) i++;
    if (i === term.length) {
      sink.found = true;
      offer(start, end);
    }
  }
}

/**
 * Entra's banned-password algorithm: normalise, find banned terms (global list, the tenant's
 * list, within edit distance 1; the user's own name parts exactly) as substrings, then score:
 * one point per banned term or pattern, one per remaining character, taking the cheapest
 * reading. A password with a banned term in it and fewer than MIN_POINTS is banned.
 * A password with no banned term is left to the directory's own policy (length, complexity).
 */
export function screenPassword(password: string, lists: BannedListSet, ownTerms: readonly string[]): ScreenResult {
  const n = Math.min(password.length, MAX_SCREENED_CHARS);
  try {
    for (let i = 0; i < n; i++) codes[i] = normaliseCode(password.charCodeAt(i));
    best[0] = 0;
    for (let i = 1; i <= n; i++) best[i] = i;
    sink.found = false;
    for (let start = 0; start < n; start++) {
      offer(start, start + 1);
      sink.from = start;
      lists.global.walk(codes, n, start, sink);
      lists.custom?.walk(codes, n, start, sink);
      offerUserTerms(ownTerms, n, start);
      offerPatterns(password, n, start);
    }
    const points = best[n] as number;
    return { banned: sink.found && points < MIN_POINTS, points };
  } finally {
    codes.fill(0, 0, n);
  }
}
