import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { afterAll, beforeAll, test } from "vitest";
import type { PolicyDef } from "../../../emulators/servicebus/config.js";
import { startServiceBusPeer, type ServiceBusPeer } from "../../../emulators/servicebus/peer.js";

// The Service Bus peer's wire contract as the service has it, seen by a bare AMQP client (rhea)
// that does only what it is told: no SDK tolerance in between. The Python lane
// (test/python) drives the same contract through uamqp.

interface Typed {
  type?: { name: string };
  value: unknown;
  descriptor?: { value: unknown };
}
interface RawConnection {
  on(event: string, handler: (context: Record<string, unknown>) => void): void;
  open_sender(options: Record<string, unknown>): { send(m: unknown, tag?: Buffer, format?: number): unknown; on(e: string, h: (c: Record<string, unknown>) => void): void };
  open_receiver(options: Record<string, unknown>): { on(e: string, h: (c: Record<string, unknown>) => void): void };
  close(): void;
}
const rhea = createRequire(import.meta.url)("rhea") as {
  create_container(o: { id: string }): { connect(o: Record<string, unknown>): RawConnection };
  message: { decode(b: Buffer): unknown };
  types: { Reader: new (b: Buffer) => { read(): Typed; remaining(): number } };
};

const POLICY: PolicyDef = { name: "wire", key: "d2lyZS1jb250cmFjdC10ZXN0LWtleS1ub3QtYS1zZWNyZXQ=", rights: ["Manage", "Send", "Listen"] };
let peer: ServiceBusPeer;
beforeAll(async () => {
  peer = await startServiceBusPeer({ port: 0, tls: { port: 0 }, config: { policies: [POLICY], queues: [{ name: "wire" }] } });
});
afterAll(() => peer.stop());

/** The raw bytes of every message the client decodes, to read the AMQP types the peer wrote. */
const raw: Buffer[] = [];
const decode = rhea.message.decode.bind(rhea.message);
rhea.message.decode = (b: Buffer) => {
  raw.push(Buffer.from(b));
  return decode(b);
};
/** Application properties of an encoded message as [type name, value] pairs by key. */
function typedApplicationProperties(encoded: Buffer): Map<string, [string, unknown]> {
  const reader = new rhea.types.Reader(encoded);
  while (reader.remaining() > 0) {
    const section = reader.read();
    if (section.descriptor?.value !== 0x74) continue;
    const items = section.value as Typed[];
    const out = new Map<string, [string, unknown]>();
    for (let i = 0; i + 1 < items.length; i += 2) out.set(String(items[i]?.value), [items[i + 1]?.type?.name ?? "", items[i + 1]?.value]);
    return out;
  }
  return new Map();
}

function sasToken(audience: string, key = POLICY.key): string {
  const sr = encodeURIComponent(audience);
  const se = Math.floor(Date.now() / 1000) + 600;
  const sig = encodeURIComponent(createHmac("sha256", key).update(`${sr}\n${se}`).digest("base64"));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=${POLICY.name}`;
}

/** A TLS connection that authenticates with SASL MSSBCBS, as uamqp does. */
function connect(mechanism: "MSSBCBS" | "PLAIN" = "MSSBCBS"): Promise<RawConnection> {
  const tls = peer.tls;
  assert.ok(tls !== undefined);
  const sasl =
    mechanism === "MSSBCBS" ? { MSSBCBS: () => ({ start: (done: (e: unknown, r: Buffer) => void) => done(undefined, Buffer.alloc(0)) }) } : { PLAIN: () => ({ start: (done: (e: unknown, r: Buffer) => void) => done(undefined, Buffer.from("\0user\0password")) }) };
  const connection = rhea.create_container({ id: `wire-${randomUUID()}` }).connect({ host: "127.0.0.1", port: tls.port, transport: "tls", ca: tls.caPem, servername: "127.0.0.1", sasl_mechanisms: sasl, reconnect: false });
  return new Promise((resolve, reject) => {
    connection.on("connection_open", () => resolve(connection));
    connection.on("connection_error", (c) => reject(new Error(String((c.connection as { transport_error?: Error }).transport_error?.message ?? "connection error"))));
    connection.on("disconnected", (c) => reject(new Error(`disconnected: ${String((c.error as Error | undefined)?.message ?? "")}`)));
  });
}

type Answer = { props: Map<string, [string, unknown]>; correlation: unknown; body: unknown };
const pairs = new WeakMap<RawConnection, Map<string, (m: Record<string, unknown>) => Promise<Answer>>>();

/**
 * Sends requests to `<node>` over one sender/receiver pair of that address (as uamqp does; no
 * reply-to) and resolves each with its answer's raw application properties, by correlation-id.
 */
function requester(connection: RawConnection, node: string): (message: Record<string, unknown>) => Promise<Answer> {
  const byNode = pairs.get(connection) ?? new Map<string, (m: Record<string, unknown>) => Promise<Answer>>();
  pairs.set(connection, byNode);
  const existing = byNode.get(node);
  if (existing !== undefined) return existing;
  const waiting = new Map<unknown, (a: Answer) => void>();
  const receiver = connection.open_receiver({ source: { address: node }, target: { address: node }, credit_window: 10 });
  receiver.on("message", (c) => {
    const m = c.message as { correlation_id?: unknown; body?: unknown };
    waiting.get(m.correlation_id)?.({ props: typedApplicationProperties(raw[raw.length - 1] ?? Buffer.alloc(0)), correlation: m.correlation_id, body: m.body });
  });
  const sender = connection.open_sender({ target: { address: node }, source: { address: node } });
  const ready = new Promise((r) => sender.on("sendable", r));
  const send = async (message: Record<string, unknown>) => {
    await ready;
    const answered = new Promise<Answer>((resolve) => waiting.set(message.message_id, resolve));
    sender.send(message);
    return answered;
  };
  byNode.set(node, send);
  return send;
}
const request = (connection: RawConnection, node: string, message: Record<string, unknown>) => requester(connection, node)(message);

test("SASL: MSSBCBS is offered (uamqp asks for it); PLAIN with any password is not", { timeout: 20_000 }, async () => {
  const connection = await connect("MSSBCBS");
  connection.close();
  await assert.rejects(connect("PLAIN"), /No suitable mechanism; server supports .*MSSBCBS/);
});

test("$cbs put-token without reply-to is answered on the paired link, status-code an AMQP int, correlated by message-id", { timeout: 20_000 }, async () => {
  const connection = await connect();
  try {
    const audience = `sb://127.0.0.1/wire`;
    const good = await request(connection, "$cbs", { message_id: 7, body: sasToken(audience), application_properties: { operation: "put-token", type: "servicebus.windows.net:sastoken", name: audience } });
    assert.deepEqual(good.props.get("status-code"), ["Int", 202]);
    assert.equal(good.props.get("status-description")?.[0], "Str8");
    assert.equal(good.correlation, 7);
    const bad = await request(connection, "$cbs", { message_id: 8, body: sasToken(audience, Buffer.from("wrong").toString("base64")), application_properties: { operation: "put-token", type: "servicebus.windows.net:sastoken", name: audience } });
    assert.deepEqual(bad.props.get("status-code"), ["Int", 401]);
  } finally {
    connection.close();
  }
});

test("$management answers carry statusCode as an AMQP int, and errorCondition (a symbol) on failure", { timeout: 20_000 }, async () => {
  const connection = await connect();
  try {
    const audience = `sb://127.0.0.1/wire`;
    await request(connection, "$cbs", { message_id: 1, body: sasToken(audience), application_properties: { operation: "put-token", type: "servicebus.windows.net:sastoken", name: audience } });
    const empty = await request(connection, "wire/$management", { message_id: randomUUID(), body: { "from-sequence-number": 1, "message-count": 5 }, application_properties: { operation: "com.microsoft:peek-message" } });
    assert.deepEqual(empty.props.get("statusCode"), ["Int", 204]);
    const lost = await request(connection, "wire/$management", { message_id: randomUUID(), body: { "lock-tokens": [] , "session-id": "nobody" }, application_properties: { operation: "com.microsoft:renew-session-lock" } });
    assert.deepEqual(lost.props.get("statusCode"), ["Int", 410]);
    assert.deepEqual(lost.props.get("errorCondition"), ["Sym8", "com.microsoft:session-lock-lost"]);
    const unknown = await request(connection, "wire/$management", { message_id: randomUUID(), body: {}, application_properties: { operation: "com.microsoft:no-such-operation" } });
    assert.deepEqual(unknown.props.get("statusCode"), ["Int", 501]);
  } finally {
    connection.close();
  }
});

test("a message over 256 KB sent despite the link's max-message-size is rejected with amqp:link:message-size-exceeded; the link goes on", { timeout: 20_000 }, async () => {
  const connection = await connect();
  try {
    const audience = `sb://127.0.0.1/wire`;
    await request(connection, "$cbs", { message_id: 1, body: sasToken(audience), application_properties: { operation: "put-token", type: "servicebus.windows.net:sastoken", name: audience } });
    const sender = connection.open_sender({ target: { address: "wire" } });
    const attached = new Promise<number | undefined>((resolve) => sender.on("sendable", (c) => resolve(((c.sender as { remote: { attach?: { max_message_size?: number } } }).remote.attach?.max_message_size))));
    assert.equal(await attached, 256 * 1024, "the link advertises the service's limit");
    const outcome = (m: unknown) =>
      new Promise<{ state: string; condition?: string }>((resolve) => {
        const delivery = sender.send(m) as { id: number };
        const settle = (state: string) => (c: Record<string, unknown>) => {
          const d = c.delivery as { id: number; remote_state?: { error?: { condition?: string } } };
          if (d.id === delivery.id) resolve({ state, ...(d.remote_state?.error?.condition === undefined ? {} : { condition: d.remote_state.error.condition }) });
        };
        sender.on("accepted", settle("accepted"));
        sender.on("rejected", settle("rejected"));
      });
    const before = peer.stats();
    assert.deepEqual(await outcome({ body: Buffer.alloc(300 * 1024, 1) }), { state: "rejected", condition: "amqp:link:message-size-exceeded" });
    assert.deepEqual(await outcome({ body: Buffer.alloc(200 * 1024, 1) }), { state: "accepted" });
    assert.equal(peer.stats().refusedMessages - before.refusedMessages, 1);
    assert.equal(peer.depth("wire").active, 1, "only the message within the limit was stored");
  } finally {
    connection.close();
  }
});
