import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "vitest";
import { loadFunctions } from "../../../dev/functions-host/load-functions.js";
import { ERROR_CATALOG } from "../../../shared/errors/catalog.js";
import { MAX_CLOUD_ANCHOR_BYTES, MAX_PASSWORD_BYTES_TOGETHER, MAX_PASSWORD_CHARS, MAX_USER_PRINCIPAL_NAME_BYTES, userSchema } from "../../../shared/http/request-schemas.js";

const openapi = JSON.parse(readFileSync(new URL("../../../shared/http/openapi.json", import.meta.url), "utf8")) as {
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
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
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
