import assert from "node:assert/strict";
import { test } from "vitest";
import { ERROR_CATALOG } from "../../shared/errors/catalog.js";

test("every error code has a status, a user message and an admin hint", () => {
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    assert.ok(entry.status >= 400 && entry.status < 600, code);
    assert.ok(entry.userMessage.length > 0, code);
    assert.ok(entry.adminHint.length > 0, code);
  }
});
