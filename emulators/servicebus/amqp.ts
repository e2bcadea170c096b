import { createRequire } from "node:module";

// rhea's typings lag its runtime (link.remote/local, outcomes, typed values): the peer uses these shapes.
export interface Terminus {
  address?: string;
  filter?: Record<string, unknown>;
}
export interface Link {
  name: string;
  credit: number;
  session: { outgoing: { next_pending_delivery: number; next_delivery_id: number; deliveries: { by_id(id: number): { link: unknown } | undefined } } };
  remote: { attach?: { source?: Terminus; target?: Terminus; snd_settle_mode?: number; rcv_settle_mode?: number } };
  local: { attach: Record<string, unknown> };
  close(error?: unknown): void;
  is_open(): boolean;
  set_source(fields: Record<string, unknown>): void;
  set_target(fields: Record<string, unknown>): void;
}
export type Receiver = Link;
export interface Sender extends Link {
  /** With a format, `message` is the encoded payload, sent as is. */
  send(message: unknown, tag?: Buffer, format?: number): unknown;
  sendable(): boolean;
  set_drained(drained: boolean): void;
}
export type Message = Record<string, unknown> & { application_properties?: Record<string, unknown>; body?: unknown; reply_to?: unknown; message_id?: unknown };
export interface Delivery {
  tag: Buffer;
  id?: number;
  format?: number;
  remote_settled?: boolean;
  remote_state?: { error?: { condition?: string; description?: string; info?: Record<string, unknown> }; undeliverable_here?: boolean; message_annotations?: Record<string, unknown>; described?: () => unknown };
  update(settled: boolean, state?: unknown): void;
}
export interface Connection {
  container_id: string;
  each_sender(action: (s: Sender) => void): void;
}
export interface EventContext {
  connection: Connection;
  sender?: unknown;
  receiver?: unknown;
  message?: unknown;
  delivery?: unknown;
}
type Typed = { readonly typecode: number };
export interface SaslMechanism {
  outcome: boolean | undefined;
  start(response?: Buffer, hostname?: string): void;
}
export interface Rhea {
  create_container(options: { id: string }): {
    sasl_server_mechanisms: Record<string, () => SaslMechanism> & { enable_anonymous(): void };
    on(event: string, handler: (context: EventContext) => void): void;
    listen(options: Record<string, unknown>): unknown;
  };
  types: {
    wrap_long(n: number | Buffer): Typed;
    wrap_int(n: number): Typed;
    wrap_uint(n: number): Typed;
    wrap_symbol(s: string): Typed;
    wrap_uuid(b: Buffer): Typed;
    wrap_timestamp(ms: number): Typed;
    wrap_array(values: unknown[], code: number, descriptors?: unknown): Typed;
    wrap_list(values: unknown[]): Typed;
    wrap_map(m: Record<string, unknown>): Typed;
    wrap_binary(b: Buffer): Typed;
  };
  message: { encode(m: unknown): Buffer; decode(b: Buffer): unknown; accepted(): { described(): unknown }; rejected(fields: { error?: unknown }): { described(): unknown } };
}
export const rhea = createRequire(import.meta.url)("rhea") as Rhea;

/** AMQP array element codes (rhea's wrap_array needs one). */
export const AMQP_LONG = 0x81;
export const AMQP_TIMESTAMP = 0x83;
export const AMQP_UUID = 0x98;

/**
 * rhea hands the 'message' event a decoded message and forgets the encoded size; the size
 * limit needs it. Decoding happens synchronously right before the event, so the size of the
 * last decode is the size of the message being dispatched.
 */
let lastDecodedSize = 0;
const decode = rhea.message.decode.bind(rhea.message);
rhea.message.decode = (b: Buffer) => {
  lastDecodedSize = b.length;
  return decode(b);
};
export function sizeOfDispatchedMessage(message: unknown): number {
  return Buffer.isBuffer(message) ? message.length : lastDecodedSize;
}

/** A JS value of an AMQP long as rhea decodes it (number, or 8 bytes big-endian beyond 2^53). */
export function longValue(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE());
  return Number(v);
}

/** An error condition as the service writes it in a detach, disposition or management answer. */
export function amqpError(condition: string, description: string): { condition: string; description: string } {
  return { condition, description };
}
