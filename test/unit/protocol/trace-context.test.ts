import assert from "node:assert/strict";
import { test } from "vitest";
import {
  bytesToTraceId,
  decodeTraceExtension,
  encodeTraceExtension,
  formatTraceparent,
  newTraceContext,
  parseTraceparent,
  traceIdToBytes,
} from "../../../shared/protocol/trace-context.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

test("a W3C traceparent parses and formats back unchanged", () => {
  const header = `00-${TRACE}-${SPAN}-01`;
  const t = parseTraceparent(header);
  assert.deepEqual(t, { traceId: TRACE, spanId: SPAN, flags: 1 });
  assert.equal(formatTraceparent(t ?? newTraceContext()), header);
  // A future version may append fields; version 00 may not.
  assert.deepEqual(parseTraceparent(`01-${TRACE}-${SPAN}-00-extra`), { traceId: TRACE, spanId: SPAN, flags: 0 });
});

test("invalid traceparent values start a new trace instead of being trusted", () => {
  for (const bad of [
    undefined,
    null,
    "",
    `00-${TRACE}-${SPAN}-01-extra`,
    `ff-${TRACE}-${SPAN}-01`,
    `00-${"0".repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${"0".repeat(16)}-01`,
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE.slice(1)}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-1`,
    "x".repeat(10_000),
  ]) {
    assert.equal(parseTraceparent(bad), undefined, String(bad).slice(0, 60));
  }
});

test("new traces are random, sampled and well-formed", () => {
  const a = newTraceContext();
  const b = newTraceContext();
  assert.notEqual(a.traceId, b.traceId);
  assert.deepEqual(parseTraceparent(formatTraceparent(a)), a);
});

test("trace ids take 16 bytes on the wire, from the hex or the older UUID form", () => {
  assert.equal(bytesToTraceId(traceIdToBytes(TRACE)), TRACE);
  assert.equal(bytesToTraceId(traceIdToBytes("4bf92f35-77b3-4da6-a3ce-929d0e0e4736")), TRACE);
  assert.throws(() => traceIdToBytes("4bf92f35"), RangeError);
  assert.throws(() => traceIdToBytes("z".repeat(32)), RangeError);
});

test("the span extension is 10 bytes and unknown or empty extensions carry no span", () => {
  const ext = encodeTraceExtension(SPAN, 1);
  assert.equal(ext.length, 10);
  assert.deepEqual(decodeTraceExtension(ext), { spanId: SPAN, flags: 1 });
  assert.equal(decodeTraceExtension(Buffer.alloc(0)), undefined);
  assert.equal(decodeTraceExtension(Buffer.from([0x02, ...ext.subarray(1)])), undefined);
  assert.equal(decodeTraceExtension(Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1])), undefined);
  assert.throws(() => encodeTraceExtension("xyz", 1), RangeError);
});
