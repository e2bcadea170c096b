import { randomBytes } from "node:crypto";

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/), version 00: the trace a request
 * belongs to and the span that sent it. The HTTP call's context travels in the envelope so
 * that the agent's log lines carry the same trace id as the function's and Application
 * Insights' (operation_Id).
 */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero: the sending span. */
  spanId: string;
  /** Trace flags; bit 0 = sampled. */
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;

/** Parses a `traceparent` header; undefined when absent or invalid (the caller starts a new trace). */
export function parseTraceparent(header: string | null | undefined): TraceContext | undefined {
  if (header === null || header === undefined || header.length > 512) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is forbidden; version 00 has exactly four fields.
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags.toString(16).padStart(2, "0")}`;
}

export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

export function newSpanId(): string {
  return randomBytes(8).toString("hex");
}

/** A fresh trace (sampled) when the caller sent none. */
export function newTraceContext(): TraceContext {
  return { traceId: newTraceId(), spanId: newSpanId(), flags: 1 };
}

const HEX32 = /^[0-9a-f]{32}$/i;

/** The 16 bytes of a trace id, given as 32 hex digits or in the 8-4-4-4-12 form older messages used. */
export function traceIdToBytes(traceId: string): Buffer {
  const hex = traceId.length === 36 ? traceId.replace(/-/g, "") : traceId;
  if (!HEX32.test(hex)) throw new RangeError("not a trace id");
  return Buffer.from(hex, "hex");
}

export function bytesToTraceId(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * The request header's extension entry for the sending span: type 0x01, span id (8 bytes),
 * flags (1 byte). Authenticated with the header; agents that predate it ignore the extension.
 */
const SPAN_ENTRY = 0x01;
export const TRACE_EXTENSION_BYTES = 10;

export function encodeTraceExtension(spanId: string, flags: number): Buffer {
  if (!/^[0-9a-f]{16}$/.test(spanId)) throw new RangeError("not a span id");
  const out = Buffer.alloc(TRACE_EXTENSION_BYTES);
  out[0] = SPAN_ENTRY;
  out.write(spanId, 1, "hex");
  out[9] = flags & 0xff;
  return out;
}

/** The sending span from a request header's extension; undefined when it carries none. */
export function decodeTraceExtension(extension: Uint8Array): { spanId: string; flags: number } | undefined {
  if (extension.length < TRACE_EXTENSION_BYTES || extension[0] !== SPAN_ENTRY) return undefined;
  const spanId = Buffer.from(extension.buffer, extension.byteOffset + 1, 8).toString("hex");
  if (ALL_ZERO.test(spanId)) return undefined;
  return { spanId, flags: extension[9] ?? 0 };
}
