import { z } from "zod";

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
    AUTH_ISSUER: z.string().min(1),
    AUTH_AUDIENCE: z.string().min(1),
    AUTH_JWKS_URL: optionalString,
    AUTH_PUBLIC_KEY_PEM: optionalString,
    // Tokens living longer than this (exp − iat) are refused; Entra access tokens live 60–90 minutes.
    AUTH_MAX_TOKEN_LIFETIME_SECONDS: positiveInt(86_400),
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
    if (c.AUTH_JWKS_URL === undefined && c.AUTH_PUBLIC_KEY_PEM === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["AUTH_JWKS_URL"], message: "set AUTH_JWKS_URL or AUTH_PUBLIC_KEY_PEM" });
    }
  });

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
