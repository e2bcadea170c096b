import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { beforeAll, describe, test } from "vitest";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { demoUser, userRef } from "../../support/fixtures.js";
import { useServices } from "../../../shared/composition/services.js";
import { ERROR_CATALOG, type ErrorCode } from "../../../shared/errors/catalog.js";
import { LANGUAGES, userMessage, USER_MESSAGES_ES } from "../../../shared/errors/user-messages.js";
import { negotiateLanguage } from "../../../shared/http/accept-language.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

describe("localisation: the error catalog in English and Spanish", () => {
  test("every code has an English and a Spanish text, and they differ", () => {
    const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];
    assert.deepEqual(Object.keys(USER_MESSAGES_ES).sort(), [...codes].sort());
    for (const code of codes) {
      for (const language of LANGUAGES) {
        const text = userMessage(code, language);
        assert.ok(text.trim().length > 5, `${code}/${language}`);
        assert.match(text, /[.!?]$/, `${code}/${language} is a sentence`);
      }
      assert.notEqual(userMessage(code, "es"), userMessage(code, "en"), code);
      assert.equal(userMessage(code, "en"), ERROR_CATALOG[code].userMessage);
    }
  });

  test("the Spanish uses the product documentation's terms", () => {
    assert.match(USER_MESSAGES_ES.WRITEBACK_DISABLED, /escritura diferida de contraseñas/);
    assert.match(USER_MESSAGES_ES.PASSWORD_POLICY_VIOLATION, /directiva de contraseñas/);
    assert.match(USER_MESSAGES_ES.UNLOCK_NOT_ENABLED, /desbloquear.*restablecer/);
    for (const text of Object.values(USER_MESSAGES_ES)) assert.doesNotMatch(text, /\b(the|your|password|try)\b/i, text);
  });
});

describe("localisation: Accept-Language", () => {
  const cases: [string | null, string][] = [
    [null, "en"],
    ["", "en"],
    ["es", "es"],
    ["es-ES", "es"],
    ["ES-mx", "es"],
    ["es-ES,es;q=0.9,en;q=0.8", "es"],
    ["en-US,en;q=0.9,es;q=0.8", "en"],
    ["en;q=0.5, es;q=0.6", "es"],
    ["es;q=0.3, en;q=0.30", "es"],
    ["fr-FR, de;q=0.9", "en"],
    ["fr, es;q=0.1", "es"],
    ["es;q=0", "en"],
    ["en;q=0, *", "es"],
    ["*", "en"],
    ["es-MX;q=0.8, es;q=0.5, en;q=0.7", "es"],
    ["es;q=1.5, en", "en"],
    ["es;q=abc, en;q=0.1", "en"],
    ["es;q=0.9;foo=bar", "es"],
    ["  es ; q = 0.7 , en ; q = 0.6 ", "es"],
    ["i-klingon;q=1, es;q=0.2", "es"],
    [`${"x".repeat(600)}, es`, "en"],
    ["<script>, es", "es"],
  ];
  for (const [header, expected] of cases) {
    test(`${JSON.stringify(header)} → ${expected}`, () => assert.equal(negotiateLanguage(header), expected));
  }
});

describe("localisation: the API answers in the caller's language", () => {
  let s: InMemoryStack;
  beforeAll(async () => {
    s = await startInMemoryStack({ rateLimitMax: 1000 });
  });
  const sspr = { kind: "user", channel: "ssprPortal" };

  test("a refusal in Spanish, with the same code, reason and fields; English by default", async () => {
    useServices(s.services);
    const body = { requestId: randomUUID(), user: userRef(demoUser("alice")), newPassword: "P@ssw0rd", initiator: sspr };
    const es = await s.call(passwordResets, { method: "POST", path: "/x", body, headers: { "accept-language": "es-ES,es;q=0.9,en;q=0.8" } });
    assert.equal(es.status, 422);
    assert.equal(es.body.error?.code, "PASSWORD_POLICY_VIOLATION");
    assert.equal(es.body.error?.reason, "banned");
    assert.equal(es.body.error?.message, USER_MESSAGES_ES.PASSWORD_POLICY_VIOLATION);
    assert.equal(es.headers["Content-Language"], "es");
    const en = await s.call(passwordResets, { method: "POST", path: "/x", body: { ...body, requestId: randomUUID() } });
    assert.equal(en.body.error?.message, ERROR_CATALOG.PASSWORD_POLICY_VIOLATION.userMessage);
    assert.equal(en.headers["Content-Language"], "en");
    const invalid = await s.call(precheck, { method: "POST", path: "/x", body: { user: { ...userRef(demoUser("alice")), authType: "nope" } }, headers: { "accept-language": "es" } });
    assert.equal(invalid.body.error?.code, "INVALID_REQUEST");
    assert.equal(invalid.body.error?.message, "La solicitud no es válida.");
    assert.deepEqual(invalid.body.error?.fields, ["user.authType"]);
    const cloud = await s.call(precheck, { method: "POST", path: "/x", body: { user: userRef(demoUser("dave")) }, headers: { "accept-language": "fr, es;q=0.5" } });
    assert.equal(cloud.body.error?.message, USER_MESSAGES_ES.NOT_APPLICABLE_CLOUD_ONLY);
  });
});
