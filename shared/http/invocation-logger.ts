import type { LogFields, Logger } from "../ports/logger.port.js";

interface HostLogger {
  info?(...args: unknown[]): void;
  warn?(...args: unknown[]): void;
  error?(...args: unknown[]): void;
}

/**
 * A logger bound to one invocation. Under the Functions host its lines go through the
 * invocation's own logger (context.info/warn/error), which keeps their severity and ties them
 * to the invocation and its trace in Application Insights; otherwise (tests, the local runner
 * without one) they go to the app's logger. Every line carries the trace and invocation ids.
 * After finish() (the response is out) lines go to the app's logger: the host does not accept
 * an invocation's log calls once it has completed, and background retries may still log.
 */
export function invocationLogger(host: HostLogger, fallback: Logger, base: { traceId: string; invocationId: string }): { logger: Logger; finish(): void } {
  let open = typeof host.info === "function" && typeof host.warn === "function" && typeof host.error === "function";
  const emit = (level: "info" | "warn" | "error", message: string, fields?: LogFields) => {
    const all: LogFields = { ...fields, ...base };
    const write = host[level];
    if (open && write !== undefined) write.call(host, `${message} ${JSON.stringify(all)}`);
    else fallback[level](message, all);
  };
  return {
    logger: {
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
    },
    finish() {
      open = false;
    },
  };
}
