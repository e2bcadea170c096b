import assert from "node:assert/strict";
import { test } from "node:test";
import { resetBodySchema } from "../../../shared/http/request-schemas.js";

// The rules the body schema enforces on text, written plainly (code unit by code unit).
function loneSurrogate(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = v.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}
const hasControl = (v: string) => [...v].some((ch) => ch.charCodeAt(0) <= 0x1f || ch.charCodeAt(0) === 0x7f);

const ALPHABET = ["a", "Z", "1", "!", "é", "€", "\u0000", "\u0001", "\u001f", "\u007f", "\n", "\uD800", "\uDBFF", "\uDC00", "\uDFFF", "😀", "𝄞"];
function randomText(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 12);
  let s = "";
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

test("text rules: a password has no lone surrogate and no NUL; an anchor no lone surrogate and no control character; a UPN no lone surrogate", () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const base = {
    user: { cloudAnchor: "User_x", userPrincipalName: "a@b.example", authType: "passwordHashSync" },
    newPassword: "Aa1!aaaa",
    initiator: { kind: "user", channel: "ssprPortal" },
  };
  const fieldsOf = (body: unknown) => {
    const r = resetBodySchema.safeParse(body);
    return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
  };
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const t = randomText(rand);
    const pw = !loneSurrogate(t) && !t.includes("\u0000");
    assert.deepEqual(fieldsOf({ ...base, newPassword: t }), pw ? [] : ["newPassword"], JSON.stringify(t));
    const anchor = !loneSurrogate(t) && !hasControl(t);
    assert.deepEqual(fieldsOf({ ...base, user: { ...base.user, cloudAnchor: t } }), anchor ? [] : ["user.cloudAnchor"], JSON.stringify(t));
    const upn = `x${t.replace(/[@\s]/g, "")}@b.example`;
    assert.deepEqual(fieldsOf({ ...base, user: { ...base.user, userPrincipalName: upn } }), loneSurrogate(upn) ? ["user.userPrincipalName"] : [], JSON.stringify(upn));
    if (!pw) rejected++;
  }
  // The sample exercises both sides of every rule.
  assert.ok(rejected > 300 && rejected < 2700);
});
