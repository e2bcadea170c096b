import type { LogFields, Logger } from "../../ports/logger.port.js";

/** One JSON object per line: what the Functions host and Application Insights pick up from stdout. */
export function jsonLogger(write: (line: string) => void = (l) => process.stdout.write(l), base: LogFields = {}): Logger {
  const emit = (level: string, message: string, fields?: LogFields) => write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...fields })}\n`);
  return {
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
