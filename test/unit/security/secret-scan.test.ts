import assert from "node:assert/strict";
import { test } from "vitest";
import { secretForms } from "../../support/secret-scan.js";

test("the secret scanner derives every outgoing form, lone surrogates included", () => {
  const secret = "Pa\uD800ss-word-42!";
  const forms = secretForms(secret);
  assert.ok(forms.includes(secret));
  assert.ok(forms.includes(Buffer.from(secret, "utf16le").toString("base64")), "AD's unicodePwd form");
  assert.ok(forms.includes(Buffer.from(secret, "utf8").toString("hex")));
  assert.ok(forms.some((f) => f.includes("%EF%BF%BD")), "URL-escaped as its UTF-8 replacement");
  assert.ok(!secretForms("short").includes("short"), "a form under 8 characters is not searched (false matches)");
});
