import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { EXIT, runAgentCli, type CommandHandlers } from "../../../agent/cli.js";
import type { AgentConfig } from "../../../agent/config/agent-config.js";
import { AGENT_VERSION } from "../../../agent/version.js";
import { BackendTrustError } from "../../../agent/core/backend-trust.js";

function configFile(extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "agent-cli-"));
  const file = join(dir, "agent.json");
  writeFileSync(
    file,
    JSON.stringify({
      tenantId: "11111111-2222-4333-8444-555555555555",
      serviceBus: {},
      keys: { privateKeyFile: "key.pem", stateFile: "keys.json" },
      directory: { kind: "embedded", seedFile: "seed.json" },
      syncStore: { file: "sync.json" },
      ...extra,
    }),
  );
  return file;
}

async function cli(argv: string[], handlers: Partial<CommandHandlers> = {}) {
  let out = "";
  let err = "";
  const calls: { command: string; config: AgentConfig; o?: unknown }[] = [];
  const record =
    (command: string) =>
    async (config: AgentConfig, o?: unknown): Promise<number> => {
      calls.push({ command, config, o });
      return 0;
    };
  const all: CommandHandlers = { register: record("register"), pinBackendKey: record("pinBackendKey"), run: record("run"), status: record("status"), check: record("check"), sync: record("sync"), ...handlers };
  const code = await runAgentCli(argv, { out: (t) => (out += t), err: (t) => (err += t), env: {} }, all);
  return { code, out, err, calls };
}

describe("agent command line", () => {
  test("--version prints the agent's version and exits 0", async () => {
    const r = await cli(["--version"]);
    assert.equal(r.code, EXIT.ok);
    assert.equal(r.out.trim(), AGENT_VERSION);
  });

  test("--help lists every command and the secrets' environment variables; exit 0", async () => {
    const r = await cli(["--help"]);
    assert.equal(r.code, EXIT.ok);
    for (const c of ["register", "run", "status", "check", "sync"]) assert.match(r.out, new RegExp(`\\n  ${c} `));
    assert.match(r.out, /WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING/);
  });

  test("<command> --help prints that command's usage and options; exit 0, nothing run", async () => {
    const r = await cli(["run", "--help"]);
    assert.equal(r.code, EXIT.ok);
    assert.match(r.out, /Usage: writeback-agent run \[options\]/);
    assert.match(r.out, /--log-file <file>/);
    assert.equal(r.calls.length, 0);
  });

  test("an unknown flag is reported with the command's usage; exit 2, nothing run", async () => {
    const r = await cli(["run", "--config", configFile(), "--bogus"]);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /unknown option '--bogus'/);
    assert.match(r.err, /Usage: writeback-agent run \[options\]/);
    assert.equal(r.calls.length, 0);
  });

  test("a missing --config, an unknown command, or no arguments: exit 2 with usage", async () => {
    const missing = await cli(["status"]);
    assert.equal(missing.code, EXIT.usage);
    assert.match(missing.err, /required option '-c, --config <file>'/);
    assert.match(missing.err, /Usage: writeback-agent status/);
    const unknown = await cli(["frobnicate"]);
    assert.equal(unknown.code, EXIT.usage);
    assert.match(unknown.err, /unknown command 'frobnicate'/);
    const none = await cli([]);
    assert.equal(none.code, EXIT.usage);
    assert.match(none.err, /Usage: writeback-agent/);
  });

  test("a command gets the loaded configuration and its flags; its result is the exit code", async () => {
    const file = configFile();
    const r = await cli(["register", "-c", file, "--backend", "http://127.0.0.1:1/api", "--force"], {
      register: async (config, o) => {
        assert.equal(config.tenantId, "11111111-2222-4333-8444-555555555555");
        assert.equal(config.keys.privateKeyFile, join(file, "..", "key.pem"));
        assert.deepEqual(o, { backend: "http://127.0.0.1:1/api", token: undefined, force: true });
        return 1;
      },
    });
    assert.equal(r.code, 1);
  });

  test("pin-backend-key: gets its flags; a missing pin at run is reported with its stable code, exit 1", async () => {
    const file = configFile();
    const r = await cli(["pin-backend-key", "-c", file, "--expect-key-id", "0123456789abcdef"]);
    assert.equal(r.code, EXIT.ok);
    assert.deepEqual(r.calls.map((c) => [c.command, c.o]), [["pinBackendKey", { backend: undefined, token: undefined, expectKeyId: "0123456789abcdef" }]]);
    const help = await cli(["--help"]);
    assert.match(help.out, /\n {2}pin-backend-key /);
    const notPinned = await cli(["run", "-c", file], {
      run: async () => {
        throw new BackendTrustError("BACKEND_KEY_NOT_PINNED", "BACKEND_KEY_NOT_PINNED: no backend signing key is pinned. Run `agent pin-backend-key`.");
      },
    });
    assert.equal(notPinned.code, EXIT.failed);
    assert.match(notPinned.err, /BACKEND_KEY_NOT_PINNED/);
  });

  test("an invalid configuration: exit 1 with the setting named, never a stack trace", async () => {
    const r = await cli(["status", "--config", configFile({ heartbeatIntervalSeconds: "often" })]);
    assert.equal(r.code, EXIT.failed);
    assert.match(r.err, /heartbeatIntervalSeconds/);
    assert.doesNotMatch(r.err, /\n\s+at /);
  });

  test("an unexpected failure prints the error's name only (its text might hold a value)", async () => {
    const r = await cli(["status", "--config", configFile()], {
      status: async () => {
        throw new TypeError("secret-ish detail");
      },
    });
    assert.equal(r.code, EXIT.failed);
    assert.match(r.err, /agent failed: TypeError/);
    assert.doesNotMatch(r.err, /secret-ish/);
  });
});
