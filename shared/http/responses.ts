import { ERROR_CATALOG } from "../errors/catalog.js";
import { type AppError } from "../errors/app-error.js";

/** What a handler returns: structurally the Functions library's HttpResponseInit. */
export interface HttpResult {
  status: number;
  jsonBody?: unknown;
  headers?: Record<string, string>;
}

const NO_STORE = { "Cache-Control": "no-store", "Content-Type": "application/json; charset=utf-8" };

export function jsonResult(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { status, jsonBody: body, headers: { ...NO_STORE, ...headers } };
}

/** The one error shape: {"error":{"code","message","requestId", fields?, reason?}}. */
export function errorResult(error: AppError, requestId: string): HttpResult {
  const body: Record<string, unknown> = { code: error.code, message: error.message || ERROR_CATALOG[error.code].userMessage, requestId };
  if (error.fields !== undefined) body.fields = error.fields;
  if (error.reason !== undefined) body.reason = error.reason;
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
  return jsonResult(error.status, { error: body }, headers);
}
