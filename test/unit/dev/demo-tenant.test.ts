import assert from "node:assert/strict";
import { test } from "vitest";
import { forbiddenNameParts } from "../../../agent/directory/embedded/complexity.js";
import { loadUsers } from "../../../dev/demo-tenant.js";

test("load users' name parts cannot turn up in generated passwords (digits and hex never spell them)", () => {
  // Load tests and the benchmark build passwords from counters and random hex: a name part made
  // only of such characters (say "00123") made AD's complexity rule refuse about one reset in 10,000.
  for (const u of loadUsers(1000)) {
    for (const part of forbiddenNameParts(u.sAMAccountName, u.displayName)) {
      const text = String.fromCodePoint(...part);
      assert.match(text, /[g-z]/, `${u.sAMAccountName}: "${text}" could appear in a hex or numeric password`);
    }
  }
});
