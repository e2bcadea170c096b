import assert from "node:assert/strict";
import { test } from "vitest";
import { authTenants, ConfigError, loadConfig } from "../../../shared/config/config.js";

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

test("multi-tenant settings: a {tenantid} issuer needs AUTH_TENANTS, and each entry must be a tenant GUID", () => {
  const multi = { ...valid, AUTH_ISSUER: "https://login.microsoftonline.com/{tenantid}/v2.0", AUTH_JWKS_URL: "https://login.microsoftonline.com/common/discovery/v2.0/keys" };
  assert.throws(() => loadConfig(multi), (e: unknown) => e instanceof ConfigError && e.message.includes("AUTH_TENANTS"));
  assert.throws(() => loadConfig({ ...multi, AUTH_TENANTS: "contoso.onmicrosoft.com" }), (e: unknown) => e instanceof ConfigError && e.message.includes("AUTH_TENANTS") && !e.message.includes("contoso"));
  const c = loadConfig({ ...multi, AUTH_TENANTS: " 2F0B6A37-1C2D-4E5F-8A9B-0C1D2E3F4A5B, 9c4d3e2f-1a0b-4c8d-9e7f-6a5b4c3d2e1f " });
  assert.deepEqual(authTenants(c.AUTH_TENANTS), ["2f0b6a37-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "9c4d3e2f-1a0b-4c8d-9e7f-6a5b4c3d2e1f"]);
  assert.deepEqual(authTenants(loadConfig(valid).AUTH_TENANTS), []);
});
