import { ERROR_CATALOG } from "../errors/catalog.js";
import { type AppError } from "../errors/app-error.js";
import { DEFAULT_LANGUAGE, userMessage, type Language } from "../errors/user-messages.js";

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

/**
 * The one error shape: {"error":{"code","message","requestId", fields?, reason?}}. The message
 * is in the caller's language (Accept-Language); in English it may carry a safe detail (which
 * fields, which channels), in other languages it is the catalog's text for the code.
 */
export function errorResult(error: AppError, requestId: string, language: Language = DEFAULT_LANGUAGE): HttpResult {
  const message = language === "en" ? error.message || ERROR_CATALOG[error.code].userMessage : userMessage(error.code, language);
  const body: Record<string, unknown> = { code: error.code, message, requestId };
  if (error.fields !== undefined) body.fields = error.fields;
  if (error.reason !== undefined) body.reason = error.reason;
  const headers: Record<string, string> = { "Content-Language": language };
  if (error.retryAfterSeconds !== undefined) headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
  return jsonResult(error.status, { error: body }, headers);
}
