import type { TraceContext } from "../protocol/trace-context.js";

/** Span and metric attributes: names, codes and ids only, never a secret or a user's input. */
export type TelemetryAttributes = Record<string, string | number | boolean>;

export interface SpanScope {
  /** The span's own context: what the relay message carries as its parent. */
  trace: TraceContext;
  setAttributes(attributes: TelemetryAttributes): void;
  /** Marks the span failed with a stable error code (never a message). */
  fail(code: string): void;
}

/** Traces and metrics. The default does nothing; Azure Monitor's is wired when configured. */
export interface Telemetry {
  /** Runs fn inside a span that is a child of parent (the invocation's trace context). */
  inSpan<T>(name: string, parent: TraceContext, attributes: TelemetryAttributes, fn: (scope: SpanScope) => Promise<T>): Promise<T>;
  /** A password operation ended (not a replay): counted by outcome, its duration in a histogram. */
  operationCompleted(operation: string, outcome: string, durationMs: number): void;
  /** An authenticated heartbeat arrived: feeds the agents-online gauge. */
  agentHeartbeat(tenantId: string, receivedAt: Date): void;
}

export const noTelemetry: Telemetry = {
  inSpan: (_name, parent, _attributes, fn) => fn({ trace: parent, setAttributes: () => {}, fail: () => {} }),
  operationCompleted: () => {},
  agentHeartbeat: () => {},
};
