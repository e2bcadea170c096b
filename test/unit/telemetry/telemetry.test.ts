import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { beforeAll, describe, test } from "vitest";
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { accountUnlocks } from "../../../functions/account-unlocks.js";
import { passwordResets } from "../../../functions/password-resets.js";
import { precheck } from "../../../functions/precheck.js";
import { openTelemetry } from "../../../shared/adapters/telemetry/otel-telemetry.js";
import { useServices } from "../../../shared/composition/services.js";
import { demoUser, userRef } from "../../support/fixtures.js";
import { findSecrets } from "../../support/secret-scan.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

let s: InMemoryStack;
const spans = new InMemorySpanExporter();
const reader = new CollectingReader();
const passwords: string[] = [];
const sspr = { kind: "user", channel: "ssprPortal" };

beforeAll(async () => {
  s = await startInMemoryStack({ rateLimitMax: 1000 });
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const meterProvider = new MeterProvider({ readers: [reader] });
  s.services.telemetry = openTelemetry({ heartbeatWindowSeconds: 660, tracer: tracerProvider.getTracer("test"), meter: meterProvider.getMeter("test") });
  useServices(s.services);
  await s.heartbeat();
});

function pw(): string {
  const p = `Tel-${randomBytes(6).toString("hex")}-aA1!`;
  passwords.push(p);
  return p;
}

async function collect(): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  return resourceMetrics;
}

function metric(rm: ResourceMetrics, name: string) {
  return rm.scopeMetrics.flatMap((sm) => sm.metrics).find((m) => m.descriptor.name === name);
}

describe("telemetry (OpenTelemetry spans and metrics)", () => {
  test("each HTTP call is a span continuing the caller's traceparent, and the relay carries that span to the agent", async () => {
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const requestId = randomUUID();
    const r = await s.call(passwordResets, { method: "POST", path: "/x", headers: { traceparent: `00-${traceId}-${callerSpan}-01` }, body: { requestId, user: userRef(demoUser("alice")), newPassword: pw(), initiator: sspr } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const span = spans.getFinishedSpans().find((sp) => sp.spanContext().traceId === traceId);
    assert.ok(span, "a span in the caller's trace");
    assert.equal(span.name, "passwordResets");
    assert.equal(span.parentSpanContext?.spanId, callerSpan);
    assert.equal(span.attributes["http.response.status_code"], 200);
    // The agent's "request handled" line names the same trace and this span as its parent.
    const handled = s.logs.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.m === "request handled" && l.requestId === requestId);
    assert.equal(handled?.traceId, traceId);
    assert.equal(handled?.parentSpanId, span.spanContext().spanId);
    // The pipeline's own log lines carry the trace id too (through the invocation's logger).
    const refused = await s.call(passwordResets, { method: "POST", path: "/x", headers: { traceparent: `00-${traceId}-${callerSpan}-01` }, body: { requestId: randomUUID(), user: userRef(demoUser("dave")), newPassword: pw(), initiator: sspr } });
    assert.equal(refused.status, 422);
    assert.ok(s.logs.some((l) => l.startsWith("information request refused") && l.includes(traceId)), "refusal logged at information level with the trace id");
  });

  test("a refused call's span is marked failed with the error code, not the message", async () => {
    const r = await s.call(accountUnlocks, { method: "POST", path: "/x", body: { requestId: randomUUID(), user: userRef(demoUser("alice")), initiator: sspr } });
    assert.equal(r.status, 409);
    const span = spans.getFinishedSpans().find((sp) => sp.name === "accountUnlocks");
    assert.equal(span?.status.code, 2);
    assert.equal(span?.status.message, "UNLOCK_NOT_ENABLED");
    assert.equal(span?.attributes["error.type"], "UNLOCK_NOT_ENABLED");
  });

  test("metrics: operations by outcome, a latency histogram, agents online", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await s.call(passwordResets, { method: "POST", path: "/x", body: { requestId: randomUUID(), user: userRef(demoUser("bob")), newPassword: pw(), initiator: sspr } });
      assert.equal(r.status, 200);
    }
    const rm = await collect();
    const counted = metric(rm, "writeback.operations")?.dataPoints ?? [];
    const succeeded = counted.find((p) => p.attributes.operation === "reset" && p.attributes.outcome === "succeeded");
    assert.ok(Number(succeeded?.value) >= 4);
    assert.ok(counted.some((p) => p.attributes.outcome === "NOT_APPLICABLE_CLOUD_ONLY"));
    const histogram = metric(rm, "writeback.operation.duration");
    assert.equal(histogram?.descriptor.unit, "ms");
    const point = histogram?.dataPoints.find((p) => p.attributes.outcome === "succeeded")?.value as { count: number } | undefined;
    assert.ok((point?.count ?? 0) >= 4);
    assert.equal(metric(rm, "writeback.agents.online")?.dataPoints[0]?.value, 1);
  });

  test("no password or token reaches a span or a metric", async () => {
    const p = pw();
    await s.call(passwordResets, { method: "POST", path: "/x", body: { requestId: randomUUID(), user: userRef(demoUser("carol")), newPassword: p, initiator: sspr } });
    await s.call(passwordResets, { method: "POST", path: "/x", body: { requestId: randomUUID(), user: userRef(demoUser("carol")), newPassword: `${p}\u0000`, initiator: sspr } });
    await s.call(precheck, { method: "POST", path: "/x", token: "not-a-jwt", body: { user: userRef(demoUser("carol")) } });
    const exported = JSON.stringify(
      spans.getFinishedSpans().map((sp) => ({ name: sp.name, attributes: sp.attributes, events: sp.events, status: sp.status, links: sp.links, resource: sp.resource.attributes })),
    );
    const metrics = JSON.stringify((await collect()).scopeMetrics);
    assert.ok(exported.length > 1000 && metrics.length > 100, "something was recorded");
    assert.deepEqual(findSecrets([...passwords, s.operateToken, s.adminToken, "not-a-jwt"], { spans: exported, metrics }), []);
  });
});
