import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { errorResult, type HttpResult } from "../../shared/http/responses.js";
import { AppError } from "../../shared/errors/app-error.js";
import { MAX_BODY_BYTES, type HttpRequestLike } from "../../shared/http/pipeline.js";
import { nextOccurrence, parseSchedule } from "./ncrontab.js";
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent } from "../../shared/protocol/trace-context.js";
import type { FunctionDefinition, HttpFunctionDefinition, QueueTriggerSource } from "../../shared/adapters/functions/registry.js";

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Feeds a queue-triggered function from a queue (the Service Bus adapter provides one). */
export interface LocalRunnerOptions {
  functions: readonly FunctionDefinition[];
  host?: string;
  port?: number;
  routePrefix?: string;
  /** Resolves %NAME% binding expressions (app settings). */
  settings: Record<string, string | undefined>;
  queueTriggers?: QueueTriggerSource;
  log?: (line: string) => void;
  /** Serves paths outside the route prefix (the local stack's demo page); answers true when it did. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface LocalRunner {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface CompiledRoute {
  definition: HttpFunctionDefinition;
  pattern: RegExp;
  names: string[];
}

function compile(definition: HttpFunctionDefinition, prefix: string): CompiledRoute {
  const names: string[] = [];
  const source = `/${prefix}/${definition.route}`
    .split("/")
    .filter((s) => s !== "")
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param?.[1] !== undefined) {
        names.push(param[1]);
        return "([^/]+)";
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { definition, pattern: new RegExp(`^/${source}/?$`, "i"), names };
}

function resolveSetting(expression: string, settings: Record<string, string | undefined>): string {
  return expression.replace(/%(\w+)%/g, (_, name: string) => {
    const value = settings[name];
    if (value === undefined) throw new Error(`app setting ${name} is not set`);
    return value;
  });
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // Read a little past the limit so the pipeline can answer PAYLOAD_TOO_LARGE itself.
      if (size > MAX_BODY_BYTES + 1024) {
        req.removeAllListeners("data");
        req.resume();
        reject(new AppError("PAYLOAD_TOO_LARGE"));
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(chunks.length === 0 ? undefined : (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString("utf8")));
    req.once("error", reject);
  });
}

/**
 * The request as the pipeline reads it (HttpRequestLike), straight from node:http. Under the
 * Functions host the library's HttpRequest (an undici Request around the body) plays this part;
 * building one per call here cost about as much as the handler's own validation, for fields
 * the pipeline reads the same way (header names case-insensitive, repeated values joined).
 */
function localRequest(req: IncomingMessage, url: URL, params: Record<string, string>, body: string | undefined): HttpRequestLike {
  return {
    method: req.method ?? "GET",
    get url() {
      return url.toString();
    },
    headers: {
      get(name: string): string | null {
        const value = req.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
    },
    params,
    text: async () => body ?? "",
  };
}

function send(res: ServerResponse, result: HttpResult): void {
  const body = result.jsonBody === undefined ? "" : JSON.stringify(result.jsonBody);
  res.writeHead(result.status, { ...(result.headers ?? {}), "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Serves the registered functions like the Functions host does, for machines without
 * Core Tools: HTTP routes under /api, timers on their schedule, queue triggers from a source.
 */
export async function startLocalRunner(options: LocalRunnerOptions): Promise<LocalRunner> {
  const prefix = options.routePrefix ?? "api";
  const log = options.log ?? (() => {});
  const routes = options.functions.filter((f): f is HttpFunctionDefinition => f.kind === "http").map((f) => compile(f, prefix));
  const closers: (() => Promise<void>)[] = [];
  // Parsed up front: a bad schedule stops the runner before it listens, not at its first firing.
  const schedules = new Map(options.functions.flatMap((f) => (f.kind === "timer" ? [[f, parseSchedule(f.schedule)] as const] : [])));

  const server: Server = createServer((req, res) => {
    void (async () => {
      const invocationId = randomUUID();
      const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
      if (!url.pathname.startsWith(`/${prefix}/`) && options.fallback?.(req, res) === true) return;
      const method = (req.method ?? "GET").toUpperCase();
      let hit: { route: CompiledRoute; match: RegExpExecArray } | undefined;
      let pathMatched = false;
      for (const route of routes) {
        const match = route.pattern.exec(url.pathname);
        if (match === null) continue;
        pathMatched = true;
        if (route.definition.methods.includes(method as HttpFunctionDefinition["methods"][number])) {
          hit = { route, match };
          break;
        }
      }
      if (hit === undefined) {
        send(res, errorResult(new AppError(pathMatched ? "METHOD_NOT_ALLOWED" : "NOT_FOUND"), invocationId));
        return;
      }
      const params: Record<string, string> = {};
      const { route, match } = hit;
      try {
        route.names.forEach((name, i) => {
          params[name] = decodeURIComponent(match[i + 1] ?? "");
        });
      } catch {
        send(res, errorResult(new AppError("INVALID_REQUEST", { message: "The path is not validly percent-encoded.", fields: route.names }), invocationId));
        return;
      }
      let body: string | undefined;
      try {
        body = await readBody(req);
      } catch (e) {
        send(res, errorResult(e instanceof AppError ? e : new AppError("INVALID_REQUEST"), invocationId));
        return;
      }
      const started = Date.now();
      // As the host does: the invocation is a span continuing the caller's traceparent (or a new trace).
      const header = req.headers.traceparent;
      const caller = parseTraceparent(Array.isArray(header) ? undefined : header);
      const traceParent = formatTraceparent({ traceId: caller?.traceId ?? newTraceId(), spanId: newSpanId(), flags: caller?.flags ?? 1 });
      const result = await route.definition.handler(localRequest(req, url, params, body), { invocationId, traceContext: { traceParent } });
      send(res, result);
      if (options.log !== undefined) log(`${method} ${url.pathname} -> ${result.status} (${Date.now() - started} ms) traceparent ${traceParent}`);
    })().catch(() => {
      if (!res.headersSent) send(res, errorResult(new AppError("INTERNAL_ERROR"), "local-runner"));
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 7071, options.host ?? "127.0.0.1", () => resolve());
  });
  server.on("connection", (socket) => socket.setNoDelay(true));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;

  for (const [f, schedule] of schedules) {
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      f.handler()
        .catch(() => log(`timer ${f.name} failed`))
        .finally(arm);
    };
    // setTimeout caps at ~24.8 days: a later run waits in steps rather than firing early.
    const waitUntil = (due: number) => {
      const delay = Math.max(due - Date.now(), 0);
      timer = setTimeout(delay > MAX_TIMEOUT_MS ? () => waitUntil(due) : fire, Math.min(delay, MAX_TIMEOUT_MS));
      timer.unref();
    };
    const arm = () => waitUntil(nextOccurrence(schedule, new Date()).getTime());
    arm();
    closers.push(async () => clearTimeout(timer));
  }
  for (const f of options.functions) {
    if (f.kind === "serviceBusQueue" && options.queueTriggers !== undefined) {
      const subscription = await options.queueTriggers.subscribe(resolveSetting(f.queueName, options.settings), f.handler);
      closers.push(() => subscription.close());
    }
  }

  return {
    url: `http://127.0.0.1:${port}/${prefix}`,
    port,
    async close() {
      for (const c of closers) await c();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
