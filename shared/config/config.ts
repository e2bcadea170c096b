import { z } from "zod";
import { isUuid } from "../protocol/ids.js";

/**
 * Every setting the function app reads, validated once at start-up. The same names are
 * in local.settings.sample.json and infra/main.bicep (a test keeps the three in step).
 */
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

export const configSchema = z
  .object({
    // Table storage: a connection string (local/Azurite) or an endpoint used with the managed identity.
    TABLES_CONNECTION_STRING: optionalString,
    TABLES_ENDPOINT: optionalString,
    // Service Bus: a connection string (local peer) or a namespace used with the managed identity.
    SERVICEBUS_CONNECTION_STRING: optionalString,
    SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: optionalString,
    SERVICEBUS_REPLIES_QUEUE: z.string().min(1).default("replies"),
    SERVICEBUS_AGENT_EVENTS_QUEUE: z.string().min(1).default("agent-events"),
    // Key Vault holding the tenants' package keys and agent public keys.
    KEYVAULT_URL: optionalString,
    KEYVAULT_CA_FILE: optionalString,
    KEY_CACHE_TTL_SECONDS: positiveInt(60),
    // Caller authentication (Entra ID or any OIDC issuer).
    // AUTH_ISSUER with {tenantid} (https://login.microsoftonline.com/{tenantid}/v2.0) is the
    // multi-tenant mode: each token's issuer is checked against its own tid, which must be one
    // of AUTH_TENANTS (comma-separated GUIDs: the customer tenants onboarded in this deployment).
    AUTH_ISSUER: z.string().min(1),
    AUTH_TENANTS: optionalString,
    AUTH_AUDIENCE: z.string().min(1),
    AUTH_JWKS_URL: optionalString,
    AUTH_PUBLIC_KEY_PEM: optionalString,
    // Tokens living longer than this (exp − iat) are refused; Entra access tokens live 60–90 minutes.
    AUTH_MAX_TOKEN_LIFETIME_SECONDS: positiveInt(86_400),
    // Traces and metrics go to Application Insights only when this is set (with the app's identity).
    APPLICATIONINSIGHTS_CONNECTION_STRING: optionalString,
    // Behaviour.
    AGENT_HEARTBEAT_WINDOW_SECONDS: positiveInt(660),
    RELAY_REPLY_TIMEOUT_MS: positiveInt(30_000),
    RELAY_MESSAGE_TTL_SECONDS: positiveInt(120),
    RATE_LIMIT_MAX_OPERATIONS: positiveInt(5),
    RATE_LIMIT_WINDOW_SECONDS: positiveInt(3600),
    KEY_ROTATION_MONTHS: positiveInt(6),
  })
  .superRefine((c, ctx) => {
    if (c.TABLES_CONNECTION_STRING === undefined && c.TABLES_ENDPOINT === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["TABLES_CONNECTION_STRING"], message: "set TABLES_CONNECTION_STRING or TABLES_ENDPOINT" });
    }
    if (c.SERVICEBUS_CONNECTION_STRING === undefined && c.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["SERVICEBUS_CONNECTION_STRING"], message: "set SERVICEBUS_CONNECTION_STRING or SERVICEBUS_FULLY_QUALIFIED_NAMESPACE" });
    }
    if (c.KEYVAULT_URL === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["KEYVAULT_URL"], message: "required" });
    }
    const tenants = authTenants(c.AUTH_TENANTS);
    if (tenants.some((t) => !isUuid(t))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["AUTH_TENANTS"], message: "a comma-separated list of tenant GUIDs" });
    }
    if (c.AUTH_ISSUER.toLowerCase().includes("{tenantid}") && tenants.length === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["AUTH_TENANTS"], message: "required with a {tenantid} issuer (the onboarded tenants)" });
    }
    if (c.AUTH_JWKS_URL === undefined && c.AUTH_PUBLIC_KEY_PEM === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["AUTH_JWKS_URL"], message: "set AUTH_JWKS_URL or AUTH_PUBLIC_KEY_PEM" });
    }
  });

/** AUTH_TENANTS as lowercase tenant ids (empty when unset). */
export function authTenants(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
}

export type AppConfig = z.infer<typeof configSchema>;
export const CONFIG_SETTING_NAMES = Object.keys(configSchema.innerType().shape) as (keyof AppConfig)[];

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Reads and validates the settings; the error names every missing or invalid one (never a value). */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  throw new ConfigError(`Invalid configuration. ${problems.join("; ")}`);
}
