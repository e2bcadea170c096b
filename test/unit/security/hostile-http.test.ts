/**
 * Hostile HTTP input: ≥ 10,000 generated malformed or adversarial requests (fast-check)
 * against every registered POST/PUT/GET handler through the real pipeline, the real use cases,
 * envelope and agent core (in-memory stores). Wrong types, missing and unknown fields, huge
 * strings, deep nesting, invalid UTF-8 bytes, lone surrogates, prototype-pollution keys,
 * passwords of 0–10,000 characters, wrong content types, lying Content-Length, non-JSON,
 * hostile route parameters and tokens.
 *
 * Proves: 0 responses with status ≥ 500; every 4xx is exactly {error:{code,message,requestId}}
 * (plus fields/reason) with a code from the catalog and the catalog's status; Object.prototype
 * is never polluted; no generated password (plain, base64, UTF-16LE, hex, escaped) appears in
 * any response, log line or audit row.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { beforeAll, test } from "vitest";
import fc from "fast-check";
import pkg from "@azure/functions";
import { accountUnlocks } from "../../../functions/account-unlocks.js";
import { agentRegistration } from "../../../functions/agent-registration.js";
import { passwordChanges } from "../../../functions/password-changes.js";
import { passwordOperationStatus } from "../../../functions/password-operation-status.js";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { rotateKeys } from "../../../functions/rotate-keys.js";
import { writebackSettings } from "../../../functions/writeback-settings.js";
import { writebackStatus } from "../../../functions/writeback-status.js";
import { useServices } from "../../../shared/composition/services.js";
import { DEMO_USERS } from "../../support/fixtures.js";
import { ERROR_CATALOG, isErrorCode } from "../../../shared/errors/catalog.js";
import type { HttpHandler } from "../../../shared/http/pipeline.js";
import { CHANNELS, INITIATOR_KINDS } from "../../../shared/domain/operations.js";
import { findSecrets } from "../../support/secret-scan.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

const { HttpRequest, InvocationContext } = pkg;

// ------------------------------------------------------------------ JSON text model
// Bodies are built as a tree and serialized by hand, so they can carry what JSON.stringify
// of a JS object cannot: "__proto__" keys, duplicate keys, lone surrogates, raw fragments.

interface PwSpec {
  /** Fuzzed text around a unique marker; length 0–10,000 overall. */
  head: string;
  tail: string;
  /** Repeat head this many times (long passwords without generating 10,000 random chars). */
  repeat: number;
  /** Too short to carry a marker: the fuzzed text alone. */
  bare: boolean;
}

type Node =
  | { t: "lit"; json: string }
  | { t: "raw"; text: string }
  | { t: "obj"; entries: [string, Node][] }
  | { t: "arr"; items: Node[] }
  | { t: "pw"; spec: PwSpec };

const lit = (v: unknown): Node => ({ t: "lit", json: JSON.stringify(v) });
const raw = (text: string): Node => ({ t: "raw", text });
const obj = (entries: [string, Node][]): Node => ({ t: "obj", entries });

let markerCounter = 0;
function makePassword(spec: PwSpec): string {
  const head = spec.head.repeat(Math.max(1, spec.repeat));
  if (spec.bare) return `${head}${spec.tail}`.slice(0, 10_000);
  markerCounter += 1;
  const marker = `PwMk${markerCounter.toString(36).padStart(5, "0")}${randomBytes(4).toString("hex")}`;
  return `${head.slice(0, 9_000)}${marker}${spec.tail}`;
}

function serialize(node: Node, passwords: string[]): string {
  switch (node.t) {
    case "lit":
      return node.json;
    case "raw":
      return node.text;
    case "arr":
      return `[${node.items.map((i) => serialize(i, passwords)).join(",")}]`;
    case "obj":
      return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialize(v, passwords)}`).join(",")}}`;
    case "pw": {
      const p = makePassword(node.spec);
      passwords.push(p);
      return JSON.stringify(p);
    }
  }
}

// ------------------------------------------------------------------ arbitraries

const LONE_SURROGATES = ["\uD800", "\uDBFF", "\uDC00", "\uDFFF", "a\uD83D", "\uDE00b", "\uDBFF\uDBFF"];
const oddText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme-composite", maxLength: 20 }),
  fc.constantFrom(...LONE_SURROGATES, "\u0000", "\u202E", "\uFEFF", "\u00A0", "e\u0301", "💩", "\uFFFF", "\r\n", "%00", "../../", "${7*7}", "<script>", "' OR 1=1 --", "\\", '"'),
);

const pwSpec: fc.Arbitrary<PwSpec> = fc.oneof(
  // 0–7 chars: too short for a marker (and for the policy).
  { weight: 2, arbitrary: fc.record({ head: fc.oneof(fc.constant(""), oddText.map((s) => s.slice(0, 7))), tail: fc.constant(""), repeat: fc.constant(1), bare: fc.constant(true) }) },
  // Typical lengths, any Unicode (lone surrogates, NUL, controls, combining marks).
  { weight: 3, arbitrary: fc.record({ head: oddText, tail: oddText, repeat: fc.constant(1), bare: fc.constant(false) }) },
  // Near and past the limits: 200–10,000 chars.
  { weight: 2, arbitrary: fc.record({ head: fc.oneof(fc.constantFrom("a", "Ab1!", "é", "💩", "\uD800"), fc.string({ minLength: 1, maxLength: 8 })), tail: oddText, repeat: fc.integer({ min: 50, max: 10_000 }), bare: fc.constant(false) }) },
  // Plausible passwords (weighted up), so many requests reach the agent and the directory.
  { weight: 5, arbitrary: fc.record({ head: fc.constantFrom("Aa1!", "Zz9#", "Pass-", "Ünïcödé-1a"), tail: fc.constantFrom("Xy7$", "-Q1w", "!!Aa11"), repeat: fc.integer({ min: 1, max: 3 }), bare: fc.constant(false) }) },
);

const deepNesting: fc.Arbitrary<Node> = fc.tuple(fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 200, max: 6000 })), fc.constantFrom("[", '{"a":')).map(([n, open]) => raw(open.repeat(n) + "1" + (open === "[" ? "]" : "}").repeat(n)));

const prototypeObject: fc.Arbitrary<Node> = fc.constantFrom(
  raw('{"__proto__":{"polluted":"yes","isAdmin":true}}'),
  raw('{"constructor":{"prototype":{"polluted":"yes"}}}'),
  raw('{"__proto__":null}'),
  raw('{"prototype":{"polluted":"yes"},"toString":"x","hasOwnProperty":1,"valueOf":{}}'),
);

const hostileScalar: fc.Arbitrary<Node> = fc.oneof(
  fc.constantFrom(lit(null), lit(true), lit(false), lit(0), lit(-1), lit(1.5), lit(""), raw("1e999"), raw("-0"), raw("12345678901234567890123"), lit([]), lit({})),
  oddText.map(lit),
  fc.integer({ min: 100, max: 2_000 }).map((n) => lit("x".repeat(n))),
  fc.integer({ min: 2_000, max: 20_000 }).map((n) => lit("é".repeat(n))),
  fc.integer().map(lit),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(lit),
);

const hostileValue: fc.Arbitrary<Node> = fc.letrec<{ v: Node }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    hostileScalar,
    deepNesting,
    prototypeObject,
    fc.array(tie("v"), { maxLength: 4 }).map((items): Node => ({ t: "arr", items })),
    fc.array(fc.tuple(fc.oneof(oddText, fc.constantFrom("__proto__", "constructor", "prototype")), tie("v")), { maxLength: 4 }).map(obj),
  ),
})).v;

/** A field: its valid value most of the time, else hostile, else missing. */
function field(name: string, valid: fc.Arbitrary<Node>): fc.Arbitrary<[string, Node][]> {
  return fc.oneof(
    { weight: 12, arbitrary: valid.map((v): [string, Node][] => [[name, v]]) },
    { weight: 2, arbitrary: hostileValue.map((v): [string, Node][] => [[name, v]]) },
    { weight: 1, arbitrary: fc.constant<[string, Node][]>([]) },
  );
}

const extraKeys: fc.Arbitrary<[string, Node][]> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<[string, Node][]>([]) },
  { weight: 2, arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "isAdmin", "tenantId", "password", "NewPassword"), oddText), hostileValue), { minLength: 1, maxLength: 3 }) },
);

const pw: fc.Arbitrary<Node> = pwSpec.map((spec): Node => ({ t: "pw", spec }));
const demo = DEMO_USERS.filter((u) => ["alice", "bob", "carol", "dave", "eve.admin", "frank", "grace"].includes(u.sAMAccountName));
const userNode: fc.Arbitrary<Node> = fc
  .tuple(
    fc.constantFrom(...demo),
    field("cloudAnchor", fc.oneof(fc.constantFrom(...demo.map((u) => u.cloudAnchor)).map(lit), fc.string({ minLength: 1, maxLength: 70 }).map(lit))),
    fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    field("authType", fc.constantFrom("passwordHashSync", "federated", "passThrough", "cloudOnly").map(lit)),
    extraKeys,
  )
  .map(([u, anchor, keepUpn, authType, extra]) => obj([...anchor, ...(keepUpn ? ([["userPrincipalName", lit(u.userPrincipalName)]] as [string, Node][]) : [["userPrincipalName", lit("no-at-sign")]] as [string, Node][]), ...authType, ...extra]));
const initiatorNode: fc.Arbitrary<Node> = fc
  .tuple(field("kind", fc.constantFrom(...INITIATOR_KINDS).map(lit)), field("channel", fc.constantFrom(...CHANNELS).map(lit)), extraKeys)
  .map(([k, c, e]) => obj([...k, ...c, ...e]));
const requestIdField = field("requestId", fc.oneof(fc.uuid().map(lit), fc.uuid().map((u) => lit(u.toUpperCase())), fc.constant(lit(randomUUID()))));
const bool = fc.boolean().map(lit);

function bodyOf(...parts: fc.Arbitrary<[string, Node][]>[]): fc.Arbitrary<Node> {
  return fc.tuple(fc.tuple(...parts), extraKeys, fc.boolean()).map(([fields, extra, shuffle]) => {
    const entries = [...fields.flat(), ...extra];
    return obj(shuffle ? entries.reverse() : entries);
  });
}

/** A duplicated password key: JSON.parse keeps the last one; both are secrets. */
const duplicatedPassword: fc.Arbitrary<[string, Node][]> = fc.tuple(pw, pw).map(([a, b]): [string, Node][] => [["newPassword", a], ["newPassword", b]]);

let agentPem = "";
const pemJunk = fc.oneof(
  fc.string({ minLength: 100, maxLength: 2000 }).map(lit),
  fc.base64String({ minLength: 100, maxLength: 1800 }).map((b) => lit(`-----BEGIN PUBLIC KEY-----\n${b}\n-----END PUBLIC KEY-----\n`)),
  fc.constant(null).map(() => lit(agentPem)),
  fc.constant(null).map(() => lit(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString())),
  fc.constant(null).map(() => lit(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString())),
  fc.constant(null).map(() => lit(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "pkcs1", format: "pem" }).toString().replace("RSA ", ""))),
);

interface Endpoint {
  name: string;
  handler: HttpHandler;
  method: string;
  role: "operate" | "admin";
  body: fc.Arbitrary<Node> | undefined;
}

const ENDPOINTS: Endpoint[] = [
  { name: "precheck", handler: precheck, method: "POST", role: "operate", body: bodyOf(field("user", userNode)) },
  {
    name: "password-resets",
    handler: passwordResets,
    method: "POST",
    role: "operate",
    body: bodyOf(requestIdField, field("user", userNode), fc.oneof({ weight: 9, arbitrary: field("newPassword", pw) }, { weight: 1, arbitrary: duplicatedPassword }), field("initiator", initiatorNode), field("unlockAccount", bool), field("forceChangeAtNextLogon", bool)),
  },
  {
    name: "password-changes",
    handler: passwordChanges,
    method: "POST",
    role: "operate",
    body: bodyOf(requestIdField, field("user", userNode), field("currentPassword", pw), field("newPassword", pw), field("reason", fc.constantFrom("voluntary", "expired").map(lit)), field("initiator", initiatorNode)),
  },
  { name: "account-unlocks", handler: accountUnlocks, method: "POST", role: "operate", body: bodyOf(requestIdField, field("user", userNode), field("initiator", initiatorNode)) },
  { name: "writeback-settings", handler: writebackSettings, method: "PUT", role: "admin", body: bodyOf(field("enabled", fc.oneof({ weight: 4, arbitrary: fc.constant(lit(true)) }, { weight: 1, arbitrary: bool })), field("allowUnlockWithoutReset", bool)) },
  { name: "agent-registration", handler: agentRegistration, method: "PUT", role: "admin", body: bodyOf(field("publicKeyPem", pemJunk), field("agentId", oddText.map(lit))) },
  { name: "rotate-keys", handler: rotateKeys, method: "POST", role: "admin", body: undefined },
  { name: "password-operation-status", handler: passwordOperationStatus, method: "GET", role: "operate", body: undefined },
  { name: "writeback-status", handler: writebackStatus, method: "GET", role: "admin", body: undefined },
];
const BODY_ENDPOINTS = ENDPOINTS.filter((e) => e.body !== undefined).map((e) => e.name);
const ALL_ENDPOINTS = ENDPOINTS.map((e) => e.name);
function endpointNamed(name: string): Endpoint {
  const e = ENDPOINTS.find((x) => x.name === name);
  if (e === undefined) throw new Error(name);
  return e;
}
/** Endpoint names (not the objects, which hold arbitraries and would bloat failure reports). */
const withBody = (names: string[]) => fc.constantFrom(...names).chain((name) => fc.tuple(fc.constant(name), endpointNamed(name).body ?? fc.constant(undefined)));

// ------------------------------------------------------------------ driving a request

interface Case {
  endpoint: string;
  tenantParam?: string;
  extraParams?: Record<string, string>;
  token?: "operate" | "admin" | "none" | "garbage" | "otherTenant" | "expired" | "wrongRole";
  contentType?: string | null;
  contentLength?: string;
  body?: { kind: "node"; node: Node } | { kind: "text"; text: string } | { kind: "bytes"; bytes: Uint8Array; passwords: string[] } | { kind: "none" };
}

let s: InMemoryStack;
const tokens: Record<string, string | null> = {};
const family: Record<string, number> = {};
const statuses: Record<string, number> = {};
const codes: Record<string, number> = {};
let total = 0;
let passwordsChecked = 0;
let longestPassword = 0;
const allPasswords = new Set<string>();
const problems: string[] = [];
let prototypeNames: string[] = [];

const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_ALL = new RegExp(LONE.source, "g");
const ALLOWED_ERROR_KEYS = new Set(["code", "message", "requestId", "fields", "reason"]);

function protoIsClean(): string | undefined {
  const now = Object.getOwnPropertyNames(Object.prototype).sort();
  if (now.join(",") !== prototypeNames.join(",")) return `Object.prototype gained ${now.filter((n) => !prototypeNames.includes(n)).join(",")}`;
  const probe: Record<string, unknown> = {};
  for (const k of ["polluted", "isAdmin"]) if (probe[k] !== undefined) return `({}).${k} is ${String(probe[k])}`;
  return undefined;
}

async function run(name: string, caseInput: Case): Promise<void> {
  const c = { ...caseInput, endpoint: endpointNamed(caseInput.endpoint) };
  family[name] = (family[name] ?? 0) + 1;
  total += 1;
  const passwords: string[] = [];
  const headers: Record<string, string> = {};
  const role = c.token ?? c.endpoint.role;
  const token = tokens[role === "wrongRole" ? (c.endpoint.role === "admin" ? "operate" : "admin") : role];
  if (token !== null && token !== undefined) headers.authorization = token.startsWith("Bearer") || token.startsWith("bearer") ? token : `Bearer ${token}`;
  let body: { string: string } | { bytes: Uint8Array } | undefined;
  // GET routes take no body (the Functions host discards it): their inputs are params and tokens.
  const b = c.endpoint.method === "GET" ? { kind: "none" as const } : c.body ?? { kind: "none" };
  if (b.kind === "node") body = { string: serialize(b.node, passwords) };
  else if (b.kind === "text") body = { string: b.text };
  else if (b.kind === "bytes") {
    body = { bytes: b.bytes };
    passwords.push(...b.passwords);
  }
  if (c.contentType !== null) headers["content-type"] = c.contentType ?? "application/json";
  if (c.contentLength !== undefined) headers["content-length"] = c.contentLength;
  const params: Record<string, string> = { tenantId: c.tenantParam ?? s.tenantId, ...c.extraParams };
  if (c.endpoint.name === "password-operation-status" && params.requestId === undefined) params.requestId = randomUUID();

  const logStart = s.logs.length;
  const auditStart = s.audit.rows().length;
  const request = new HttpRequest({ method: c.endpoint.method, url: `http://127.0.0.1:7071/api/v1/tenants/x/${c.endpoint.name}`, headers, params, ...(body === undefined ? {} : { body }) });
  let result;
  try {
    // The invocation's logger writes into the stack's log lines, which are scanned for secrets.
    const logHandler = (level: string, ...args: unknown[]) => s.logs.push(`${level} ${args.map(String).join(" ")}`);
    result = await c.endpoint.handler(request, new InvocationContext({ functionName: c.endpoint.name, invocationId: randomUUID(), logHandler }));
  } catch (e) {
    problems.push(`${name}/${c.endpoint.name}: handler threw ${(e as Error).name}`);
    throw e;
  }
  const status = result.status ?? 200;
  statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
  const jsonBody = result.jsonBody as { error?: Record<string, unknown> } | undefined;
  assert.ok(status < 500, `${c.endpoint.name}: status ${status} ${JSON.stringify(jsonBody)} (${s.logs.slice(logStart).join(" ")})`);
  if (status >= 400) {
    assert.ok(jsonBody !== undefined && typeof jsonBody === "object", "a JSON error body");
    assert.deepEqual(Object.keys(jsonBody), ["error"], "only {error}");
    const e = jsonBody.error;
    assert.ok(e !== undefined && typeof e === "object");
    const code = e.code;
    assert.ok(typeof code === "string" && isErrorCode(code), `code ${String(code)} in the catalog`);
    assert.equal(status, ERROR_CATALOG[code].status, `status of ${code}`);
    assert.equal(typeof e.message, "string");
    assert.ok(typeof e.requestId === "string" && e.requestId.length > 0, "requestId");
    for (const k of Object.keys(e)) assert.ok(ALLOWED_ERROR_KEYS.has(k), `unexpected error key ${k}`);
    if (e.fields !== undefined) assert.ok(Array.isArray(e.fields) && e.fields.every((f) => typeof f === "string"), "fields are names");
    codes[code] = (codes[code] ?? 0) + 1;
  }
  const pollution = protoIsClean();
  assert.equal(pollution, undefined, pollution);

  const scanned = passwords.filter((p) => p.length >= 8);
  passwordsChecked += scanned.length;
  for (const p of passwords) {
    allPasswords.add(p);
    longestPassword = Math.max(longestPassword, p.length);
  }
  if (scanned.length > 0) {
    // secretForms() calls encodeURIComponent, which throws on lone surrogates: scan what such a
    // password becomes once encoded (U+FFFD) plus its JSON-escaped form, which keeps them.
    const scannable = scanned.flatMap((p) => (LONE.test(p) ? [p.replace(LONE_ALL, "\uFFFD"), JSON.stringify(p).slice(1, -1)] : [p]));
    const findings = findSecrets(scannable, {
      response: JSON.stringify(result.jsonBody ?? null) + JSON.stringify(result.headers ?? {}),
      logs: s.logs.slice(logStart).join("\n"),
      audit: JSON.stringify(s.audit.rows().slice(auditStart)),
    });
    assert.deepEqual(findings, [], `a generated password leaked (${c.endpoint.name})`);
  }
}

// ------------------------------------------------------------------ families

const CONTENT_TYPES = ["text/plain", "", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "json", "application/json; charset=utf-16", "APPLICATION/JSON", "application/json;", "application/json; charset=latin1", "application/json-patch+json", "text/json"];
const nonJson = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constantFrom("{", "}", "[", "{nope", "null", "[]", '""', "0", "true", "1e999", "NaN", "undefined", "{'a':1}", '{"a":1,}', '{"a" 1}', "\uFEFF{}", '{"user":}', "//{}", "/*x*/{}", '{"a":"\\ud800"}', '{"a":"\\u00"}', "\u0000"),
  fc.integer({ min: 16 * 1024 - 10, max: 40_000 }).map((n) => `{"pad":"${"x".repeat(n)}"}`),
  deepNesting.map((n) => serialize(n, [])),
);

beforeAll(async () => {
  s = await startInMemoryStack({ rateLimitMax: 1_000_000_000 });
  useServices(s.services);
  agentPem = (await s.services.keyRing.agentPublicKey(s.tenantId)) ?? "";
  tokens.operate = s.operateToken;
  tokens.admin = s.adminToken;
  tokens.none = null;
  tokens.garbage = "not.a.jwt";
  tokens.otherTenant = await s.issuer.mint({ tenantId: randomUUID(), roles: ["Writeback.Operate", "Writeback.Admin"] });
  tokens.expired = await s.issuer.mint({ tenantId: s.tenantId, roles: ["Writeback.Operate", "Writeback.Admin"], lifetimeSeconds: -600 });
  prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
});


test("structured bodies: each field valid, hostile or missing; unknown and prototype keys; passwords 0–10,000 chars (6,000 runs)", async () => {
  await fc.assert(
    fc.asyncProperty(withBody(BODY_ENDPOINTS), async ([endpoint, node]) => {
      await run("structured", { endpoint, body: { kind: "node", node: node ?? lit(null) } });
    }),
    { numRuns: Number(process.env.HOSTILE_RUNS ?? 6000), endOnFailure: true },
  );
});

test("whole bodies that are not the expected object: scalars, arrays, deep nesting, prototype payloads (1,000 runs)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...BODY_ENDPOINTS), hostileValue, async (endpoint, node) => {
      await run("wrong-shape", { endpoint, body: { kind: "node", node } });
    }),
    { numRuns: 1000, endOnFailure: true },
  );
});

test("non-JSON text, oversize bodies, wrong or missing content types, lying Content-Length (1,500 runs)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...ALL_ENDPOINTS),
      fc.oneof(nonJson.map((text) => ({ kind: "text" as const, text })), fc.constant({ kind: "none" as const })),
      fc.oneof({ weight: 3, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 2, arbitrary: fc.constantFrom<string | null>(null, ...CONTENT_TYPES) }),
      fc.option(fc.constantFrom("0", "-1", "abc", "99999999999", "16385", "1e9", ""), { nil: undefined }),
      async (endpoint, body, contentType, contentLength) => {
        await run("non-json", { endpoint, body, ...(contentType === undefined ? {} : { contentType }), ...(contentLength === undefined ? {} : { contentLength }) });
      },
    ),
    { numRuns: 1500, endOnFailure: true },
  );
});

test("raw bytes: invalid UTF-8 inside otherwise valid bodies, and random bytes (1,000 runs)", async () => {
  const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xc3], [0xf4, 0x90, 0x80, 0x80], [0x00]];
  const alice = demo[0]!;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...BODY_ENDPOINTS),
      fc.oneof(
        fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.string({ minLength: 8, maxLength: 30 }), fc.nat({ max: 30 })).map(([bad, text, at]) => ({ bad, text, at, random: undefined })),
        fc.uint8Array({ maxLength: 600 }).map((random) => ({ bad: [] as number[], text: "", at: 0, random })),
      ),
      async (endpoint, g) => {
        if (g.random !== undefined) {
          await run("bytes", { endpoint, body: { kind: "bytes", bytes: g.random, passwords: [] } });
          return;
        }
        // A valid-looking reset whose password has invalid UTF-8 bytes spliced in.
        const password = `Aa1!${g.text}`;
        const bytes = Buffer.from(password, "utf8");
        const at = Math.min(g.at, bytes.length);
        const pwBytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(g.bad), bytes.subarray(at)]);
        const head = Buffer.from(`{"user":{"cloudAnchor":${JSON.stringify(alice.cloudAnchor)},"userPrincipalName":"${alice.userPrincipalName}","authType":"passwordHashSync"},"initiator":{"kind":"user","channel":"ssprPortal"},"reason":"voluntary","currentPassword":"Cur-Aa1!xyz","enabled":true,"allowUnlockWithoutReset":false,"newPassword":"`, "utf8");
        const tail = Buffer.from('"}', "utf8");
        // What the server may decode it to: the bytes with replacement characters.
        const decoded = pwBytes.toString("utf8");
        await run("bytes", { endpoint, body: { kind: "bytes", bytes: Buffer.concat([head, pwBytes, tail]), passwords: [password, decoded] } });
      },
    ),
    { numRuns: 1000, endOnFailure: true },
  );
});

test("route parameters and tokens: hostile tenant ids and request ids, missing, forged, foreign or expired tokens (500 runs)", async () => {
  const hostileParam = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ unit: "binary", maxLength: 60 }),
    fc.uuid(),
    fc.constantFrom("", "..", "../admin", "%2e%2e", "__proto__", "constructor", "00000000-0000-0000-0000-000000000000", "x".repeat(5000), "\uD800", "{tenantId}", "*"),
  );
  await fc.assert(
    fc.asyncProperty(
      withBody(ALL_ENDPOINTS),
      fc.oneof(fc.constant(undefined), fc.constant("upper"), hostileParam),
      fc.option(hostileParam, { nil: undefined }),
      fc.constantFrom("operate", "admin", "none", "garbage", "otherTenant", "expired", "wrongRole", undefined),
      async ([endpoint, node], tenant, requestId, token) => {
        const tenantParam = tenant === "upper" ? s.tenantId.toUpperCase() : tenant;
        const body = node === undefined ? undefined : ({ kind: "node", node } as const);
        await run("params-tokens", { endpoint, ...(tenantParam === undefined ? {} : { tenantParam }), ...(requestId === undefined ? {} : { extraParams: { requestId } }), ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });
      },
    ),
    { numRuns: 500, endOnFailure: true },
  );
});

test("summary: ≥ 10,000 requests, 0 ≥ 500, no password anywhere, prototype clean", () => {
  assert.ok(total >= 10_000, `${total} requests`);
  assert.deepEqual(problems, []);
  assert.equal(protoIsClean(), undefined);
  // A final sweep: no marker of any generated password anywhere in the whole log or audit trail.
  const everything = `${s.logs.join("\n")}\n${JSON.stringify(s.audit.rows())}`;
  const markers = everything.match(/PwMk[0-9a-z]{5}[0-9a-f]{8}/g) ?? [];
  assert.deepEqual(markers, [], "password markers in logs or audit");
  const statusLine = Object.entries(statuses).sort().map(([k, v]) => `${k}:${v}`).join(" ");
  const codeLine = Object.entries(codes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}:${v}`).join(" ");
  const families = Object.entries(family).map(([k, v]) => `${k}:${v}`).join(" ");
  const fivexx = Object.entries(statuses).filter(([k]) => Number(k) >= 500).reduce((a, [, v]) => a + v, 0);
  console.log(
    `hostile HTTP: ${total} requests (${families}); ≥500: ${fivexx}; statuses ${statusLine}; 4xx codes ${codeLine}; passwords generated ${allPasswords.size} (longest ${longestPassword} chars), scanned ${passwordsChecked}, leaks 0; log lines ${s.logs.length}, audit rows ${s.audit.rows().length}; Object.prototype clean`,
  );
});
