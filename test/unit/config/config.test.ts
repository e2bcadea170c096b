import assert from "node:assert/strict";
import { test } from "vitest";
import { ConfigError, loadConfig } from "../../../shared/config/config.js";

const valid = {
  TABLES_CONNECTION_STRING: "UseDevelopmentStorage=true",
  SERVICEBUS_CONNECTION_STRING: "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=a;SharedAccessKey=super-secret-value;UseDevelopmentEmulator=true",
  KEYVAULT_URL: "https://127.0.0.1:8443",
  AUTH_ISSUER: "https://issuer",
  AUTH_AUDIENCE: "api://x",
  AUTH_JWKS_URL: "https://issuer/keys",
};

test("valid settings load with the documented defaults", () => {
  const c = loadConfig(valid);
  assert.equal(c.AGENT_HEARTBEAT_WINDOW_SECONDS, 660);
  assert.equal(c.RATE_LIMIT_MAX_OPERATIONS, 5);
  assert.equal(c.RELAY_MESSAGE_TTL_SECONDS, 120);
  assert.equal(c.SERVICEBUS_REPLIES_QUEUE, "replies");
  assert.equal(c.SERVICEBUS_AGENT_EVENTS_QUEUE, "agent-events");
});

test("a missing or invalid setting is named, and no value is echoed", () => {
  const { KEYVAULT_URL: _kv, ...withoutVault } = valid;
  assert.throws(() => loadConfig(withoutVault), (e: unknown) => e instanceof ConfigError && e.message.includes("KEYVAULT_URL"));
  assert.throws(
    () => loadConfig({ ...valid, RATE_LIMIT_MAX_OPERATIONS: "many" }),
    (e: unknown) => e instanceof ConfigError && e.message.includes("RATE_LIMIT_MAX_OPERATIONS") && !e.message.includes("super-secret-value"),
  );
  assert.throws(() => loadConfig({ ...valid, AUTH_JWKS_URL: "" }), (e: unknown) => e instanceof ConfigError && e.message.includes("AUTH_JWKS_URL"));
});
