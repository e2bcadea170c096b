/**
 * A hint or a README line that names a setting must name one the app reads: an administrator
 * follows them when something is down (STORAGE_UNAVAILABLE once named STORAGE_CONNECTION_STRING,
 * which never existed).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "vitest";
import { CONFIG_SETTING_NAMES } from "../../../shared/config/config.js";
import { ERROR_CATALOG } from "../../../shared/errors/catalog.js";
import { AGENT_TRUST_CODES } from "../../../agent/core/backend-trust.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const SETTING_LIKE = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g;
const settings = new Set<string>(CONFIG_SETTING_NAMES);
const codes = new Set(Object.keys(ERROR_CATALOG));

test("every setting an error hint names is one the config schema reads", () => {
  const unknown = Object.entries(ERROR_CATALOG).flatMap(([code, entry]) =>
    [...entry.adminHint.matchAll(SETTING_LIKE)].map((m) => m[0]).filter((name) => !settings.has(name) && !codes.has(name)).map((name) => `${code}: ${name}`),
  );
  assert.deepEqual(unknown, []);
});

/**
 * Names in the README that are neither settings nor codes: an LDAP control and a socket option;
 * an azd output; the variables @azure/identity's environment credential reads (the CLI's
 * sign-in); the CLI's own refusal code for onboarding a tenant twice.
 */
const NOT_SETTINGS = new Set(["LDAP_SERVER_POLICY_HINTS", "TCP_NODELAY", "API_BASE_URL", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "ALREADY_ONBOARDED"]);

/** The agent's own stable codes (its log and command errors about trusting the backend), which the README explains. */
const agentCodes = new Set<string>(AGENT_TRUST_CODES);

test("every setting-like name in the README is a config setting, an error code, an agent's stable code, or one of the CLI's and agent's WRITEBACK_* variables", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const named = new Set([...readme.matchAll(SETTING_LIKE)].map((m) => m[0]));
  const unknown = [...named].filter((name) => !settings.has(name) && !codes.has(name) && !agentCodes.has(name) && !NOT_SETTINGS.has(name) && !name.startsWith("WRITEBACK_"));
  assert.deepEqual(unknown, []);
  // And the other way round: the README documents every setting.
  assert.deepEqual(CONFIG_SETTING_NAMES.filter((name) => !named.has(name)), []);
});
