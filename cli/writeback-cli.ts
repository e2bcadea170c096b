import { readFileSync } from "node:fs";
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { TokenCredential } from "@azure/core-auth";
import { isUuid } from "../shared/protocol/ids.js";
import { PRODUCT_VERSION } from "../shared/version.js";
import { ApiError, WritebackApi } from "./writeback-api.js";

/** Where the CLI writes: results to out (stdout), everything else — errors, progress, prompts — to err (stderr). */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** What the CLI reaches beyond its arguments; tests replace them. */
export interface CliDeps {
  /** Signs the operator in (default: @azure/identity, chosen by --sign-in). */
  credential?: (method: SignInMethod, tenantId: string, io: CliIo) => Promise<TokenCredential>;
  /** Service Bus onboarding (default: the namespace through the operator's Azure sign-in). */
  onboarding?: (namespace: string, credential: TokenCredential) => Onboarding;
  /** How often a long call prints that it is still waiting (ms). */
  progressIntervalMs?: number;
}

export interface Onboarding {
  agentRuleExists(tenantId: string): Promise<boolean>;
  onboard(tenantId: string, messageTtlSeconds: number): Promise<{ created: boolean; queue: string; ruleName: string; agentConnectionString: string }>;
}

const SIGN_IN_METHODS = ["auto", "azure-cli", "device-code", "environment"] as const;
export type SignInMethod = (typeof SIGN_IN_METHODS)[number];

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function tenantGuid(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(`"${value.slice(0, 60)}" is not a tenant GUID (the directory/tenant ID, e.g. 2f0b6a37-1c2d-4e5f-8a9b-0c1d2e3f4a5b).`);
  return value.toLowerCase();
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3600) throw new InvalidArgumentError("a whole number of seconds from 1 to 3600.");
  return n;
}

function httpUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === "https:" || url.protocol === "http:") return value;
  } catch {
    // falls through
  }
  throw new InvalidArgumentError("an http(s) URL such as https://func-writeback.azurewebsites.net/api.");
}

function namespaceHost(value: string): string {
  if (!/^[a-z0-9][a-z0-9-]{4,48}[a-z0-9]\.servicebus\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/i.test(value)) {
    throw new InvalidArgumentError("the namespace's host name, <name>.servicebus.windows.net.");
  }
  return value.toLowerCase();
}

async function defaultCredential(method: SignInMethod, tenantId: string, io: CliIo): Promise<TokenCredential> {
  const identity = await import("@azure/identity");
  switch (method) {
    case "azure-cli":
      return new identity.AzureCliCredential({ tenantId });
    case "device-code":
      return new identity.DeviceCodeCredential({ tenantId, userPromptCallback: (info) => io.err(info.message) });
    case "environment":
      return new identity.EnvironmentCredential();
    case "auto":
      return new identity.ChainedTokenCredential(new identity.EnvironmentCredential(), new identity.AzureCliCredential({ tenantId }));
  }
}

async function defaultOnboarding(namespace: string, credential: TokenCredential): Promise<Onboarding> {
  const { agentRuleExists, createAdministrationClient, onboardTenant } = await import("../shared/adapters/servicebus/tenant-onboarding.js");
  const admin = createAdministrationClient({ fullyQualifiedNamespace: namespace, credential });
  return {
    agentRuleExists: (tenantId) => agentRuleExists(admin, tenantId),
    onboard: (tenantId, messageTtlSeconds) => onboardTenant(admin, namespace, { tenantId, repliesQueue: "replies", eventsQueue: "agent-events", messageTtlSeconds }),
  };
}

/** Prints "still waiting" to stderr while a call that waits on the agent runs. */
async function withProgress<T>(io: CliIo, what: string, intervalMs: number, work: Promise<T>): Promise<T> {
  const started = Date.now();
  io.err(`${what}…`);
  const timer = setInterval(() => io.err(`  still waiting for the agent (${Math.round((Date.now() - started) / 1000)} s; the API gives up after RELAY_REPLY_TIMEOUT_MS)`), intervalMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

interface GlobalOptions {
  api: string;
  token: string;
  scope: string;
  signIn: SignInMethod;
}

/**
 * `writeback <command>`: the operator CLI. Arguments are checked before anything is sent;
 * usage errors exit 2 (with a suggestion for a mistyped command or flag), refusals and failures
 * exit 1 naming the error code, and only results go to stdout.
 */
export async function main(argv: string[], env: Record<string, string | undefined>, io: CliIo, deps: CliDeps = {}): Promise<number> {
  const progressMs = deps.progressIntervalMs ?? 5000;
  const credentialFor = deps.credential ?? defaultCredential;
  let exit: number = EXIT.ok;

  const program = new Command("writeback")
    .description("Operate password writeback: tenant status, enable/disable, key rotation, Service Bus onboarding.")
    .version(PRODUCT_VERSION, "-V, --version", "print the CLI's version")
    .addOption(new Option("--api <url>", "the API's base URL (env WRITEBACK_API_URL; default http://127.0.0.1:7071/api)").argParser(httpUrl))
    .addOption(new Option("--token <jwt>", "an admin bearer token, for automation (env WRITEBACK_ADMIN_TOKEN); without it the CLI signs you in"))
    .addOption(new Option("--scope <scope>", "what to sign in for: api://<API app id>/.default (env WRITEBACK_API_SCOPE)"))
    .addOption(new Option("--sign-in <method>", "how to sign in without --token").choices(SIGN_IN_METHODS).default("auto"))
    .showHelpAfterError("(add --help for usage)")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, "")), writeErr: (s) => io.err(s.replace(/\n$/, "")) });

  const apiFor = async (tenantId: string): Promise<WritebackApi> => {
    const o = program.opts<Partial<GlobalOptions>>();
    const g = { api: o.api ?? env.WRITEBACK_API_URL ?? "http://127.0.0.1:7071/api", token: o.token ?? env.WRITEBACK_ADMIN_TOKEN, scope: o.scope ?? env.WRITEBACK_API_SCOPE, signIn: o.signIn ?? "auto" };
    try {
      httpUrl(g.api);
    } catch (e) {
      throw new UsageError(`WRITEBACK_API_URL: ${(e as Error).message}`);
    }
    if (g.token !== undefined && g.token !== "") return new WritebackApi(g.api, g.token);
    if (g.scope === undefined || g.scope === "") {
      throw new UsageError("no token: pass --token (or WRITEBACK_ADMIN_TOKEN), or --scope api://<API app id>/.default (or WRITEBACK_API_SCOPE) to sign in with your Entra ID account (Writeback.Admin role).");
    }
    const credential = await credentialFor(g.signIn, tenantId, io);
    const token = await credential.getToken(g.scope, { tenantId });
    if (token === null) throw new Error("the sign-in returned no token");
    return new WritebackApi(g.api, token.token);
  };
  const print = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  // Checked in each action rather than by commander's mandatory-option check, which would
  // report "--tenant missing" for a mistyped "--tenat" instead of naming the typo.
  const tenantOption = () => new Option("--tenant <id>", "the tenant's directory ID (GUID), required").argParser(tenantGuid);
  const tenantOf = (o: { tenant?: string }): string => {
    if (o.tenant === undefined) throw new UsageError("required option '--tenant <id>' not specified");
    return o.tenant;
  };

  program
    .command("status")
    .description("settings, agent status and policy, key versions")
    .addOption(tenantOption())
    .action(async (o: { tenant?: string }) => {
      const tenant = tenantOf(o);
      print(await (await apiFor(tenant)).status(tenant));
    });

  program
    .command("enable")
    .description("turn writeback on; the agent receives and acknowledges a fresh package key first (waits for it)")
    .addOption(tenantOption())
    .option("--allow-unlock", "also allow unlocking an account without a reset")
    .option("--no-allow-unlock", "do not allow unlock without a reset")
    .action(async (o: { tenant?: string; allowUnlock?: boolean }, cmd: Command) => {
      const tenant = tenantOf(o);
      const api = await apiFor(tenant);
      const named = cmd.getOptionValueSource("allowUnlock") === "cli";
      // Only what is named changes: without the flag, the tenant's unlock option stays as it is.
      const current = named ? undefined : await api.status(tenant);
      const allowUnlockWithoutReset = named ? o.allowUnlock === true : current?.allowUnlockWithoutReset === true;
      print(await withProgress(io, "enabling writeback: delivering a fresh package key to the agent", progressMs, api.setSettings(tenant, { enabled: true, allowUnlockWithoutReset })));
    });

  program
    .command("disable")
    .description("turn writeback off; the agent discards its package keys (the unlock option is kept)")
    .addOption(tenantOption())
    .action(async (o: { tenant?: string }) => {
      const tenant = tenantOf(o);
      const api = await apiFor(tenant);
      const current = await api.status(tenant);
      print(await withProgress(io, "disabling writeback: telling the agent to discard its keys", progressMs, api.setSettings(tenant, { enabled: false, allowUnlockWithoutReset: current.allowUnlockWithoutReset === true })));
    });

  program
    .command("rotate-keys")
    .description("rotate the tenant's package key now (the agent must acknowledge it)")
    .addOption(tenantOption())
    .action(async (o: { tenant?: string }) => {
      const tenant = tenantOf(o);
      const api = await apiFor(tenant);
      print(await withProgress(io, "rotating the package key", progressMs, api.rotateKeys(tenant)));
    });

  const banned = program.command("banned-passwords").description("the tenant's custom banned-password terms and the check's mode (enforce or audit)");
  banned
    .command("list")
    .description("the mode, the custom terms and the global list's size")
    .addOption(tenantOption())
    .action(async (o: { tenant?: string }) => {
      const tenant = tenantOf(o);
      const r = await (await apiFor(tenant)).bannedTerms(tenant);
      io.out(`mode: ${r.mode}; ${r.customTerms.length} of at most ${r.limits.maxTerms} custom terms; global list: ${r.globalList.count} terms from ${r.globalList.package} ${r.globalList.version}`);
      for (const term of r.customTerms) io.out(term);
    });
  for (const action of ["add", "remove"] as const) {
    banned
      .command(action)
      .description(`${action} custom terms (arguments, and with --file one a line; blank lines and # comments skipped)`)
      .argument("[terms...]", "the terms")
      .addOption(tenantOption())
      .option("--file <path>", "a file of terms, one a line")
      .action(async (args: string[], o: { tenant?: string; file?: string }) => {
        const tenant = tenantOf(o);
        const terms = termsOf(args, o.file);
        if (terms.length === 0) throw new UsageError(`banned-passwords ${action}: give at least one term (or --file)`);
        const r = await (await apiFor(tenant)).changeBannedTerms(tenant, action === "add" ? { add: terms } : { remove: terms });
        io.out(`${action === "add" ? `added ${r.added}` : `removed ${r.removed}`}; ${r.customTerms.length} custom terms now`);
      });
  }
  banned
    .command("mode")
    .description("enforce (refuse banned passwords) or audit (relay them, record that they would have been refused)")
    .addArgument(new Argument("<mode>", "enforce or audit").choices(["enforce", "audit"]))
    .addOption(tenantOption())
    .action(async (mode: "enforce" | "audit", o: { tenant?: string }) => {
      const tenant = tenantOf(o);
      const api = await apiFor(tenant);
      // Only the mode changes: the other settings are sent back as they are.
      const status = await api.status(tenant);
      await api.setSettings(tenant, { enabled: status.enabled === true, allowUnlockWithoutReset: status.allowUnlockWithoutReset === true, bannedPasswordMode: mode });
      io.out(`banned-password check: ${mode}`);
    });

  program
    .command("onboard-tenant")
    .description("create the tenant's Service Bus queue and its agent's SAS rule (uses your Azure sign-in); prints the agent's connection string once")
    .addOption(tenantOption())
    .addOption(new Option("--namespace <host>", "the Service Bus namespace, <name>.servicebus.windows.net").makeOptionMandatory().argParser(namespaceHost))
    .addOption(new Option("--ttl-seconds <n>", "how long a request may wait on the relay").default(120).argParser(positiveSeconds))
    .option("--force", "replace an existing agent rule (its key): the running agent stops until it gets the new connection string")
    .action(async (o: { tenant?: string; namespace: string; ttlSeconds: number; force?: boolean }) => {
      const tenant = tenantOf(o);
      const credential = await credentialFor(program.opts<Partial<GlobalOptions>>().signIn ?? "auto", tenant, io);
      const onboarding = deps.onboarding?.(o.namespace, credential) ?? (await defaultOnboarding(o.namespace, credential));
      if (o.force !== true && (await onboarding.agentRuleExists(tenant))) {
        io.err(
          `error ALREADY_ONBOARDED: tenant-${tenant} already has its agent's SAS rule. Onboarding again replaces the key: the running agent's connection string stops working and it receives no requests until its WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING is updated. Re-run with --force to replace it.`,
        );
        exit = EXIT.failed;
        return;
      }
      const result = await onboarding.onboard(tenant, o.ttlSeconds);
      io.err(`${result.created ? "Created" : "Updated"} queue ${result.queue} with agent rule ${result.ruleName}.`);
      io.err("Agent connection string (store it in the agent's WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING; it is not shown again):");
      io.out(result.agentConnectionString);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT.ok;
      // Commander has already written the message (and a suggestion) to stderr.
      return e.code === "commander.executeSubCommandAsync" ? EXIT.failed : EXIT.usage;
    }
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof ApiError) {
      io.err(`error ${e.code}: ${e.message}`);
      return EXIT.failed;
    }
    io.err(`error: ${e instanceof Error ? `${e.name === "Error" ? "" : `${e.name}: `}${e.message}` : "failed"}`);
    return EXIT.failed;
  }
}

/** Terms from the command line and, with --file, one a line (blank lines and # comments skipped). */
function termsOf(args: string[], file: string | undefined): string[] {
  const fromFile = file === undefined ? [] : readFileSync(file, "utf8").split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  return [...args, ...fromFile];
}

class UsageError extends Error {
  override readonly name = "UsageError";
}
