import assert from "node:assert/strict";
import { request } from "node:http";
import { afterAll, beforeAll, describe, test } from "vitest";
import { startLocalRunner, type LocalRunner } from "../../../../dev/functions-host/local-runner.js";
import type { FunctionDefinition } from "../../../../shared/adapters/functions/registry.js";
import { MAX_BODY_BYTES } from "../../../../shared/http/pipeline.js";
import { jsonResult } from "../../../../shared/http/responses.js";

let runner: LocalRunner;

const functions: FunctionDefinition[] = [
  {
    kind: "http",
    name: "echo",
    methods: ["POST", "GET"],
    route: "v1/things/{thingId}/echo",
    // Reports what a handler reads of the request, the way the pipeline reads it.
    handler: async (req, context) =>
      jsonResult(200, {
        method: req.method,
        url: req.url,
        thingId: req.params.thingId,
        contentType: req.headers.get("Content-Type"),
        custom: req.headers.get("X-CUSTOM"),
        missing: req.headers.get("x-missing"),
        body: await req.text(),
        invocationId: context.invocationId,
      }),
  },
  { kind: "http", name: "boom", methods: ["GET"], route: "v1/boom", handler: async () => Promise.reject(new Error("secret-ish detail")) },
];

function call(method: string, path: string, headers: Record<string, string | string[]> = {}, body?: string | Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${runner.url.replace(/\/api$/, "")}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function assertError(res: { status: number; json: Record<string, unknown> }, status: number, code: string): void {
  assert.equal(res.status, status);
  assert.equal((res.json.error as { code: string }).code, code);
}

describe("local runner: serves registered HTTP functions like the host", () => {
  beforeAll(async () => {
    runner = await startLocalRunner({ functions, port: 0, settings: {} });
  });
  afterAll(() => runner.close());

  test("hands the handler the method, url, route params, headers (any case) and body", async () => {
    const body = JSON.stringify({ hello: "wörld" });
    const res = await call("POST", "/api/v1/things/a%20b/echo?x=1", { "Content-Type": "application/json", "x-custom": ["one", "two"] }, body);
    assert.equal(res.status, 200);
    assert.equal(res.json.method, "POST");
    assert.match(String(res.json.url), /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/things\/a%20b\/echo\?x=1$/);
    assert.equal(res.json.thingId, "a b");
    assert.equal(res.json.contentType, "application/json");
    assert.equal(res.json.custom, "one, two");
    assert.equal(res.json.missing, null);
    assert.equal(res.json.body, body);
    assert.match(String(res.json.invocationId), /^[0-9a-f-]{36}$/);
  });

  test("a request without a body reads as empty text", async () => {
    const res = await call("GET", "/api/v1/things/x/echo");
    assert.equal(res.status, 200);
    assert.equal(res.json.body, "");
  });

  test("unknown routes and methods get the catalog's codes", async () => {
    const missing = await call("GET", "/api/v1/nowhere");
    assertError(missing, 404, "NOT_FOUND");
    const wrongMethod = await call("DELETE", "/api/v1/things/x/echo");
    assertError(wrongMethod, 405, "METHOD_NOT_ALLOWED");
  });

  test("a route parameter that is not validly percent-encoded is a client error", async () => {
    const res = await call("GET", "/api/v1/things/%E0%A4%A/echo");
    assertError(res, 400, "INVALID_REQUEST");
  });

  test("a body far over the limit is refused without reaching the handler", async () => {
    const res = await call("POST", "/api/v1/things/x/echo", { "Content-Type": "application/json" }, Buffer.alloc(MAX_BODY_BYTES * 4, 0x61));
    assertError(res, 413, "PAYLOAD_TOO_LARGE");
  });

  test("a handler that throws becomes INTERNAL_ERROR, without its message", async () => {
    const res = await call("GET", "/api/v1/boom");
    assertError(res, 500, "INTERNAL_ERROR");
    assert.doesNotMatch(JSON.stringify(res.json), /secret-ish/);
  });
});
