import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, test } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import { main, type CliDeps, type Onboarding } from "../../../cli/writeback-cli.js";
import { PRODUCT_VERSION } from "../../../shared/version.js";

const TENANT = "2f0b6a37-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

/** A stand-in for the writeback API over real HTTP: records what the CLI sends. */
interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}
let server: Server;
let api = "";
let seen: Seen[] = [];
let settings = { enabled: false, allowUnlockWithoutReset: true };
let putDelayMs = 0;
let answer: { status: number; body: unknown } | undefined;

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length === 0 ? undefined : (JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const b = await body(req);
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, body: b });
      const reply = (status: number, json: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
      if (answer !== undefined) return reply(answer.status, answer.body);
      if (req.method === "GET") return reply(200, { tenantId: TENANT, ...settings });
      if (req.method === "PUT") {
        await new Promise((r) => setTimeout(r, putDelayMs));
        settings = b as typeof settings;
        return reply(200, { tenantId: TENANT, ...settings });
      }
      return reply(200, { rotated: true });
    })();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen = [];
  settings = { enabled: false, allowUnlockWithoutReset: true };
  putDelayMs = 0;
  answer = undefined;
});

async function run(args: string[], deps: CliDeps = {}, env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) }, deps);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
const withToken = (...args: string[]) => ["--api", api, "--token", "admin-token", ...args];

describe("operator CLI: parsing and usage", () => {
  test("--version and per-command help go to stdout and exit 0", async () => {
    const v = await run(["--version"]);
    assert.equal(v.code, 0);
    assert.equal(v.out.trim(), PRODUCT_VERSION);
    const help = await run(["enable", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /Usage: writeback enable \[options\]/);
    assert.match(help.out, /--tenant <id>/);
    assert.match(help.out, /--allow-unlock/);
    const top = await run(["--help"]);
    for (const c of ["status", "enable", "disable", "rotate-keys", "onboard-tenant"]) assert.match(top.out, new RegExp(c));
  });

  test("a mistyped command or flag is refused with a suggestion, on stderr, exit 2, before any request", async () => {
    const typo = await run(withToken("statsu", "--tenant", TENANT));
    assert.equal(typo.code, 2);
    assert.match(typo.err, /unknown command 'statsu'/);
    assert.match(typo.err, /Did you mean status\?/);
    assert.equal(typo.out, "");
    const flag = await run(withToken("status", "--tenat", TENANT));
    assert.equal(flag.code, 2);
    assert.match(flag.err, /unknown option '--tenat'/);
    assert.match(flag.err, /Did you mean --tenant\?/);
    assert.equal(seen.length, 0);
  });

  test("values are checked before any network call: --tenant abc is not a tenant GUID; --tenant is required", async () => {
    const bad = await run(withToken("status", "--tenant", "abc"));
    assert.equal(bad.code, 2);
    assert.match(bad.err, /"abc" is not a tenant GUID/);
    const missing = await run(withToken("rotate-keys"));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /required option '--tenant <id>' not specified/);
    const ns = await run(["onboard-tenant", "--tenant", TENANT, "--namespace", "not a host"], { credential: async () => fakeCredential([]), onboarding: () => assert.fail("no onboarding with a bad namespace") });
    assert.equal(ns.code, 2);
    assert.match(ns.err, /servicebus\.windows\.net/);
    const url = await run(["--api", "ftp://x", "status", "--tenant", TENANT]);
    assert.equal(url.code, 2);
    assert.equal(seen.length, 0);
  });
});

describe("operator CLI: against the API", () => {
  test("status prints the API's JSON on stdout; API errors go to stderr with their code, exit 1", async () => {
    const ok = await run(withToken("status", "--tenant", TENANT.toUpperCase()));
    assert.equal(ok.code, 0);
    assert.equal((JSON.parse(ok.out) as { tenantId: string }).tenantId, TENANT);
    assert.equal(seen[0]?.url, `/api/v1/tenants/${TENANT}/writeback`);
    assert.equal(seen[0]?.authorization, "Bearer admin-token");
    answer = { status: 503, body: { error: { code: "AGENT_OFFLINE", message: "The on-premises service is unavailable.", requestId: "x" } } };
    const failed = await run(withToken("status", "--tenant", TENANT));
    assert.equal(failed.code, 1);
    assert.equal(failed.out, "");
    assert.match(failed.err, /error AGENT_OFFLINE: The on-premises service is unavailable\./);
  });

  test("enable and disable change only what is named: the unlock option stays unless --allow-unlock / --no-allow-unlock", async () => {
    assert.equal((await run(withToken("enable", "--tenant", TENANT))).code, 0);
    assert.deepEqual(seen.find((s) => s.method === "PUT")?.body, { enabled: true, allowUnlockWithoutReset: true });
    seen = [];
    assert.equal((await run(withToken("disable", "--tenant", TENANT))).code, 0);
    assert.deepEqual(seen.find((s) => s.method === "PUT")?.body, { enabled: false, allowUnlockWithoutReset: true });
    seen = [];
    assert.equal((await run(withToken("enable", "--tenant", TENANT, "--no-allow-unlock"))).code, 0);
    assert.deepEqual(seen.map((s) => s.method), ["PUT"], "a named option needs no read first");
    assert.deepEqual(seen[0]?.body, { enabled: true, allowUnlockWithoutReset: false });
    seen = [];
    assert.equal((await run(withToken("enable", "--tenant", TENANT, "--allow-unlock"))).code, 0);
    assert.deepEqual(seen[0]?.body, { enabled: true, allowUnlockWithoutReset: true });
  });

  test("while enable waits for the agent, progress lines go to stderr; the result to stdout", async () => {
    putDelayMs = 700;
    const r = await run(withToken("enable", "--tenant", TENANT), { progressIntervalMs: 200 });
    assert.equal(r.code, 0);
    assert.match(r.err, /enabling writeback: delivering a fresh package key to the agent…/);
    assert.ok((r.err.match(/still waiting for the agent/g) ?? []).length >= 2, r.err);
    assert.equal((JSON.parse(r.out) as { enabled: boolean }).enabled, true);
  });

  test("without --token the CLI signs in for --scope in the route's tenant and sends that token; without a scope it says what to pass", async () => {
    const scopes: { scope: string | string[]; tenantId?: string | undefined }[] = [];
    const used: { method: string; tenantId: string }[] = [];
    const r = await run(["--api", api, "--scope", "api://11111111-2222-4333-8444-555555555555/.default", "--sign-in", "azure-cli", "status", "--tenant", TENANT], {
      credential: async (method, tenantId) => {
        used.push({ method, tenantId });
        return fakeCredential(scopes);
      },
    });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(used, [{ method: "azure-cli", tenantId: TENANT }]);
    assert.deepEqual(scopes, [{ scope: "api://11111111-2222-4333-8444-555555555555/.default", tenantId: TENANT }]);
    assert.equal(seen[0]?.authorization, "Bearer signed-in-token");
    const none = await run(["--api", api, "status", "--tenant", TENANT]);
    assert.equal(none.code, 2);
    assert.match(none.err, /--token .*--scope api:\/\/<API app id>\/\.default/);
    const env = await run(["status", "--tenant", TENANT], {}, { WRITEBACK_API_URL: api, WRITEBACK_ADMIN_TOKEN: "env-token" });
    assert.equal(env.code, 0);
    assert.equal(seen.at(-1)?.authorization, "Bearer env-token");
    const badMethod = await run(["--sign-in", "password", "status", "--tenant", TENANT]);
    assert.equal(badMethod.code, 2);
    assert.match(badMethod.err, /Allowed choices are auto, azure-cli, device-code, environment/);
  });
});

describe("operator CLI: onboard-tenant", () => {
  function fakeOnboarding(exists: boolean): { onboarding: () => Onboarding; calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      onboarding: () => ({
        agentRuleExists: async (t) => {
          calls.push(`exists ${t}`);
          return exists;
        },
        onboard: async (t, ttl) => {
          calls.push(`onboard ${t} ${ttl}`);
          return { created: !exists, queue: `tenant-${t}`, ruleName: `agent-${t}`, agentConnectionString: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=agent;SharedAccessKey=k" };
        },
      }),
    };
  }
  const args = ["onboard-tenant", "--tenant", TENANT, "--namespace", "sb-writeback.servicebus.windows.net"];

  test("a first onboarding prints the agent's connection string once, on stdout", async () => {
    const f = fakeOnboarding(false);
    const r = await run(args, { credential: async () => fakeCredential([]), onboarding: f.onboarding });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(f.calls, [`exists ${TENANT}`, `onboard ${TENANT} 120`]);
    assert.match(r.out, /^Endpoint=sb:\/\//);
    assert.match(r.err, /Created queue tenant-/);
  });

  test("an existing agent key is not replaced without --force, and the refusal says what replacing breaks", async () => {
    const f = fakeOnboarding(true);
    const refused = await run(args, { credential: async () => fakeCredential([]), onboarding: f.onboarding });
    assert.equal(refused.code, 1);
    assert.deepEqual(f.calls, [`exists ${TENANT}`]);
    assert.match(refused.err, /ALREADY_ONBOARDED/);
    assert.match(refused.err, /running agent's connection string stops working/);
    assert.match(refused.err, /--force/);
    assert.equal(refused.out, "");
    const forced = await run([...args, "--force", "--ttl-seconds", "300"], { credential: async () => fakeCredential([]), onboarding: f.onboarding });
    assert.equal(forced.code, 0);
    assert.deepEqual(f.calls.slice(1), [`onboard ${TENANT} 300`]);
    assert.match(forced.err, /Updated queue/);
  });
});

function fakeCredential(scopes: { scope: string | string[]; tenantId?: string | undefined }[]): TokenCredential {
  return {
    getToken: async (scope, options) => {
      scopes.push({ scope, tenantId: options?.tenantId });
      return { token: "signed-in-token", expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}
