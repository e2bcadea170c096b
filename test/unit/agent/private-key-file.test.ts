/**
 * The agent's private key file and key state: written via a temporary file renamed into place
 * (mode 0600 always, never through a symlink), refused at start when others can read them (as
 * ssh does), and `register` takes the admin token from the environment or stdin.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import { registerAgent } from "../../../agent/commands/register.js";
import { AgentKeyError, AgentKeyStore } from "../../../agent/core/agent-key-store.js";
import { testSigningKey } from "../../support/backend-signer.js";

const TENANT = "11111111-2222-4333-8444-555555555555";
let backend: Server;
let backendUrl: string;
const seenTokens: string[] = [];

beforeAll(async () => {
  backend = createServer((req, res) => {
    seenTokens.push(req.headers.authorization ?? "");
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ tenantId: TENANT, registered: true, keyDelivery: "onEnable", backendSigningKey: testSigningKey(TENANT).pin })));
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/api`;
});
afterAll(() => backend.close());

const mode = (file: string) => statSync(file).mode & 0o777;
const register = (privateKeyFile: string, force = true) => registerAgent({ tenantId: TENANT, agentId: "a", backendUrl, adminToken: "t", privateKeyFile, backendKeyFile: join(mkdtempSync(join(tmpdir(), "agent-pin-")), "backend-signing-key.json"), force });

describe("agent register writes the private key safely", () => {
  test("--force over an existing 0644 file leaves a 0600 file, with the new key, and no temporary file behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-key-"));
    const file = join(dir, "agent.pem");
    writeFileSync(file, "old", { mode: 0o644 });
    chmodSync(file, 0o644);
    await register(file);
    assert.equal(mode(file), 0o600);
    assert.match(readFileSync(file, "utf8"), /BEGIN PRIVATE KEY/);
    assert.deepEqual(readdirSync(dir), ["agent.pem"]);
  });

  test("a symlink at the key's path is replaced, never written through", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-key-"));
    const elsewhere = join(dir, "elsewhere.txt");
    writeFileSync(elsewhere, "not yours", { mode: 0o644 });
    const file = join(dir, "agent.pem");
    symlinkSync(elsewhere, file);
    await register(file);
    assert.equal(readFileSync(elsewhere, "utf8"), "not yours", "the link's target is untouched");
    assert.equal(lstatSync(file).isSymbolicLink(), false);
    assert.equal(mode(file), 0o600);
  });

  test("an existing key without --force is refused and left as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-key-"));
    const file = join(dir, "agent.pem");
    writeFileSync(file, "old", { mode: 0o600 });
    await assert.rejects(register(file, false), /--force/);
    assert.equal(readFileSync(file, "utf8"), "old");
  });
});

describe("the agent refuses key files others can read", () => {
  function keyFile(fileMode: number): { dir: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), "agent-key-"));
    const file = join(dir, "agent.pem");
    writeFileSync(file, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    chmodSync(file, fileMode);
    return { dir, file };
  }

  test("a private key with mode 0644 (or 0640, or 0604) is refused with the fix; 0600 and 0400 are used", async () => {
    for (const bad of [0o644, 0o640, 0o604, 0o660]) {
      const { dir, file } = keyFile(bad);
      await assert.rejects(AgentKeyStore.open({ privateKeyFile: file, stateFile: join(dir, "state.json") }), (e: unknown) => e instanceof AgentKeyError && e.message.includes("chmod 600") && e.message.includes(bad.toString(8)));
    }
    for (const good of [0o600, 0o400]) {
      const { dir, file } = keyFile(good);
      const store = await AgentKeyStore.open({ privateKeyFile: file, stateFile: join(dir, "state.json") });
      assert.equal(store.privateKey.asymmetricKeyType, "rsa");
    }
  });

  test("a key state file readable by others is refused too; a missing one is fine", async () => {
    const { dir, file } = keyFile(0o600);
    const state = join(dir, "state.json");
    writeFileSync(state, "{}", { mode: 0o600 });
    chmodSync(state, 0o644);
    await assert.rejects(AgentKeyStore.open({ privateKeyFile: file, stateFile: state }), (e: unknown) => e instanceof AgentKeyError && e.message.includes(state));
    chmodSync(state, 0o600);
    await AgentKeyStore.open({ privateKeyFile: file, stateFile: state });
    assert.ok(!existsSync(join(dir, "missing.json")));
    await AgentKeyStore.open({ privateKeyFile: file, stateFile: join(dir, "missing.json") });
  });
});

describe("register's admin token: environment or stdin, --token warns", () => {
  const root = resolve(import.meta.dirname, "../../..");
  function configFile(): { file: string; key: string } {
    const dir = mkdtempSync(join(tmpdir(), "agent-reg-"));
    const file = join(dir, "agent.json");
    writeFileSync(file, JSON.stringify({ tenantId: TENANT, backendUrl, serviceBus: {}, keys: { privateKeyFile: "key.pem", stateFile: "keys.json" }, directory: { kind: "embedded", seedFile: "seed.json" }, syncStore: { file: "sync.json" } }));
    return { file, key: join(dir, "key.pem") };
  }
  function agent(args: string[], o: { stdin?: string; env?: Record<string, string> } = {}): Promise<{ code: number; out: string; err: string }> {
    return new Promise((done, fail) => {
      const env = { ...process.env, ...o.env };
      delete env.WRITEBACK_ADMIN_TOKEN;
      Object.assign(env, o.env);
      const child = spawn(process.execPath, ["--import", "tsx", "agent/main.ts", ...args], { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("error", fail);
      child.on("exit", (code) => done({ code: code ?? 1, out, err }));
      child.stdin.end(o.stdin ?? "");
    });
  }

  test("piped on stdin: registered, no warning; from the environment: the same; --token: works, with a warning", async () => {
    const viaStdin = configFile();
    const a = await agent(["register", "-c", viaStdin.file], { stdin: "token-from-stdin\n" });
    assert.equal(a.code, 0, a.err);
    assert.ok(seenTokens.includes("Bearer token-from-stdin"));
    assert.doesNotMatch(a.err, /warning/);
    assert.equal(mode(viaStdin.key), 0o600);

    const viaEnv = configFile();
    const b = await agent(["register", "-c", viaEnv.file], { env: { WRITEBACK_ADMIN_TOKEN: "token-from-env" } });
    assert.equal(b.code, 0, b.err);
    assert.ok(seenTokens.includes("Bearer token-from-env"));

    const viaFlag = configFile();
    const c = await agent(["register", "-c", viaFlag.file, "--token", "token-from-flag"]);
    assert.equal(c.code, 0, c.err);
    assert.match(c.err, /warning: --token shows the admin token in the process list/);
    assert.doesNotMatch(c.err, /token-from-flag/);

    const none = configFile();
    const d = await agent(["register", "-c", none.file]);
    assert.equal(d.code, 2);
    assert.match(d.err, /WRITEBACK_ADMIN_TOKEN, or piped on stdin/);
  });
});
