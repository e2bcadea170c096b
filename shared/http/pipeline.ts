import type { ZodType, ZodTypeDef } from "zod";
import { AppError, toAppError } from "../errors/app-error.js";
import type { WritebackServices } from "../app/services.js";
import { isUuid } from "../protocol/ids.js";
import { authorize, type Principal, type Role } from "./auth.js";
import { errorResult, type HttpResult } from "./responses.js";
import { negotiateLanguage } from "./accept-language.js";

/** The parts of the Functions library's HttpRequest the pipeline reads (so the core needs no SDK import). */
export interface HttpRequestLike {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
  params: Record<string, string>;
  text(): Promise<string>;
}

export interface InvocationLike {
  invocationId: string;
}

export interface RouteContext<TBody> {
  services: WritebackServices;
  tenantId: string;
  principal: Principal | undefined;
  body: TBody;
  params: Record<string, string>;
}

export interface RouteSpec<TBody> {
  /** undefined: no authentication (health). */
  role: Role | undefined;
  body?: ZodType<TBody, ZodTypeDef, unknown>;
  run(context: RouteContext<TBody>): Promise<HttpResult>;
}

export const MAX_BODY_BYTES = 16 * 1024;
const MAX_LISTED_FIELDS = 20;

export type ServicesProvider = () => Promise<WritebackServices>;
export type HttpHandler = (request: HttpRequestLike, context: InvocationLike) => Promise<HttpResult>;

async function readJson(request: HttpRequestLike): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new AppError("PAYLOAD_TOO_LARGE");
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type.trim())) throw new AppError("UNSUPPORTED_MEDIA_TYPE");
  const text = await request.text();
  if (Buffer.byteLength(text, "utf8") > MAX_BODY_BYTES) throw new AppError("PAYLOAD_TOO_LARGE");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError("INVALID_REQUEST", { message: "The body is not valid JSON.", fields: ["body"] });
  }
}

/** Field names only, never values: a bad password must not come back in an error. */
function invalidFields(issues: readonly { path: (string | number)[]; code: string; keys?: string[] }[]): string[] {
  const fields = new Set<string>();
  for (const issue of issues) {
    const base = issue.path.filter((p): p is string => typeof p === "string").join(".");
    if (issue.code === "unrecognized_keys" && issue.keys !== undefined) {
      for (const key of issue.keys) fields.add(`${base ? `${base}.` : ""}${key.slice(0, 40)}`);
    } else {
      fields.add(base || "body");
    }
  }
  return [...fields].slice(0, MAX_LISTED_FIELDS);
}

function parseBody<TBody>(schema: ZodType<TBody, ZodTypeDef, unknown>, value: unknown): TBody {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = invalidFields(result.error.issues);
  throw new AppError("INVALID_REQUEST", { message: `Invalid or missing fields: ${fields.join(", ")}.`, fields });
}

function requestIdOf(body: unknown, fallback: string): string {
  if (typeof body === "object" && body !== null && "requestId" in body) {
    const id = body.requestId;
    if (typeof id === "string" && isUuid(id)) return id.toLowerCase();
  }
  return fallback;
}

/**
 * The shared request pipeline of every HTTP function: tenant route check, authentication
 * and authorization, JSON body validation, then the use case; any failure becomes the one
 * error shape with a stable code. Logs carry ids and codes only.
 */
export function route<TBody = undefined>(spec: RouteSpec<TBody>, services: ServicesProvider): HttpHandler {
  return async (request, context) => {
    let correlation = context.invocationId;
    let s: WritebackServices | undefined;
    try {
      s = await services();
      const rawTenant = request.params.tenantId;
      let tenantId = "";
      if (rawTenant !== undefined) {
        if (!isUuid(rawTenant)) throw new AppError("INVALID_REQUEST", { message: "The tenant id in the route must be a GUID.", fields: ["tenantId"] });
        tenantId = rawTenant.toLowerCase();
      }
      let principal: Principal | undefined;
      if (spec.role !== undefined) {
        principal = await s.verifyToken(request.headers.get("authorization"));
        authorize(principal, tenantId, spec.role);
      }
      let body = undefined as TBody;
      if (spec.body !== undefined) {
        const raw = await readJson(request);
        correlation = requestIdOf(raw, correlation);
        body = parseBody(spec.body, raw);
      }
      return await spec.run({ services: s, tenantId, principal, body, params: request.params });
    } catch (e) {
      const error = toAppError(e);
      const fields = { code: error.code, status: error.status, correlation, cause: error.code === "INTERNAL_ERROR" ? describeCause(error.cause) : undefined };
      if (error.status >= 500) s?.logger.error("request failed", fields);
      else s?.logger.info("request refused", fields);
      if (s === undefined) console.error(JSON.stringify({ level: "error", message: "services unavailable", ...fields }));
      return errorResult(error, correlation, negotiateLanguage(request.headers.get("accept-language")));
    }
  };
}

/** The error's class and code for logs: never its message, which could quote input. */
function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}${"code" in cause ? `:${String((cause as { code: unknown }).code)}` : ""}`;
  return typeof cause;
}
