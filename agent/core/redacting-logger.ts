import type { LogFields, Logger } from "../../shared/ports/logger.port.js";

/** Field names that may carry a secret; their values are never passed on. */
const SECRET_NAME = /pass|pwd|secret|token|credential|signature|sas|private|bearer|authorization|(^|[^a-z])key($|[^a-z])|^key|key$/i;
/** Names that contain "key" but are known not to be secret. */
const SAFE_NAMES = new Set(["keyVersion", "keyVersions", "previousKeyVersion", "keyAcceptance"]);
/** A value that looks like encoded key or ciphertext material rather than an id or code. */
const ENCODED_BLOB = /^[A-Za-z0-9+/=_-]{40,}$/;
const MAX_VALUE_CHARS = 200;

export const REDACTED = "[redacted]";

function redactValue(name: string, value: string | number | boolean | undefined): string | number | boolean | undefined {
  if (value === undefined) return undefined;
  if (!SAFE_NAMES.has(name) && SECRET_NAME.test(name)) return REDACTED;
  if (typeof value !== "string") return value;
  if (ENCODED_BLOB.test(value)) return REDACTED;
  return value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}…` : value;
}

export function redactFields(fields: LogFields | undefined): LogFields | undefined {
  if (fields === undefined) return undefined;
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) out[name] = redactValue(name, value);
  return out;
}

/**
 * A second line of defence behind "never pass a secret to the logger": structured fields
 * whose names suggest secrets, and values that look like encoded key material, are replaced
 * before they reach the real logger. Messages are expected to be constant texts.
 */
const redacting = new WeakSet<Logger>();

export function redactingLogger(inner: Logger): Logger {
  // Wrapping twice (the process and the request processor each ask for it) redacts once.
  if (redacting.has(inner)) return inner;
  const logger: Logger = {
    info: (message, fields) => inner.info(message, redactFields(fields)),
    warn: (message, fields) => inner.warn(message, redactFields(fields)),
    error: (message, fields) => inner.error(message, redactFields(fields)),
  };
  redacting.add(logger);
  return logger;
}

/** One JSON object per line (for the agent's stdout or a log file); pair with redactingLogger. */
export function jsonLinesLogger(write: (line: string) => void, base: LogFields = {}, now: () => Date = () => new Date()): Logger {
  const emit = (level: string, message: string, fields: LogFields | undefined) =>
    write(JSON.stringify({ time: now().toISOString(), level, message, ...base, ...fields }) + "\n");
  return {
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}
