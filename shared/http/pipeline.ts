import type { ZodType, ZodTypeDef } from "zod";
import { AppError, toAppError } from "../errors/app-error.js";
import type { WritebackServices } from "../app/services.js";
import { isUuid } from "../protocol/ids.js";
import { authorize, type Principal, type Role } from "./auth.js";
import { errorResult, type HttpResult } from "./responses.js";
import { negotiateLanguage } from "./accept-language.js";
import { invocationLogger } from "./invocation-logger.js";
import { noTelemetry } from "../ports/telemetry.port.js";
import { newTraceContext, parseTraceparent, type TraceContext } from "../protocol/trace-context.js";

/** The parts of the Functions library's HttpRequest the pipeline reads (so the core needs no SDK import). */
export interface HttpRequestLike {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
  params: Record<string, string>;
  text(): Promise<string>;
}

/**
 * The parts of the Functions library's InvocationContext the pipeline uses. Under the host,
 * traceContext is the invocation's W3C context and info/warn/error are its logger (severity
 * and the invocation's operation id reach Application Insights); tests may pass only an id.
 */
export interface InvocationLike {
  invocationId: string;
  traceContext?: { traceParent?: string | null | undefined } | undefined;
  info?(...args: unknown[]): void;
  warn?(...args: unknown[]): void;
  error?(...args: unknown[]): void;
}

export interface RouteContext<TBody> {
  /** The app's services, with a logger bound to this invocation. */
  services: WritebackServices;
  /** The trace context of this call's span: relay messages carry it to the agent. */
  trace: TraceContext;
  tenantId: string;
  principal: Principal | undefined;
  body: TBody;
  params: Record<string, string>;
}

export interface RouteSpec<TBody> {
  /** The function's name: the span's name. */
  name?: string;
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
  const spanName = spec.name ?? "http";
  return async (request, context) => {
    const trace = invocationTrace(request, context);
    let s: WritebackServices;
    try {
      s = await services();
    } catch (e) {
      const error = toAppError(e);
      console.error(JSON.stringify({ level: "error", message: "services unavailable", code: error.code, status: error.status, correlation: context.invocationId, traceId: trace.traceId, cause: describeCause(error.cause) }));
      return errorResult(error, context.invocationId, negotiateLanguage(request.headers.get("accept-language")));
    }
    const logger = invocationLogger(context, s.logger, { traceId: trace.traceId, invocationId: context.invocationId });
    const scoped: WritebackServices = { ...s, logger: logger.logger };
    try {
      return await (s.telemetry ?? noTelemetry).inSpan(spanName, trace, { "faas.invocation_id": context.invocationId }, async (span) => {
        const result = await handle(spec, request, context, scoped, span.trace);
        span.setAttributes({ "http.response.status_code": result.status });
        const code = errorCodeOf(result);
        if (code !== undefined) span.fail(code);
        return result;
      });
    } finally {
      logger.finish();
    }
  };
}

async function handle<TBody>(spec: RouteSpec<TBody>, request: HttpRequestLike, context: InvocationLike, s: WritebackServices, trace: TraceContext): Promise<HttpResult> {
    let correlation = context.invocationId;
    try {
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
      return await spec.run({ services: s, trace, tenantId, principal, body, params: request.params });
    } catch (e) {
      const error = toAppError(e);
      const fields = { code: error.code, status: error.status, correlation, cause: error.code === "INTERNAL_ERROR" ? describeCause(error.cause) : undefined };
      if (error.status >= 500) s.logger.error("request failed", fields);
      else s.logger.info("request refused", fields);
      return errorResult(error, correlation, negotiateLanguage(request.headers.get("accept-language")));
    }
}

/**
 * The parent of this call's span: the host's invocation context (which continues the caller's
 * traceparent), else the request's own traceparent header, else a new trace.
 */
function invocationTrace(request: HttpRequestLike, context: InvocationLike): TraceContext {
  return parseTraceparent(context.traceContext?.traceParent) ?? parseTraceparent(request.headers.get("traceparent")) ?? newTraceContext();
}

function errorCodeOf(result: HttpResult): string | undefined {
  if (result.status < 400) return undefined;
  const body = result.jsonBody as { error?: { code?: unknown } } | undefined;
  return typeof body?.error?.code === "string" ? body.error.code : String(result.status);
}

/** The error's class and code for logs: never its message, which could quote input. */
function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}${"code" in cause ? `:${String((cause as { code: unknown }).code)}` : ""}`;
  return typeof cause;
}
