import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";

/**
 * The agent's configuration: a JSON file plus environment overrides for secrets
 * (WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING, WRITEBACK_AGENT_KEY_PASSPHRASE,
 * WRITEBACK_AGENT_BIND_PASSWORD_<DOMAIN>). Invalid configuration stops the agent with
 * one error naming each bad setting (never its value).
 */
const ldapDomainSchema = z
  .object({
    domain: z.string().min(1),
    /** The forest root's DNS name (the AD connector's name in the sync store); defaults to the domain. */
    forest: z.string().min(1).optional(),
    urls: z.array(z.string().regex(/^ldaps:\/\//i, "must be ldaps://")).min(1),
    preferredDc: z.string().optional(),
    bindDn: z.string().min(1),
    bindPassword: z.string().min(1).optional(),
    caFile: z.string().min(1),
    servername: z.string().optional(),
    timeoutMs: z.number().int().positive().default(10_000),
    /** `agent check`: a user or OU whose rights to verify (default: the first non-protected user found). */
    sampleDn: z.string().min(1).optional(),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    tenantId: z.string().uuid(),
    agentId: z.string().min(1).max(100).default("agent-1"),
    backendUrl: z.string().url().optional(),
    serviceBus: z
      .object({
        connectionString: z.string().min(1).optional(),
        tenantQueue: z.string().min(1).optional(),
        eventsQueue: z.string().min(1).default("agent-events"),
      })
      .strict(),
    keys: z
      .object({
        privateKeyFile: z.string().min(1),
        passphrase: z.string().min(1).optional(),
        stateFile: z.string().min(1),
        /** The pinned backend control-signing key (default: backend-signing-key.json next to the private key). */
        backendKeyFile: z.string().min(1).optional(),
      })
      .strict(),
    heartbeatIntervalSeconds: z.number().int().min(1).max(3600).default(300),
    maxConcurrentRequests: z.number().int().min(1).max(256).default(32),
    directory: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("embedded"), seedFile: z.string().min(1), writeLatencyMs: z.number().int().min(0).max(60_000).optional() }).strict(),
      z.object({ kind: z.literal("ldap"), domains: z.array(ldapDomainSchema).min(1) }).strict(),
    ]),
    syncStore: z
      .object({
        file: z.string().min(1),
        /** `agent run` refreshes the store from AD this often (incremental: uSNChanged); 0 = never. */
        refreshIntervalSeconds: z.number().int().min(0).max(86_400).default(300),
      })
      .strict(),
    /** Where `agent run` logs: a size-rotated file, else stdout (for the journal or a service wrapper). */
    log: z
      .object({
        file: z.string().min(1).optional(),
        maxBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(10 * 1024 * 1024),
        maxFiles: z.number().int().min(1).max(100).default(5),
      })
      .strict()
      .default({}),
  })
  .strict();

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type LdapDomainConfig = z.infer<typeof ldapDomainSchema>;

export class AgentConfigError extends Error {
  override readonly name = "AgentConfigError";
}

function envName(domain: string): string {
  return domain.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** Loads the file, applies environment secrets, resolves relative paths against the file's folder. */
export function loadAgentConfig(file: string, env: Record<string, string | undefined> = process.env): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new AgentConfigError(`Cannot read the agent configuration ${file}: ${e instanceof SyntaxError ? "not valid JSON" : "file not readable"}.`);
  }
  const result = agentConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.code === "invalid_type" ? `expected ${String((i as { expected?: unknown }).expected)}` : i.message.split(".")[0]}`);
    throw new AgentConfigError(`Invalid agent configuration in ${file}. ${problems.join("; ")}`);
  }
  const config = result.data;
  const base = dirname(resolve(file));
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  config.keys.privateKeyFile = path(config.keys.privateKeyFile);
  config.keys.stateFile = path(config.keys.stateFile);
  config.keys.backendKeyFile = config.keys.backendKeyFile === undefined ? join(dirname(config.keys.privateKeyFile), "backend-signing-key.json") : path(config.keys.backendKeyFile);
  config.keys.passphrase = env.WRITEBACK_AGENT_KEY_PASSPHRASE ?? config.keys.passphrase;
  config.syncStore.file = path(config.syncStore.file);
  if (config.log.file !== undefined) config.log.file = path(config.log.file);
  config.serviceBus.connectionString = env.WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING ?? config.serviceBus.connectionString;
  if (config.directory.kind === "embedded") config.directory.seedFile = path(config.directory.seedFile);
  else {
    for (const d of config.directory.domains) {
      d.caFile = path(d.caFile);
      d.bindPassword = env[`WRITEBACK_AGENT_BIND_PASSWORD_${envName(d.domain)}`] ?? d.bindPassword;
      if (d.bindPassword === undefined) throw new AgentConfigError(`Invalid agent configuration in ${file}. directory.domains.${d.domain}.bindPassword: set it or WRITEBACK_AGENT_BIND_PASSWORD_${envName(d.domain)}`);
    }
  }
  return config;
}
