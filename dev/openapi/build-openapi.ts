/**
 * Regenerates the contract parts of shared/http/openapi.json from the code:
 *   - request body schemas from the zod schemas the pipeline validates with (one source of truth);
 *   - an example for every request body, and one for every error code an operation answers with
 *     (message from the error catalog);
 *   - the Retry-After header on every 429 and 503.
 * Response schemas, descriptions and servers are written by hand in the file and kept.
 *
 *   npm run openapi            rewrite the file
 *   npm run openapi -- --check exit 1 when the file is not what the code generates (the unit test does this too)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV3 } from "@asteasolutions/zod-to-openapi";
import { z, type ZodTypeAny } from "zod";
import { ERROR_CATALOG, type ErrorCode } from "../../shared/errors/catalog.js";
import * as bodies from "../../shared/http/request-schemas.js";

// Patches zod's prototype in this process only (a build tool): the function app never loads this.
extendZodWithOpenApi(z);

export const OPENAPI_FILE = fileURLToPath(new URL("../../shared/http/openapi.json", import.meta.url));

/** Request components and the zod schema each is generated from. */
export const REQUEST_COMPONENTS: Record<string, ZodTypeAny> = {
  User: bodies.userSchema,
  Initiator: bodies.initiatorSchema,
  Password: bodies.passwordSchema,
  PrecheckRequest: bodies.precheckBodySchema,
  ResetRequest: bodies.resetBodySchema,
  ChangeRequest: bodies.changeBodySchema,
  UnlockRequest: bodies.unlockBodySchema,
  WritebackSettings: bodies.settingsBodySchema,
  AgentRegistration: bodies.agentRegistrationBodySchema,
  BannedTermsChange: bodies.bannedTermsChangeSchema,
};

/** The body component each operation reads. */
export const OPERATION_BODIES: Record<string, string> = {
  precheck: "PrecheckRequest",
  passwordResets: "ResetRequest",
  passwordChanges: "ChangeRequest",
  accountUnlocks: "UnlockRequest",
  writebackSettings: "WritebackSettings",
  agentRegistration: "AgentRegistration",
  bannedPasswordsChange: "BannedTermsChange",
};

const DESCRIPTIONS: Record<string, Record<string, string>> = {
  Password: {
    "": `At most ${bodies.MAX_PASSWORD_CHARS} characters; the passwords of one request (a change carries two) together at most ${bodies.MAX_PASSWORD_BYTES_TOGETHER} bytes of UTF-8 (x-maxUtf8BytesTogether), which is what the 1 KiB sealed message leaves once the cloud anchor is at its maximum. No NUL, no lone UTF-16 surrogate.`,
  },
  User: {
    cloudAnchor: `The user's cloud anchor as synchronized by Entra Connect / Cloud Sync. At most 64 characters and at most ${bodies.MAX_CLOUD_ANCHOR_BYTES} bytes of UTF-8 (x-maxUtf8Bytes).`,
    userPrincipalName: `At most 113 characters and at most ${bodies.MAX_USER_PRINCIPAL_NAME_BYTES} bytes of UTF-8 (x-maxUtf8Bytes). Logged and audited; never used to find the account.`,
    authType: "How the user signs in; cloudOnly users have no on-premises password (NOT_APPLICABLE_CLOUD_ONLY).",
    onPremisesImmutableId: `The cloud user's onPremisesImmutableId (Microsoft Graph), the source anchor Entra Connect / Cloud Sync wrote: base64 of ms-DS-ConsistencyGuid or objectGUID (16 bytes). When given, the agent finds the account live in each configured forest, picking the one where the account is enabled; without it, through its sync store by cloudAnchor. With it, a request's passwords may take ${bodies.MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR} UTF-8 bytes together (${bodies.MAX_PASSWORD_BYTES_TOGETHER} without): its 16 bytes travel in the sealed message too.`,
  },
  ResetRequest: { requestId: "Idempotency key: resend the same id to retry; a fresh UUID per operation." },
  ChangeRequest: { requestId: "Idempotency key: resend the same id to retry; a fresh UUID per operation.", reason: "expired when the change is forced by password expiry." },
  UnlockRequest: { requestId: "Idempotency key: resend the same id to retry; a fresh UUID per operation." },
  AgentRegistration: { publicKeyPem: "The agent's RSA-2048 public key (SPKI PEM), as `agent register` uploads it." },
};

/** Limits zod states in code (byte lengths in refinements) that JSON Schema has no keyword for. */
const EXTENSIONS: Record<string, Record<string, Record<string, unknown>>> = {
  Password: { "": { "x-maxUtf8BytesTogether": bodies.MAX_PASSWORD_BYTES_TOGETHER } },
  User: {
    cloudAnchor: { "x-maxUtf8Bytes": bodies.MAX_CLOUD_ANCHOR_BYTES },
    userPrincipalName: { "x-maxUtf8Bytes": bodies.MAX_USER_PRINCIPAL_NAME_BYTES },
    onPremisesImmutableId: { example: "rOTgtS0cP06KmwwdLj9KWw==" },
  },
};

const USER = { cloudAnchor: "User_8f3b2a4e-5c1d-4e7f-9a0b-1c2d3e4f5a6b", userPrincipalName: "alice@contoso.com", authType: "passwordHashSync" };
const SSPR = { kind: "user", channel: "ssprPortal" };
const EXAMPLE_PUBLIC_KEY = [
  "-----BEGIN PUBLIC KEY-----",
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvohWRIoEW5DCC37/A/Xr",
  "wIleHb9MEiQbN8MqJIkAN8POw/oN2Dsrh5gQ0arTuZmGvtvKaRShNXRkaqRQSTfB",
  "25HSbRlG96BjWZvRYxulqsy93pxUSEnaVvAoOiGZqeg7mEo5au1l4DRD92ijFDvT",
  "1bIYnABLp2ujgvw6a0uz4fyZG394snJK1+U8HeGO8IVkP8Hazc4CjHy35YojiX3Z",
  "dY481RGfRgasvXknOMzKfoMoEI9sSXh3gMcAldKX9qPE4beu9tNFDkD4fH3uRgCj",
  "YmPBPUKzC9xXT6iG1Hhuo2sBUFekRxaIaoUiVHDMS9PRtWyqmNTUaPO+IlbGAPfF",
  "8wIDAQAB",
  "-----END PUBLIC KEY-----",
  "",
].join("\n");

/** Every request body's examples; the unit test parses each with the operation's zod schema. */
export const REQUEST_EXAMPLES: Record<string, Record<string, { summary: string; value: unknown }>> = {
  precheck: { precheck: { summary: "Can this user's password be written back now?", value: { user: USER } } },
  passwordResets: {
    selfService: { summary: "A user resets a forgotten password in SSPR", value: { requestId: "3f2a6c1e-8b7d-4e5f-a1b2-c3d4e5f6a7b8", user: USER, newPassword: "Correct-Horse-42!", initiator: SSPR } },
    adminResetAndUnlock: {
      summary: "A help-desk admin resets, unlocks and forces a change at next logon",
      value: { requestId: "5b1c9d2e-3f4a-4b5c-8d6e-7f8091a2b3c4", user: USER, newPassword: "Temp-Passw0rd-7301", initiator: { kind: "admin", channel: "entraAdminCenter" }, unlockAccount: true, forceChangeAtNextLogon: true },
    },
  },
  passwordChanges: {
    voluntary: { summary: "A user changes their password", value: { requestId: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", user: USER, currentPassword: "Correct-Horse-42!", newPassword: "Battery-Staple-43!", reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } } },
  },
  accountUnlocks: { unlock: { summary: "Unlock without a reset (allowUnlockWithoutReset must be on)", value: { requestId: "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6", user: USER, initiator: SSPR } } },
  writebackSettings: {
    enable: { summary: "Turn writeback on (rotates and delivers a fresh package key first)", value: { enabled: true, allowUnlockWithoutReset: false } },
    disable: { summary: "Turn writeback off (the agent discards its keys)", value: { enabled: false, allowUnlockWithoutReset: false } },
  },
  agentRegistration: { register: { summary: "Upload the agent's public key (what `agent register` sends)", value: { publicKeyPem: EXAMPLE_PUBLIC_KEY, agentId: "agent-dc01" } } },
  bannedPasswordsChange: { addAndRemove: { summary: "Ban the company's names; drop a term", value: { add: ["Contoso", "Fabrikam"], remove: ["Northwind"] } } },
};

const EXAMPLE_REQUEST_ID = "3f2a6c1e-8b7d-4e5f-a1b2-c3d4e5f6a7b8";

function errorExample(code: ErrorCode): { summary: string; value: unknown } {
  const entry = ERROR_CATALOG[code];
  const error: Record<string, unknown> = { code, message: entry.userMessage, requestId: EXAMPLE_REQUEST_ID };
  if (code === "INVALID_REQUEST") error.fields = ["newPassword"];
  if (code === "PASSWORD_POLICY_VIOLATION") error.reason = "history";
  return { summary: code, value: { error } };
}

const RETRY_AFTER = { $ref: "#/components/headers/RetryAfter" };

type Json = Record<string, unknown>;

/** Adds the descriptions and x- limits to a generated schema (by property name; "" is the schema itself). */
function describe(name: string, schema: Json): Json {
  const texts = DESCRIPTIONS[name] ?? {};
  const extensions = EXTENSIONS[name] ?? {};
  const annotate = (key: string, value: Json): Json => {
    const text = texts[key];
    const extra = { ...(text === undefined ? {} : { description: text }), ...extensions[key] };
    if (Object.keys(extra).length === 0) return value;
    // A $ref cannot carry siblings in OpenAPI 3.0: wrap it.
    return "$ref" in value ? { allOf: [value], ...extra } : { ...value, ...extra };
  };
  const out = annotate("", schema);
  const props = out.properties as Record<string, Json> | undefined;
  if (props !== undefined) out.properties = Object.fromEntries(Object.entries(props).map(([key, value]) => [key, annotate(key, value)]));
  return out;
}

/** Shared parts (User, Initiator, Password) generated inline become $refs to their component. */
const SHARED = ["User", "Initiator", "Password"];

function requestSchemas(): Record<string, Json> {
  const registry = new OpenAPIRegistry();
  for (const [name, schema] of Object.entries(REQUEST_COMPONENTS)) registry.register(name, schema);
  const generated = (new OpenApiGeneratorV3(registry.definitions).generateComponents().components?.schemas ?? {}) as Record<string, Json>;
  const shared = SHARED.map((name) => [name, JSON.stringify(generated[name])] as const);
  const withRefs = (schema: Json): Json => {
    const props = schema.properties as Record<string, Json> | undefined;
    if (props === undefined) return schema;
    return {
      ...schema,
      properties: Object.fromEntries(
        Object.entries(props).map(([key, value]) => {
          const same = shared.find(([, text]) => text === JSON.stringify(value));
          return [key, same === undefined ? value : { $ref: `#/components/schemas/${same[0]}` }];
        }),
      ),
    };
  };
  return Object.fromEntries(Object.entries(generated).map(([name, schema]) => [name, describe(name, SHARED.includes(name) ? schema : withRefs(schema))]));
}

function codesIn(description: string): ErrorCode[] {
  return [...(description.match(/[A-Z][A-Z_]{3,}/g) ?? [])].filter((c): c is ErrorCode => c in ERROR_CATALOG);
}

/** The document the code generates, from the hand-written one in the file. */
export function buildOpenApiDocument(current: Json = JSON.parse(readFileSync(OPENAPI_FILE, "utf8")) as Json): Json {
  const doc = structuredClone(current) as Json & { paths: Record<string, Record<string, Json>>; components: Json & { schemas: Record<string, Json> } };
  doc.components.schemas = { ...doc.components.schemas, ...requestSchemas() };
  doc.components.headers = {
    RetryAfter: {
      description: "Seconds to wait before trying again (RATE_LIMITED: until the user's window frees a slot; AGENT_OFFLINE: the next heartbeat).",
      schema: { type: "integer", minimum: 1 },
    },
  };
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops)) {
      const operationId = String(op.operationId);
      const body = OPERATION_BODIES[operationId];
      if (body !== undefined) {
        op.requestBody = { required: true, content: { "application/json": { schema: { $ref: `#/components/schemas/${body}` }, examples: REQUEST_EXAMPLES[operationId] ?? {} } } };
      }
      const responses = op.responses as Record<string, Json & { description: string }>;
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue;
        const codes = codesIn(response.description).filter((c) => String(ERROR_CATALOG[c].status) === status);
        const media = { schema: { $ref: "#/components/schemas/Error" }, examples: Object.fromEntries(codes.map((c) => [c, errorExample(c)])) };
        const headers = status === "429" || status === "503" ? { headers: { "Retry-After": RETRY_AFTER } } : {};
        responses[status] = { description: response.description, ...headers, content: { "application/json": media } };
      }
    }
  }
  return doc;
}

export function serialize(doc: Json): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = serialize(buildOpenApiDocument());
  if (process.argv.includes("--check")) {
    if (readFileSync(OPENAPI_FILE, "utf8") !== text) {
      console.error("shared/http/openapi.json is not what the code generates: run npm run openapi");
      process.exit(1);
    }
  } else {
    writeFileSync(OPENAPI_FILE, text);
  }
}
