import { context, metrics, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Meter, type Tracer } from "@opentelemetry/api";
import type { Telemetry, TelemetryAttributes } from "../../ports/telemetry.port.js";
import type { TraceContext } from "../../protocol/trace-context.js";

export const INSTRUMENTATION_SCOPE = "password-writeback";

export interface OpenTelemetryOptions {
  /** Agents count as online while their last heartbeat is younger than this (AGENT_HEARTBEAT_WINDOW_SECONDS). */
  heartbeatWindowSeconds: number;
  now?: () => number;
  tracer?: Tracer;
  meter?: Meter;
}

/**
 * Telemetry on the OpenTelemetry API: whatever SDK is registered (Azure Monitor in Azure, an
 * in-memory one in tests) receives the spans and metrics. Attributes are names, codes, ids and
 * numbers chosen here; nothing from a request body or a header reaches them.
 *
 * Metrics:
 *   writeback.operations            counter    {operation, outcome}  password operations that ended
 *   writeback.operation.duration    histogram  {operation, outcome}  ms, from the request to its outcome
 *   writeback.agents.online         gauge                            tenants whose agent sent a heartbeat
 *                                                                    to this instance within the window
 */
export function openTelemetry(options: OpenTelemetryOptions): Telemetry {
  const tracer = options.tracer ?? trace.getTracer(INSTRUMENTATION_SCOPE);
  const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_SCOPE);
  const now = options.now ?? Date.now;
  const operations = meter.createCounter("writeback.operations", { description: "Password operations that ended, by outcome" });
  const duration = meter.createHistogram("writeback.operation.duration", {
    description: "Time from the request to the operation's outcome",
    unit: "ms",
    advice: { explicitBucketBoundaries: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000] },
  });
  const lastHeartbeat = new Map<string, number>();
  meter.createObservableGauge("writeback.agents.online", { description: "Tenants whose agent sent a heartbeat to this instance within the heartbeat window" }).addCallback((result) => {
    const since = now() - options.heartbeatWindowSeconds * 1000;
    let online = 0;
    for (const [tenant, at] of lastHeartbeat) {
      if (at >= since) online += 1;
      else lastHeartbeat.delete(tenant);
    }
    result.observe(online);
  });

  return {
    async inSpan(name, parent, attributes, fn) {
      const parentContext = trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true });
      return tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, parentContext, async (span) => {
        const own = span.spanContext();
        // A non-recording span (no SDK, or not sampled) keeps the parent's ids: the relay carries those.
        const scope: TraceContext = trace.isSpanContextValid(own) ? { traceId: own.traceId, spanId: own.spanId, flags: own.traceFlags } : parent;
        try {
          return await fn({
            trace: scope,
            setAttributes: (a: TelemetryAttributes) => span.setAttributes(a),
            fail: (code: string) => {
              span.setAttribute("error.type", code);
              span.setStatus({ code: SpanStatusCode.ERROR, message: code });
            },
          });
        } catch (e) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.name : "error" });
          throw e;
        } finally {
          span.end();
        }
      });
    },
    operationCompleted(operation, outcome, durationMs) {
      const attributes = { operation, outcome };
      operations.add(1, attributes);
      duration.record(durationMs, attributes);
    },
    agentHeartbeat(tenantId, receivedAt) {
      lastHeartbeat.set(tenantId, receivedAt.getTime());
    },
  };
}

/** The active span's context, for code that runs inside one (tests). */
export function activeTrace(): TraceContext | undefined {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const c = span.spanContext();
  return { traceId: c.traceId, spanId: c.spanId, flags: c.traceFlags };
}
