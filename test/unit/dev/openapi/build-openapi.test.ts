import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "vitest";
import { fileURLToPath } from "node:url";
import { buildOpenApiDocument, OPENAPI_FILE, OPERATION_BODIES, REQUEST_COMPONENTS, serialize } from "../../../../dev/openapi/build-openapi.js";
import { loadFunctions } from "../../../../dev/functions-host/load-functions.js";
import { ERROR_CATALOG } from "../../../../shared/errors/catalog.js";
import { MAX_CLOUD_ANCHOR_BYTES, MAX_PASSWORD_BYTES_TOGETHER, MAX_PASSWORD_CHARS, MAX_USER_PRINCIPAL_NAME_BYTES, userSchema } from "../../../../shared/http/request-schemas.js";

const openapi = JSON.parse(readFileSync(new URL("../../../../shared/http/openapi.json", import.meta.url), "utf8")) as {
  paths: Record<string, Record<string, { operationId: string }>>;
  components: { schemas: { ErrorCode: { enum: string[] } } };
};

test("the OpenAPI document lists exactly the registered HTTP routes and methods", async () => {
  const functions = await loadFunctions();
  const registered = new Set<string>();
  for (const f of functions) {
    if (f.kind !== "http") continue;
    for (const m of f.methods) registered.add(`${m.toLowerCase()} /${f.route}`);
  }
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(openapi.paths)) for (const method of Object.keys(ops)) documented.add(`${method} ${path}`);
  assert.deepEqual([...documented].sort(), [...registered].sort());
});

test("operationIds are the function names", async () => {
  const functions = await loadFunctions();
  const names = new Set(functions.filter((f) => f.kind === "http").map((f) => f.name));
  for (const ops of Object.values(openapi.paths)) for (const op of Object.values(ops)) assert.ok(names.has(op.operationId), op.operationId);
});

test("the documented error codes are exactly the catalog's", () => {
  assert.deepEqual([...openapi.components.schemas.ErrorCode.enum].sort(), Object.keys(ERROR_CATALOG).sort());
});

test("the README documents every error code", () => {
  const readme = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");
  for (const code of Object.keys(ERROR_CATALOG)) assert.ok(readme.includes(`\`${code}\``), code);
});

test("the OpenAPI document states the schemas' limits, in characters and in UTF-8 bytes", () => {
  const schemas = (openapi as unknown as { components: { schemas: Record<string, { properties?: Record<string, Record<string, unknown>> } & Record<string, unknown>> } }).components.schemas;
  const anchor = schemas.User?.properties?.cloudAnchor;
  const upn = schemas.User?.properties?.userPrincipalName;
  assert.equal(anchor?.maxLength, 64);
  assert.equal(anchor?.["x-maxUtf8Bytes"], MAX_CLOUD_ANCHOR_BYTES);
  assert.equal(upn?.maxLength, 113);
  assert.equal(upn?.["x-maxUtf8Bytes"], MAX_USER_PRINCIPAL_NAME_BYTES);
  assert.equal(schemas.Password?.maxLength, MAX_PASSWORD_CHARS);
  assert.equal(schemas.Password?.["x-maxUtf8BytesTogether"], MAX_PASSWORD_BYTES_TOGETHER);
  assert.match(String(schemas.Password?.description), new RegExp(`${MAX_PASSWORD_BYTES_TOGETHER} bytes`));
  // The character limits are the schemas' own.
  const shape = userSchema.shape;
  assert.equal(shape.cloudAnchor.maxLength, 64);
  assert.equal(shape.userPrincipalName.maxLength, 113);
});

// ---------------------------------------------------------------- generated contract

type Operation = {
  operationId: string;
  tags?: string[];
  requestBody?: { content: { "application/json": { schema: { $ref: string }; examples?: Record<string, { value: unknown }> } } };
  responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: { "application/json": { examples?: Record<string, { value: { error: { code: string } } }> } } }>;
};
const doc = JSON.parse(readFileSync(OPENAPI_FILE, "utf8")) as { servers: { url: string; variables?: Record<string, { default: string }> }[]; paths: Record<string, Record<string, Operation>>; info: { license?: { name: string } } };
const operations = Object.values(doc.paths).flatMap((ops) => Object.values(ops));

test("the file is exactly what the zod schemas and the error catalog generate (npm run openapi)", () => {
  assert.equal(readFileSync(OPENAPI_FILE, "utf8"), serialize(buildOpenApiDocument()));
});

const REDOCLY = fileURLToPath(new URL("../../../../node_modules/@redocly/cli/bin/cli.js", import.meta.url));

test("request body schemas come from the pipeline's zod schemas: limits and patterns included", () => {
  const schemas = (JSON.parse(readFileSync(OPENAPI_FILE, "utf8")) as { components: { schemas: Record<string, { properties?: Record<string, { maxLength?: number; minLength?: number; pattern?: string }> }> } }).components.schemas;
  assert.equal(schemas.AgentRegistration?.properties?.publicKeyPem?.maxLength, 2000);
  assert.equal(schemas.AgentRegistration?.properties?.publicKeyPem?.minLength, 100);
  assert.ok(schemas.User?.properties?.userPrincipalName?.pattern, "the UPN pattern");
  // Every operation with a body names the component generated from its route's schema.
  for (const op of operations) {
    const component = OPERATION_BODIES[op.operationId];
    assert.equal(op.requestBody?.content["application/json"].schema.$ref, component === undefined ? undefined : `#/components/schemas/${component}`, op.operationId);
  }
});

test("every request body has examples, and each one passes the zod schema the pipeline uses", () => {
  for (const op of operations) {
    const component = OPERATION_BODIES[op.operationId];
    if (component === undefined) continue;
    const examples = Object.entries(op.requestBody?.content["application/json"].examples ?? {});
    assert.ok(examples.length > 0, `${op.operationId} has no example`);
    for (const [name, example] of examples) {
      const parsed = REQUEST_COMPONENTS[component]?.safeParse(example.value);
      assert.ok(parsed?.success, `${op.operationId}/${name}: ${JSON.stringify(parsed?.error?.issues)}`);
    }
  }
});

test("every error response has an example per code it documents, with that code's status; every code has one somewhere", () => {
  const seen = new Set<string>();
  for (const op of operations) {
    for (const [status, response] of Object.entries(op.responses)) {
      if (Number(status) < 400) continue;
      const examples = Object.values(response.content?.["application/json"].examples ?? {});
      assert.ok(examples.length > 0, `${op.operationId} ${status} has no example`);
      for (const e of examples) {
        const code = e.value.error.code as keyof typeof ERROR_CATALOG;
        assert.equal(String(ERROR_CATALOG[code].status), status, `${op.operationId}: ${code} under ${status}`);
        seen.add(code);
      }
    }
  }
  const unreachable = new Set(["NOT_FOUND", "METHOD_NOT_ALLOWED"]); // answered by the host's router, before any operation
  assert.deepEqual(Object.keys(ERROR_CATALOG).filter((c) => !seen.has(c) && !unreachable.has(c)), []);
});

test("Retry-After is declared on every 429 and 503; a templated https production server and the local one", () => {
  for (const op of operations) {
    for (const status of ["429", "503"]) {
      const r = op.responses[status];
      if (r !== undefined) assert.ok(r.headers?.["Retry-After"], `${op.operationId} ${status}`);
    }
    assert.equal(op.tags?.length, 1, `${op.operationId} has one tag`);
  }
  const production = doc.servers.find((s) => s.url.startsWith("https://{"));
  assert.ok(production?.variables?.host?.default, "https://{host}/api with a default");
  assert.ok(doc.servers.some((s) => s.url === "http://127.0.0.1:7071/api"));
  assert.equal(doc.info.license?.name, "MIT");
  assert.match(readFileSync(new URL("../../../../LICENSE", import.meta.url), "utf8"), /^MIT License/);
});

test("Redocly CLI lints the document clean (errors and warnings)", () => {
  // From the repository root, as `npm run lint:openapi` runs it: redocly.yaml and the ignore file apply.
  const cwd = fileURLToPath(new URL("../../../../", import.meta.url));
  const run = spawnSync(process.execPath, [REDOCLY, "lint", "shared/http/openapi.json"], { cwd, encoding: "utf8", env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" }, timeout: 120_000 });
  const out = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, out);
  assert.doesNotMatch(out, /You have \d+ warnings?/);
  assert.match(out, /is valid/);
});

test("functions/writeback.http: one ready request per HTTP route, each body valid for its route", async () => {
  const text = readFileSync(new URL("../../../../functions/writeback.http", import.meta.url), "utf8");
  const variables = Object.fromEntries([...text.matchAll(/^@(\w+) = (.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const fill = (s: string) => s.replace(/\{\{(\$?\w+)\}\}/g, (_, name: string) => (name === "$guid" || name === "requestId" ? "3f2a6c1e-8b7d-4e5f-a1b2-c3d4e5f6a7b8" : (variables[name] ?? `{{${name}}}`)));
  const requests = text.split(/^###.*$/m).slice(1).map((block) => {
    const lines = block.trim().split("\n");
    const [method, url] = (lines[0] ?? "").split(" ");
    const blank = lines.findIndex((l) => l.trim() === "");
    const body = blank < 0 ? undefined : lines.slice(blank + 1).join("\n").trim();
    return { method: method ?? "", path: new URL(fill(url ?? "")).pathname.replace(/^\/api/, ""), body: body ? (JSON.parse(fill(body)) as unknown) : undefined };
  });
  const routes = [...(await loadFunctions())].filter((f) => f.kind === "http");
  for (const route of routes) {
    for (const method of route.methods) {
      const pattern = new RegExp(`^/${route.route.replace(/\{\w+\}/g, "[^/]+")}$`);
      const sent = requests.filter((r) => r.method === method && pattern.test(r.path));
      assert.ok(sent.length > 0, `no request for ${method} /${route.route}`);
      const component = OPERATION_BODIES[route.name];
      for (const r of sent) {
        if (component === undefined) assert.equal(r.body, undefined, `${route.name} takes no body`);
        else assert.ok(REQUEST_COMPONENTS[component]?.safeParse(r.body).success, `${route.name} body`);
      }
    }
  }
});
