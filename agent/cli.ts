// The agent's command line (commander): one sub-command per task, each with its own --help.
import { Command, CommanderError, Option } from "commander";
import { resolve } from "node:path";
import { AgentConfigError, loadAgentConfig, type AgentConfig } from "./config/agent-config.js";
import { RegisterError } from "./commands/register.js";
import { AgentKeyError } from "./core/agent-key-store.js";
import type { ImportFormat } from "./sync/cloud-user-import.js";
import { SyncFileError } from "./sync/sync-file-format.js";
import { BackendTrustError } from "./core/backend-trust.js";
import { AGENT_VERSION } from "./version.js";

/** What the program writes to and how it exits; tests give their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

/** Exit codes: 0 done, 1 refused or failed, 2 wrong usage (unknown command or flag, missing option). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** What each command does once its flags are parsed; main.ts binds the real implementations. */
export interface CommandHandlers {
  register(config: AgentConfig, o: { backend?: string | undefined; token?: string | undefined; force: boolean }): Promise<number>;
  pinBackendKey(config: AgentConfig, o: { backend?: string | undefined; token?: string | undefined; expectKeyId?: string | undefined }): Promise<number>;
  run(config: AgentConfig, o: { logFile?: string | undefined }): Promise<number>;
  status(config: AgentConfig): Promise<number>;
  check(config: AgentConfig, o: { sample?: string | undefined }): Promise<number>;
  sync(config: AgentConfig, o: { import: string[]; format: ImportFormat; directory: boolean; dryRun: boolean }): Promise<number>;
}

const SECRETS_HELP = `
Secrets come from the environment, never from flags:
  WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING  the agent's Service Bus connection string
  WRITEBACK_AGENT_KEY_PASSPHRASE                 encrypts the private key file (optional)
  WRITEBACK_AGENT_BIND_PASSWORD_<DOMAIN>         the service account's password per domain
  WRITEBACK_ADMIN_TOKEN                          register only: an admin bearer token (or pipe it on stdin)`;

function configOption(): Option {
  return new Option("-c, --config <file>", "the agent's configuration file (JSON)").makeOptionMandatory();
}

/**
 * Builds the program. Usage errors print the command's usage and exit 2; help and version
 * exit 0; a handler's number is the exit code.
 */
export function buildAgentProgram(io: CliIo, handlers: CommandHandlers, setExit: (code: number) => void): Command {
  const program = new Command("writeback-agent");
  const configure = (c: Command) =>
    c
      .exitOverride()
      .showHelpAfterError()
      .configureOutput({ writeOut: io.out, writeErr: io.err });
  configure(program)
    .description("Password writeback on-premises agent: receives sealed password requests from the cloud and writes them to Active Directory over LDAPS.")
    .version(AGENT_VERSION, "-V, --version", "print the agent's version")
    .addHelpText("after", SECRETS_HELP)
    .showSuggestionAfterError(true);

  const load = (file: string): AgentConfig => loadAgentConfig(resolve(file), io.env);

  configure(program.command("register"))
    .description("create this agent's RSA-2048 key pair and upload the public key to the backend")
    .addOption(configOption())
    .option("--backend <url>", "the backend API base URL (default: backendUrl in the configuration)")
    .option("--token <token>", "an admin bearer token (discouraged: flags show in the process list; use WRITEBACK_ADMIN_TOKEN or pipe it on stdin)")
    .option("--force", "replace an existing key pair", false)
    .action(async (o: { config: string; backend?: string; token?: string; force: boolean }) => {
      setExit(await handlers.register(load(o.config), { backend: o.backend, token: o.token, force: o.force }));
    });

  configure(program.command("pin-backend-key"))
    .description("pin the backend's control-signing key again, keeping this agent's key pair (an agent from before signed control messages, or one further behind than a signing-key update carries)")
    .addOption(configOption())
    .option("--backend <url>", "the backend API base URL (default: backendUrl in the configuration)")
    .option("--token <token>", "an admin bearer token (prefer WRITEBACK_ADMIN_TOKEN: flags show in the process list)")
    .option("--expect-key-id <id>", "refuse unless the backend's key has this id (16 hex digits, obtained out of band)")
    .action(async (o: { config: string; backend?: string; token?: string; expectKeyId?: string }) => {
      setExit(await handlers.pinBackendKey(load(o.config), { backend: o.backend, token: o.token, expectKeyId: o.expectKeyId }));
    });

  configure(program.command("run"))
    .description("serve requests from the tenant's queue until SIGTERM/SIGINT (then finish the requests in hand)")
    .addOption(configOption())
    .option("--log-file <file>", "write the JSON-lines log to this file, rotated by size (default: log.file in the configuration, else stdout)")
    .action(async (o: { config: string; logFile?: string }) => {
      setExit(await handlers.run(load(o.config), { logFile: o.logFile }));
    });

  configure(program.command("status"))
    .description("print the agent's local state: key versions, sync store size, directory")
    .addOption(configOption())
    .action(async (o: { config: string }) => {
      setExit(await handlers.status(load(o.config)));
    });

  configure(program.command("check"))
    .description("verify Service Bus access, LDAPS to each DC and the PDC emulator, and the service account's rights")
    .addOption(configOption())
    .option("--sample <dn>", "a user or OU whose rights to check, in every domain (default: sampleDn per domain in the configuration, else the first non-protected user found)")
    .action(async (o: { config: string; sample?: string }) => {
      setExit(await handlers.check(load(o.config), { sample: o.sample }));
    });

  configure(program.command("sync"))
    .description("import cloud users / connector-space objects and populate or refresh the sync store from AD (a running agent then refreshes it incrementally)")
    .addOption(configOption())
    .option("-i, --import <file>", "a file to import (repeatable): the sync import format, or a CSV / JSON (Microsoft Graph) export of the cloud's users with id and onPremisesImmutableId", (v: string, all: string[]) => [...all, v], [] as string[])
    .addOption(new Option("--format <format>", "the import files' format").choices(["auto", "sync", "cloud-csv", "cloud-json"]).default("auto"))
    .option("--no-directory", "only import; do not read AD")
    .option("--dry-run", "report what would change without writing the sync store", false)
    .action(async (o: { config: string; import: string[]; format: ImportFormat; directory: boolean; dryRun: boolean }) => {
      setExit(await handlers.sync(load(o.config), { import: o.import, format: o.format, directory: o.directory, dryRun: o.dryRun }));
    });

  return program;
}

/** Parses argv and runs the command; returns the exit code. Never throws. */
export async function runAgentCli(argv: readonly string[], io: CliIo, handlers: CommandHandlers): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildAgentProgram(io, handlers, (c) => (code = c));
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT.ok;
      return EXIT.usage;
    }
    if (e instanceof AgentConfigError || e instanceof RegisterError || e instanceof AgentKeyError || e instanceof SyncFileError || e instanceof BackendTrustError) {
      io.err(`${e.message}\n`);
      return EXIT.failed;
    }
    // Anything else: its name only (an unexpected error's text might carry a value).
    io.err(`agent failed: ${e instanceof Error ? e.name : "error"}${e instanceof Error && "code" in e && typeof e.code === "string" ? ` (${e.code})` : ""}\n`);
    return EXIT.failed;
  }
}
