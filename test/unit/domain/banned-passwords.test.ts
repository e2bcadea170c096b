import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { changeTerms, MAX_CUSTOM_TERMS } from "../../../shared/domain/banned-passwords/custom-terms.js";
import { globalBannedTerms } from "../../../shared/domain/banned-passwords/global-list.js";
import { GLOBAL_BANNED_TERMS, GLOBAL_BANNED_TERMS_SOURCE } from "../../../shared/domain/banned-passwords/global-terms.generated.js";
import { normalise } from "../../../shared/domain/banned-passwords/normalise.js";
import { MAX_SCREENED_CHARS, screenPassword, userTerms } from "../../../shared/domain/banned-passwords/password-screen.js";
import { TermTrie } from "../../../shared/domain/banned-passwords/term-trie.js";

const noCustom = { global: globalBannedTerms(), custom: undefined };
const contoso = { global: globalBannedTerms(), custom: TermTrie.fromTerms(["contoso", "fabrikam", "blank"]) };
const banned = (p: string, lists = noCustom, own: string[] = []) => screenPassword(p, lists, own).banned;

describe("banned passwords: normalisation", () => {
  test("case, accents and the usual substitutions are undone", () => {
    assert.equal(normalise("P@$$W0RD"), "password");
    assert.equal(normalise("C0nt0s0"), "contoso");
    assert.equal(normalise("Sp3c1al"), "speclal");
    assert.equal(normalise("special"), "speclal", "1 stands for l or i: i and l are one class");
    assert.equal(normalise("5ecur17y"), "securlty");
    assert.equal(normalise("Ünïcödé"), "unlcode");
    assert.equal(normalise("\uFF30assword"), "password", "a full-width letter is its ASCII letter");
    assert.equal(normalise("a😀b").length, 4, "one code unit for one: positions stay aligned");
  });
});

describe("banned passwords: the global list", () => {
  test("is built from the maintained source, normalised, at the shipped size", () => {
    assert.equal(GLOBAL_BANNED_TERMS_SOURCE.package, "@zxcvbn-ts/language-common");
    const terms = GLOBAL_BANNED_TERMS.split("\n");
    assert.equal(terms.length, GLOBAL_BANNED_TERMS_SOURCE.count);
    assert.equal(globalBannedTerms().size, terms.length, "no duplicates");
    for (const t of terms) {
      assert.equal(normalise(t), t);
      assert.ok(t.length >= 4 && t.length <= 24, t);
    }
    assert.ok(terms.includes("password") && terms.includes("qwerty") && terms.includes("dragon"));
  });

  test("normalised, fuzzy (one edit) and embedded variants of common passwords are banned", () => {
    for (const p of [
      "password",
      "Password",
      "P@ssw0rd",
      "P@$$w0rd",
      "Password1",
      "Password123!",
      "Pa55word!",
      "Passwort1",
      "Passwrd12",
      "Paxssword1",
      "qwerty123456",
      "Qwerty!!",
      "iloveyou2",
      "1l0v3y0u",
      "Welcome1!",
      "Dragon2026",
      "Summer2026!",
      "Monkey$$",
      "letmein!!",
      "trustno1!",
      "abc123abc123",
      "Football#1",
    ]) {
      assert.equal(banned(p), true, p);
    }
  });

  test("clear non-matches and passwords with enough other points pass", () => {
    for (const p of [
      "xK9#mQ2$vL8!",
      "vkmrqzhtwpxj",
      "Tr0ub4dor&3",
      "correct horse battery staple",
      "Correct-Horse-Battery-9",
      "Pw-1a2b3c4d-aA1!",
      "Sec-0f3a9c2b11d4-Aa1!",
      "Zebra!Quokka_Fjord7",
      "J7#pw0r-kQ2m",
    ]) {
      assert.equal(banned(p), false, p);
    }
  });

  test("a password without any banned term is left to the directory's policy, however short", () => {
    assert.equal(banned("aA1!"), false);
    assert.equal(banned("zq"), false);
  });

  test("short terms match exactly only: one edit from a four-letter term is not a match", () => {
    const four = { global: TermTrie.fromTerms(["zulu"]), custom: undefined };
    assert.equal(screenPassword("zulu", four, []).banned, true);
    assert.equal(screenPassword("zula", four, []).banned, false);
    const five = { global: TermTrie.fromTerms(["zulus"]), custom: undefined };
    for (const p of ["zulus", "zulas", "zuls", "zuluss", "zxulus"]) assert.equal(screenPassword(p, five, []).banned, true, p);
    assert.equal(screenPassword("zxulxs", five, []).banned, false, "two edits");
  });
});

describe("banned passwords: scoring (Entra's examples and this product's patterns)", () => {
  test("one point per banned term, one per remaining character, five needed", () => {
    // Entra's documented example: "C0ntos0Blank12" → contoso + blank + 1 + 2 = 4 points: refused.
    const only = { global: TermTrie.fromTerms([]), custom: TermTrie.fromTerms(["contoso", "blank"]) };
    const example = screenPassword("C0ntos0Blank12", only, []);
    assert.equal(example.banned, true);
    assert.equal(example.points, 4);
    // "ContoS0Bl@nkf9!" → contoso + blank + f + 9 + ! = 5 points: accepted.
    assert.deepEqual(screenPassword("ContoS0Bl@nkf9!", only, []), { banned: false, points: 5 });
  });

  test("a year, a repeated character or a run up or down counts as one point", () => {
    assert.equal(screenPassword("Contoso2026!", contoso, []).banned, true, "contoso + 2026 + ! = 3");
    assert.equal(screenPassword("Contoso!!!!!", contoso, []).banned, true);
    assert.equal(screenPassword("contoso6789", contoso, []).banned, true);
    assert.equal(screenPassword("contosoqvz81", contoso, []).banned, false, "five other characters");
    assert.equal(banned("aaaa1234xyz"), true, "1234 is a common password; aaaa and xyz are patterns");
  });

  test("the tenant's custom terms, normalised and fuzzy", () => {
    for (const p of ["Contoso1!", "C0nt0s0#1", "Kontoso2026", "fabr1kam!!", "Fabrikan99"]) assert.equal(screenPassword(p, contoso, []).banned, true, p);
    assert.equal(banned("Kontoso2026"), false, "without the custom list it is not banned");
  });

  test("the user's own names (UPN parts) are banned terms", () => {
    const own = userTerms(["alice.smith@qualtrix.example"]);
    assert.deepEqual(own, ["allce", "smlth", "qualtrlx"], "not the top-level domain");
    assert.deepEqual(userTerms(["bob@eu.fabrikam.co.uk", "Bob Berg"]), ["bob", "fabrlkam", "berg"]);
    assert.equal(banned("Alice2026!", noCustom, own), true);
    assert.equal(banned("Qualtrix!1", noCustom, own), true);
    assert.equal(banned("Smith-Alice", noCustom, own), true);
    assert.equal(banned("Qualtrix!1"), false, "not someone else's");
    assert.deepEqual(userTerms(["jo.ab@x.io"]), [], "parts under three characters are not terms");
  });

  test("the longest password is screened in full, and a longer input reads only the first 256 characters", () => {
    const tail = `${"xK9#mQ2$vL8!".repeat(22).slice(0, MAX_SCREENED_CHARS - 8)}password`;
    assert.equal(screenPassword(tail, noCustom, []).points, MAX_SCREENED_CHARS - 7, "the term in the last characters was found");
    assert.equal(screenPassword(`${tail}zzzz`, noCustom, []).points, MAX_SCREENED_CHARS - 7, "what follows character 256 is not read");
    assert.equal(banned(`password${"x".repeat(300)}`), true, "a banned term and one run");
    assert.equal(banned("x".repeat(300)), false, "a pattern alone is not a banned term");
  });

  test("the verdict does not depend on earlier calls (shared buffers are reset)", () => {
    const before = screenPassword("xK9#mQ2$vL8!", noCustom, []);
    screenPassword("password", noCustom, ["someone"]);
    assert.deepEqual(screenPassword("xK9#mQ2$vL8!", noCustom, []), before);
  });
});

describe("banned passwords: the tenant's custom list", () => {
  test("terms are canonical, deduplicated, sorted; removals before additions", () => {
    const r = changeTerms(["contoso"], [" Fabrikam ", "CONTOSO", "tailspin"], ["contoso", "missing"]);
    assert.deepEqual(r, { terms: ["contoso", "fabrikam", "tailspin"], added: 3, removed: 1 });
  });

  test("the bound holds as a whole", () => {
    const full = Array.from({ length: MAX_CUSTOM_TERMS }, (_, i) => `term${i}`);
    assert.deepEqual(changeTerms(full, ["onemore"], []), { tooMany: true, limit: MAX_CUSTOM_TERMS });
    const swapped = changeTerms(full, ["onemore"], ["term0"]);
    assert.ok(!("tooMany" in swapped) && swapped.terms.length === MAX_CUSTOM_TERMS);
  });
});
