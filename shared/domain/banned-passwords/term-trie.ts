import { normalise } from "./normalise.js";

/** Terms shorter than this match exactly only: at four letters, one edit away from a word is almost any word. */
export const FUZZY_MIN_TERM_LENGTH = 5;

/**
 * Where matches found from one start position go: `record(end, fuzzy)` is called for every
 * banned term that occurs (within one edit) in `codes[start, end)`.
 */
export interface MatchSink {
  record(end: number): void;
}

/**
 * A set of normalised banned terms as a trie in flat typed arrays (child list per node), so a
 * lookup allocates nothing and a list of 10,000 terms takes well under a megabyte.
 * `walk` finds every term within edit distance 1 (one substitution, insertion or deletion)
 * of a substring that starts at a given position.
 */
export class TermTrie {
  private readonly firstChild: Int32Array;
  private readonly nextSibling: Int32Array;
  private readonly label: Uint16Array;
  private readonly terminal: Uint8Array;
  /** Number of distinct terms. */
  readonly size: number;
  // Per-walk state, set by walk(): the trie is used synchronously, one walk at a time.
  private codes: Uint16Array = new Uint16Array(0);
  private n = 0;
  private start = 0;
  private sink: MatchSink = { record: () => {} };

  private constructor(firstChild: Int32Array, nextSibling: Int32Array, label: Uint16Array, terminal: Uint8Array, size: number) {
    this.firstChild = firstChild;
    this.nextSibling = nextSibling;
    this.label = label;
    this.terminal = terminal;
    this.size = size;
  }

  /** Builds from raw terms (normalised here); empty strings are skipped. */
  static fromTerms(terms: Iterable<string>): TermTrie {
    const normalised: string[] = [];
    let capacity = 1;
    for (const raw of terms) {
      const term = normalise(raw);
      if (term.length === 0) continue;
      normalised.push(term);
      capacity += term.length;
    }
    // At most one node per character: sized once, trimmed at the end.
    const firstChild = new Int32Array(capacity).fill(-1);
    const nextSibling = new Int32Array(capacity).fill(-1);
    const label = new Uint16Array(capacity);
    const terminal = new Uint8Array(capacity);
    let nodes = 1;
    let size = 0;
    for (const term of normalised) {
      let node = 0;
      for (let i = 0; i < term.length; i++) {
        const code = term.charCodeAt(i);
        let child = firstChild[node] as number;
        let last = -1;
        while (child !== -1 && label[child] !== code) {
          last = child;
          child = nextSibling[child] as number;
        }
        if (child === -1) {
          child = nodes++;
          label[child] = code;
          if (last === -1) firstChild[node] = child;
          else nextSibling[last] = child;
        }
        node = child;
      }
      if (terminal[node] === 0) size++;
      terminal[node] = 1;
    }
    return new TermTrie(firstChild.slice(0, nodes), nextSibling.slice(0, nodes), label.slice(0, nodes), terminal.slice(0, nodes), size);
  }

  /** Reports to `sink` every term within one edit of `codes[start, end)`, for each such end. */
  walk(codes: Uint16Array, n: number, start: number, sink: MatchSink): void {
    this.codes = codes;
    this.n = n;
    this.start = start;
    this.sink = sink;
    this.visit(0, start, 0, 0);
  }

  private visit(node: number, pos: number, edits: number, depth: number, skipped = false): void {
    // A term followed by one extra character is the term and a character: the scoring counts that
    // character, as Entra does, so a match never ends on the skipped character.
    if (this.terminal[node] === 1 && !skipped && pos > this.start && (edits === 0 || depth >= FUZZY_MIN_TERM_LENGTH)) this.sink.record(pos);
    const code = pos < this.n ? (this.codes[pos] as number) : -1;
    for (let c = this.firstChild[node] as number; c !== -1; c = this.nextSibling[c] as number) {
      if (this.label[c] === code) this.visit(c, pos + 1, edits, depth + 1);
      else if (edits === 0 && code !== -1) this.visit(c, pos + 1, 1, depth + 1); // one character replaced
      if (edits === 0) this.visit(c, pos, 1, depth + 1); // one character of the term left out
    }
    // One character slipped into the term (not before its first character: that is just a character before it).
    if (edits === 0 && code !== -1 && pos > this.start && node !== 0 && this.firstChild[node] !== -1) this.visit(node, pos + 1, 1, depth, true);
  }
}
