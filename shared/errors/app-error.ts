import { ERROR_CATALOG, type ErrorCode, type PolicyReason } from "./catalog.js";

export interface AppErrorOptions {
  /** Safe, secret-free detail for the caller (never a password, key, DN or stack). */
  message?: string;
  /** Names of invalid request fields (never their values). */
  fields?: readonly string[];
  reason?: PolicyReason;
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * The one error type of the product. `code` is stable; `message` is safe to show.
 * The cause is kept for logs but never serialized into a response.
 */
export class AppError extends Error {
  override readonly name = "AppError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly fields: readonly string[] | undefined;
  readonly reason: PolicyReason | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    super(options.message ?? ERROR_CATALOG[code].userMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.fields = options.fields;
    this.reason = options.reason;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** Anything thrown becomes an AppError; unknown errors become INTERNAL_ERROR with the cause kept for logs. */
export function toAppError(value: unknown): AppError {
  if (isAppError(value)) return value;
  return new AppError("INTERNAL_ERROR", { cause: value });
}
