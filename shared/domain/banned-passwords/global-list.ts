import { GLOBAL_BANNED_TERMS } from "./global-terms.generated.js";
import { TermTrie } from "./term-trie.js";

let trie: TermTrie | undefined;

/** The global list shipped with the product, built into a trie on first use (not at import: cold start stays short). */
export function globalBannedTerms(): TermTrie {
  trie ??= TermTrie.fromTerms(GLOBAL_BANNED_TERMS.split("\n"));
  return trie;
}
