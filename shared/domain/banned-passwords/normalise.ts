/**
 * Entra-style normalisation of a password (or a banned term) before matching: lower case,
 * accents removed, and the usual character substitutions undone (`P@$$w0rd` → `password`).
 * The mapping is one code unit to one code unit, so a position in the normalised text is the
 * same position in the original; the scoring relies on that.
 */

/** Substitutions people use for letters. `1`, `!`, `|`, `i` and `l` are one class: `1` stands for either letter. */
const SUBSTITUTIONS: Record<string, string> = {
  "0": "o",
  "1": "l",
  "!": "l",
  "|": "l",
  i: "l",
  "3": "e",
  "4": "a",
  "@": "a",
  "5": "s",
  $: "s",
  "7": "t",
  "+": "t",
  "8": "b",
  "9": "g",
};

const ASCII = new Uint16Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c).toLowerCase();
  ASCII[c] = (SUBSTITUTIONS[ch] ?? ch).charCodeAt(0);
}

/** The normalised form of one UTF-16 code unit. */
export function normaliseCode(code: number): number {
  if (code < 128) return ASCII[code] as number;
  if (code >= 0xd800 && code <= 0xdfff) return code;
  // é → e, Ｐ → p, ß stays: the first unit of the compatibility decomposition, lower-cased.
  const base = String.fromCharCode(code).normalize("NFKD").toLowerCase().charCodeAt(0);
  return base < 128 ? (ASCII[base] as number) : base;
}

/** Writes the normalised code units of `text` into `out` (which must be at least as long); returns the count. */
export function normaliseInto(text: string, out: Uint16Array): number {
  const n = Math.min(text.length, out.length);
  for (let i = 0; i < n; i++) out[i] = normaliseCode(text.charCodeAt(i));
  return n;
}

/** The normalised form as a string (for building lists, not for the per-request path). */
export function normalise(text: string): string {
  let s = "";
  for (let i = 0; i < text.length; i++) s += String.fromCharCode(normaliseCode(text.charCodeAt(i)));
  return s;
}
