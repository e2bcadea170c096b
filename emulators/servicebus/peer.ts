import { createRequire } from "node:module";
import type { Server, Socket } from "node:net";
import type { PeerConfig, PolicyDef, QueueDef, Right } from "./config.js";
import { bareMessageOffset, withBareMessage } from "./bare-message.js";
import { Queue, type AmqpMessage, type StoredMessage } from "./queue.js";
import { allows, entityOf, SasError, verifySasToken, type Grant } from "./sas.js";

// rhea's typings lag its runtime (link.remote/local, outcomes): the peer uses these shapes.
interface Terminus {
  address?: string;
  filter?: Record<string, unknown>;
}
interface Link {
  name: string;
  remote: { attach?: { source?: Terminus; target?: Terminus; snd_settle_mode?: number; rcv_settle_mode?: number } };
  local: { attach: Record<string, unknown> };
  close(error?: unknown): void;
  is_open(): boolean;
  set_source(fields: Record<string, unknown>): void;
  set_target(fields: Record<string, unknown>): void;
}
type Receiver = Link;
interface Sender extends Link {
  /** With a format, `message` is the encoded payload, sent as is. */
  send(message: unknown, tag?: Buffer, format?: number): unknown;
  sendable(): boolean;
  set_drained(drained: boolean): void;
}
type Message = Record<string, unknown> & { application_properties?: Record<string, unknown>; body?: unknown; reply_to?: unknown; message_id?: unknown };
interface Delivery {
  tag: Buffer;
  format?: number;
  remote_settled?: boolean;
  remote_state?: { error?: { condition?: string; description?: string; info?: Record<string, unknown> }; described?: () => unknown };
  update(settled: boolean, state?: unknown): void;
}
interface Connection {
  container_id: string;
  each_sender(action: (s: Sender) => void): void;
}
interface EventContext {
  connection: Connection;
  sender?: unknown;
  receiver?: unknown;
  message?: unknown;
  delivery?: unknown;
}
interface Rhea {
  create_container(options: { id: string }): {
    sasl_server_mechanisms: { enable_anonymous(): void; enable_plain(verify: () => boolean): void };
    on(event: string, handler: (context: EventContext) => void): void;
    listen(options: Record<string, unknown>): unknown;
  };
  types: { wrap_long(n: number): unknown };
  message: { encode(m: unknown): Buffer; decode(b: Buffer): unknown; rejected(fields: { error?: unknown }): { described(): unknown } };
}
const rhea = createRequire(import.meta.url)("rhea") as Rhea;

const BATCH_FORMAT = 0x80013700;
const SESSION_FILTER = "com.microsoft:session-filter";
const LOCKED_UNTIL = "com.microsoft:locked-until-utc";
const MAX_MESSAGE_SIZE = 256 * 1024;
/** .NET ticks at the Unix epoch: the SDK reads session lock expiry in ticks. */
const EPOCH_TICKS = 621355968000000000n;

/**
 * rhea writes every frame with its own socket.write: with Nagle off, one TCP segment and
 * one syscall each. Corking until the end of the tick sends the frames one turn produces
 * (say, a pump delivering a batch to a receiver) in one write, as a broker would.
 */
function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket["write"];
}

export interface PeerStats {
  connections: number;
  messagesSent: number;
  /** Message transfers received: a batch is one transfer carrying many messages. */
  transfersReceived: number;
  messagesDelivered: number;
  /** Deliveries whose bare message went out as the sender encoded it (batched sends). */
  deliveredAsReceived: number;
  putTokens: number;
  refusedTokens: number;
  refusedLinks: number;
}

/** The connection string the SDK uses for a policy of a peer at host:port. */
export function peerConnectionString(host: string, port: number, policy: PolicyDef): string {
  return `Endpoint=sb://${host}:${port};SharedAccessKeyName=${policy.name};SharedAccessKey=${policy.key};UseDevelopmentEmulator=true`;
}

export interface ServiceBusPeer {
  port: number;
  host: string;
  connectionString(policyName: string): string;
  addQueue(def: QueueDef): void;
  addPolicy(def: PolicyDef): void;
  /** Messages waiting in a queue (and its dead-letter queue). */
  depth(queue: string): { active: number; deadLetter: number };
  stats(): PeerStats;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

interface ReceiverLink {
  sender: Sender;
  queue: Queue;
  sessionId: string | undefined;
  receiveAndDelete: boolean;
  connection: Connection;
  tokens: Set<string>;
}

function ticks(ms: number): unknown {
  return rhea.types.wrap_long(Number(EPOCH_TICKS + BigInt(ms) * 10_000n));
}

/**
 * The SDK shows a lock token as a .NET GUID of the delivery tag (its first three groups
 * byte-swapped) and sends that GUID back in $management requests: swap back to the tag's hex,
 * which is what the queue knows the lock by.
 */
function tagOfLockToken(token: unknown): string {
  const tag = Buffer.isBuffer(token) ? Buffer.from(token) : Buffer.from(String(token).replace(/-/g, ""), "hex");
  if (tag.length === 16) for (const [from, to] of [[0, 4], [4, 6], [6, 8]] as const) tag.subarray(from, to).reverse();
  return tag.toString("hex");
}

function errorCondition(condition: string, description: string) {
  return { condition, description };
}

/**
 * A local AMQP 1.0 peer that the unmodified @azure/service-bus SDK talks to
 * (UseDevelopmentEmulator=true): SAS-authorized links through $cbs, queues with peekLock,
 * sessions, dead-lettering, TTL, and the $management operations the SDK uses.
 */
export async function startServiceBusPeer(options: { port?: number; host?: string; config: PeerConfig }): Promise<ServiceBusPeer> {
  const host = options.host ?? "127.0.0.1";
  const policies: PolicyDef[] = [...options.config.policies];
  const queues = new Map<string, Queue>();
  const grants = new WeakMap<Connection, Grant[]>();
  const receivers = new Set<ReceiverLink>();
  const connections = new Set<Connection>();
  const counters: PeerStats = { connections: 0, messagesSent: 0, transfersReceived: 0, messagesDelivered: 0, deliveredAsReceived: 0, putTokens: 0, refusedTokens: 0, refusedLinks: 0 };
  const addQueue = (def: QueueDef) => queues.set(def.name.toLowerCase(), new Queue(def));
  for (const q of options.config.queues) addQueue(q);

  const queueOf = (address: string): Queue | undefined => {
    const lower = address.toLowerCase();
    const base = queues.get(entityOf(lower));
    if (base === undefined) return undefined;
    return lower.endsWith("/$deadletterqueue") ? base.deadLetter : base;
  };

  const authorized = (connection: Connection, address: string, right: Right): boolean => {
    const entity = entityOf(address);
    const now = Date.now();
    return (grants.get(connection) ?? []).some((g) => allows(g, entity, right, now));
  };

  const refuse = (link: Sender | Receiver, condition: string, description: string) => {
    counters.refusedLinks += 1;
    link.close(errorCondition(condition, description));
  };

  /** The link a request/response client receives on: named by (or targeted at) the request's reply_to. */
  const replyLink = (connection: Connection, replyTo: unknown, source: (s: string) => boolean): Sender | undefined => {
    let found: Sender | undefined;
    connection.each_sender((l) => {
      const src = String(l.remote.attach?.source?.address ?? "");
      const tgt = String(l.remote.attach?.target?.address ?? "");
      if (found === undefined && source(src) && (tgt === replyTo || l.name === replyTo)) found = l;
    });
    return found;
  };

  // ---------------------------------------------------------------- delivery

  const deliver = (link: ReceiverLink, m: StoredMessage, now: number) => {
    const annotations: Record<string, unknown> = {
      ...(m.message.message_annotations ?? {}),
      "x-opt-sequence-number": rhea.types.wrap_long(m.sequenceNumber),
      "x-opt-enqueued-time": new Date(m.enqueuedAt),
    };
    let tag: Buffer;
    if (link.receiveAndDelete) {
      link.queue.remove(m);
      tag = Buffer.from(crypto.randomUUID().replace(/-/g, ""), "hex");
    } else {
      const token = link.queue.lock(m, now);
      link.tokens.add(token);
      annotations["x-opt-locked-until"] = new Date(m.lockedUntil);
      tag = Buffer.from(token, "hex");
    }
    if (m.bare !== undefined && m.deadLetterReason === undefined) {
      // Only the header and annotations are the broker's to write; the bare message goes as received.
      const { durable, priority, ttl, first_acquirer, delivery_annotations } = m.message;
      const payload = withBareMessage(rhea.message.encode({ durable, priority, ttl, first_acquirer, delivery_count: m.failedDeliveries, delivery_annotations, message_annotations: annotations }), m.bare);
      if (payload !== undefined) {
        link.sender.send(payload, tag, 0);
        counters.messagesDelivered += 1;
        counters.deliveredAsReceived += 1;
        return;
      }
    }
    const out: AmqpMessage = { ...m.message, message_annotations: annotations, delivery_count: m.failedDeliveries };
    if (m.deadLetterReason !== undefined) {
      out.application_properties = { ...(m.message.application_properties ?? {}), DeadLetterReason: m.deadLetterReason, DeadLetterErrorDescription: m.deadLetterDescription ?? "" };
    }
    link.sender.send(out, tag);
    counters.messagesDelivered += 1;
  };

  const pump = (queue: Queue) => {
    const now = Date.now();
    for (const link of receivers) {
      if (link.queue !== queue || !link.sender.is_open()) continue;
      while (link.sender.sendable()) {
        const m = queue.next(now, queue.requiresSession ? link.sessionId : undefined);
        if (m === undefined || (queue.requiresSession && link.sessionId === undefined)) break;
        deliver(link, m, now);
      }
    }
  };

  const pumpAll = () => {
    for (const q of queues.values()) {
      pump(q);
      if (q.deadLetter !== undefined) pump(q.deadLetter);
    }
  };

  const settleByToken = (queue: Queue, token: string, status: "completed" | "abandoned" | "suspended" | "defered", reason?: string, description?: string): boolean => {
    const m = queue.byLockToken(token);
    if (m === undefined || m.lockedUntil <= Date.now()) return false;
    const now = Date.now();
    if (status === "completed") queue.complete(m);
    else if (status === "suspended") queue.moveToDeadLetter(m, reason, description, now);
    else queue.abandon(m, now);
    return true;
  };

  // ---------------------------------------------------------------- $cbs and $management

  const onPutToken = (context: EventContext, msg: Message) => {
    const connection = context.connection;
    const props = (msg.application_properties ?? {}) as Record<string, unknown>;
    let status = 202;
    let description = "Accepted";
    if (props.operation !== "put-token") {
      status = 400;
      description = "unsupported operation";
    } else {
      try {
        const grant = verifySasToken(String(msg.body ?? ""), policies, Date.now());
        const list = grants.get(connection) ?? [];
        list.push(grant);
        grants.set(connection, list);
        counters.putTokens += 1;
      } catch (e) {
        counters.refusedTokens += 1;
        status = 401;
        description = e instanceof SasError ? e.message : "unauthorized";
      }
    }
    replyLink(connection, msg.reply_to, (s) => s === "$cbs")?.send({
      correlation_id: msg.message_id,
      application_properties: { "status-code": status, "status-description": description },
    });
  };

  const onManagement = (context: EventContext, msg: Message, address: string) => {
    const queue = queueOf(address.replace(/\/\$management$/i, ""));
    const props = (msg.application_properties ?? {}) as Record<string, unknown>;
    const body = (msg.body ?? {}) as Record<string, unknown>;
    const now = Date.now();
    let status = 200;
    let result: Record<string, unknown> = {};
    const tokensOf = (v: unknown): string[] => (Array.isArray(v) ? v : []).map(tagOfLockToken);
    if (queue === undefined) status = 404;
    else {
      switch (props.operation) {
        case "com.microsoft:renew-lock": {
          const expirations: Date[] = [];
          for (const t of tokensOf(body["lock-tokens"])) {
            const m = queue.byLockToken(t);
            if (m === undefined || m.lockedUntil <= now) {
              status = 410;
              break;
            }
            expirations.push(new Date(queue.renew(m, now)));
          }
          result = { expirations };
          break;
        }
        case "com.microsoft:renew-session-lock": {
          const id = String(body["session-id"] ?? "");
          const lock = queue.sessionLocks.get(id);
          if (lock === undefined) status = 410;
          else {
            lock.lockedUntil = now + queue.lockMs;
            result = { expiration: new Date(lock.lockedUntil) };
          }
          break;
        }
        case "com.microsoft:update-disposition": {
          const s = String(body["disposition-status"] ?? "") as "completed" | "abandoned" | "suspended" | "defered";
          for (const t of tokensOf(body["lock-tokens"])) {
            if (!settleByToken(queue, t, s, body["deadletter-reason"] as string | undefined, body["deadletter-description"] as string | undefined)) status = 410;
          }
          pumpAll();
          break;
        }
        case "com.microsoft:peek-message": {
          const from = Number(body["from-sequence-number"] ?? 1);
          const count = Number(body["message-count"] ?? 1);
          const found = queue.peek(from, count, now);
          if (found.length === 0) status = 204;
          else
            result = {
              messages: found.map((m) => ({
                message: rhea.message.encode({ ...m.message, message_annotations: { ...(m.message.message_annotations ?? {}), "x-opt-sequence-number": rhea.types.wrap_long(m.sequenceNumber), "x-opt-enqueued-time": new Date(m.enqueuedAt) } }),
              })),
            };
          break;
        }
        case "com.microsoft:get-session-state": {
          const state = queue.sessionState.get(String(body["session-id"] ?? ""));
          result = { "session-state": state ?? null };
          break;
        }
        case "com.microsoft:set-session-state": {
          const state = body["session-state"];
          queue.sessionState.set(String(body["session-id"] ?? ""), Buffer.isBuffer(state) ? state : Buffer.alloc(0));
          break;
        }
        default:
          status = 501;
      }
    }
    replyLink(context.connection, msg.reply_to, (s) => s.toLowerCase().endsWith("$management"))?.send({
      correlation_id: msg.message_id,
      application_properties: { statusCode: status, statusDescription: status < 300 ? "OK" : "failed", "status-code": status },
      body: result,
    });
  };

  // ---------------------------------------------------------------- AMQP events

  const container = rhea.create_container({ id: "writeback-servicebus-peer" });
  container.sasl_server_mechanisms.enable_anonymous();
  container.sasl_server_mechanisms.enable_plain(() => true);

  container.on("connection_open", (context: EventContext) => {
    connections.add(context.connection);
    counters.connections += 1;
  });

  // Service Bus echoes the link's termini in its attach; the SDK reads them (session filter).
  const echoTermini = (link: Link, filter?: Record<string, unknown>) => {
    const source = link.remote.attach?.source;
    const target = link.remote.attach?.target;
    if (source !== undefined && source !== null) link.set_source({ address: source.address, ...(filter ?? source.filter ? { filter: filter ?? source.filter } : {}) });
    if (target !== undefined && target !== null) link.set_target({ address: target.address });
  };

  container.on("receiver_open", (context: EventContext) => {
    const receiver = context.receiver as Receiver;
    echoTermini(receiver);
    const address = String(receiver.remote.attach?.target?.address ?? "");
    (receiver.local.attach as { max_message_size?: number }).max_message_size = MAX_MESSAGE_SIZE;
    if (address === "$cbs") return;
    const isManagement = address.toLowerCase().endsWith("/$management");
    if (queueOf(address.replace(/\/\$management$/i, "")) === undefined) return refuse(receiver, "amqp:not-found", `The messaging entity '${entityOf(address)}' could not be found.`);
    const ok = isManagement ? ["Listen", "Send", "Manage"].some((r) => authorized(context.connection, address, r as Right)) : authorized(context.connection, address, "Send");
    if (!ok) refuse(receiver, "amqp:unauthorized-access", `Unauthorized access. '${isManagement ? "Listen" : "Send"}' claim(s) are required to perform this operation.`);
  });

  container.on("sender_open", (context: EventContext) => {
    const sender = context.sender as Sender;
    echoTermini(sender);
    const source = sender.remote.attach?.source;
    const address = String(source?.address ?? "");
    if (address === "$cbs" || address.toLowerCase().endsWith("/$management")) {
      if (address !== "$cbs" && !["Listen", "Send", "Manage"].some((r) => authorized(context.connection, address, r as Right))) refuse(sender, "amqp:unauthorized-access", "Unauthorized access.");
      return;
    }
    const queue = queueOf(address);
    if (queue === undefined) return refuse(sender, "amqp:not-found", `The messaging entity '${entityOf(address)}' could not be found.`);
    if (!authorized(context.connection, address, "Listen")) return refuse(sender, "amqp:unauthorized-access", "Unauthorized access. 'Listen' claim(s) are required to perform this operation.");
    const remote = sender.remote.attach as { snd_settle_mode?: number; rcv_settle_mode?: number };
    const local = sender.local.attach as { snd_settle_mode?: number; rcv_settle_mode?: number; properties?: Record<string, unknown> };
    local.snd_settle_mode = remote.snd_settle_mode;
    local.rcv_settle_mode = remote.rcv_settle_mode;
    let sessionId: string | undefined;
    if (queue.requiresSession) {
      const filters = (source?.filter ?? {}) as Record<string, unknown>;
      const wanted = filters[SESSION_FILTER];
      const now = Date.now();
      queue.sweep(now);
      if (wanted !== undefined && wanted !== null && String(wanted) !== "") {
        const lock = queue.sessionLocks.get(String(wanted));
        if (lock !== undefined && lock.lockedUntil > now) {
          // Echo no session filter: the SDK decides from the attach (before the detach) whether it
          // got the session; an echoed id would make it take the refused link for a locked session.
          sender.set_source({ address });
          return refuse(sender, "com.microsoft:session-cannot-be-locked", `The requested session '${String(wanted)}' cannot be accepted. It may be locked by another receiver.`);
        }
        sessionId = String(wanted);
      } else {
        sessionId = queue.sessionsWithMessages(now).find((id) => !queue.sessionLocks.has(id));
        if (sessionId === undefined) return refuse(sender, "com.microsoft:timeout", "No unlocked sessions were available.");
      }
      const lockedUntil = now + queue.lockMs;
      queue.sessionLocks.set(sessionId, { owner: `${context.connection.container_id}/${sender.name}`, lockedUntil });
      echoTermini(sender, { ...(source?.filter ?? {}), [SESSION_FILTER]: sessionId });
      local.properties = { ...(local.properties ?? {}), [LOCKED_UNTIL]: ticks(lockedUntil) };
    }
    // rhea only answers a drain when credit remains; the SDK needs the answer either way.
    (sender as unknown as { _get_drain: () => boolean })._get_drain = function (this: { _draining: boolean; _drained: boolean; credit: number; delivery_count: number }) {
      if (this._draining && this._drained) {
        while (this.credit > 0) {
          this.delivery_count += 1;
          this.credit -= 1;
        }
        return true;
      }
      return false;
    };
    receivers.add({ sender, queue, sessionId, receiveAndDelete: remote.snd_settle_mode === 1, connection: context.connection, tokens: new Set() });
    setImmediate(() => pump(queue));
  });

  container.on("sendable", (context: EventContext) => {
    for (const l of receivers) if (l.sender === context.sender) pump(l.queue);
  });

  container.on("sender_draining", (context: EventContext) => {
    const link = [...receivers].find((l) => l.sender === context.sender);
    if (link !== undefined) pump(link.queue);
    (context.sender as Sender).set_drained(true);
  });

  container.on("message", (context: EventContext) => {
    const receiver = context.receiver as Receiver;
    const address = String(receiver.remote.attach?.target?.address ?? "");
    const msg = context.message as Message;
    if (address === "$cbs") return onPutToken(context, msg);
    if (address.toLowerCase().endsWith("/$management")) return onManagement(context, msg, address);
    const queue = queueOf(address);
    if (queue === undefined) return;
    const now = Date.now();
    const delivery = context.delivery as Delivery;
    counters.transfersReceived += 1;
    if (delivery.format === BATCH_FORMAT) {
      // rhea hands a delivery of a non-zero message format over undecoded (a Buffer): the batch
      // envelope is an ordinary AMQP message whose data sections each hold one encoded message.
      const envelope = (Buffer.isBuffer(msg) ? rhea.message.decode(msg) : msg) as Message;
      const body = envelope.body as { content?: unknown } | undefined;
      const parts = Array.isArray(body?.content) ? body.content : body?.content === undefined ? [] : [body.content];
      for (const part of parts) {
        const encoded = part as Buffer;
        const bareAt = bareMessageOffset(encoded);
        // A copy: a view would keep the whole batch's buffer alive while this message waits.
        queue.enqueue(rhea.message.decode(encoded) as unknown as AmqpMessage, now, undefined, bareAt === undefined ? undefined : Buffer.from(encoded.subarray(bareAt)));
      }
      counters.messagesSent += parts.length;
    } else {
      queue.enqueue(msg as unknown as AmqpMessage, now);
      counters.messagesSent += 1;
    }
    pump(queue);
  });

  // The SDK answers a delivery with an unsettled outcome and waits for ours; once we settle,
  // the exchange is over and it writes nothing more. rhea frees a session slot only when both
  // sides settled, so without this every session stalls after 2,048 deliveries (its window).
  const settledOnBothSides = (delivery: Delivery) => {
    (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
  };

  const onOutcome = (status: "completed" | "abandoned" | "suspended") => (context: EventContext) => {
    const delivery = context.delivery as Delivery;
    const link = [...receivers].find((l) => l.sender === context.sender);
    if (link === undefined) {
      // The link is already gone (detached, or dropped with its connection): the lock went with it.
      if (!delivery.remote_settled) {
        delivery.update(true, rhea.message.rejected({ error: errorCondition("com.microsoft:message-lock-lost", "The lock supplied is invalid. The receiving link is closed.") }).described());
        settledOnBothSides(delivery);
      }
      return;
    }
    const token = Buffer.from(delivery.tag).toString("hex");
    link.tokens.delete(token);
    const info = delivery.remote_state?.error?.info ?? {};
    const ok = settleByToken(link.queue, token, status, (info.DeadLetterReason as string | undefined) ?? delivery.remote_state?.error?.condition, (info.DeadLetterErrorDescription as string | undefined) ?? delivery.remote_state?.error?.description);
    if (!delivery.remote_settled) {
      // Echo the outcome, but not a dead-letter's error: the SDK fails a settlement whose answer carries one.
      if (ok) delivery.update(true, status === "suspended" ? rhea.message.rejected({}).described() : delivery.remote_state?.described?.());
      else delivery.update(true, rhea.message.rejected({ error: errorCondition("com.microsoft:message-lock-lost", "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.") }).described());
      settledOnBothSides(delivery);
    }
    pump(link.queue);
  };
  container.on("accepted", onOutcome("completed"));
  container.on("released", onOutcome("abandoned"));
  container.on("modified", onOutcome("abandoned"));
  container.on("rejected", onOutcome("suspended"));

  const forget = (predicate: (l: ReceiverLink) => boolean) => {
    for (const l of [...receivers]) {
      if (!predicate(l)) continue;
      receivers.delete(l);
      if (l.sessionId !== undefined) l.queue.sessionLocks.delete(l.sessionId);
    }
  };
  container.on("sender_close", (context: EventContext) => forget((l) => l.sender === context.sender));
  const dropConnection = (context: EventContext) => {
    connections.delete(context.connection);
    for (const l of receivers) if (l.connection === context.connection) l.queue.release(l.tokens);
    forget((l) => l.connection === context.connection);
    pumpAll();
  };
  container.on("connection_close", dropConnection);
  container.on("disconnected", dropConnection);
  container.on("error", () => {});

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const q of queues.values()) {
      q.sweep(now);
      q.deadLetter?.sweep(now);
    }
    pumpAll();
  }, 100);
  sweeper.unref();

  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = options.port ?? 5672;
  const listen = async () => {
    server = container.listen({ port, host, tcp_no_delay: true }) as Server;
    server.on("connection", (socket: Socket) => {
      socket.setNoDelay(true);
      coalesceWrites(socket);
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server?.once("listening", () => resolve());
      server?.once("error", reject);
    });
    const address = server.address();
    if (address !== null && typeof address === "object") port = address.port;
  };
  const close = async () => {
    // Destroying with an error makes rhea see the disconnect (it listens for 'error'/'end',
    // not 'close'); a bare destroy() leaves its heartbeat timers running forever.
    for (const s of sockets) s.destroy(new Error("Service Bus peer stopped"));
    sockets.clear();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    server = undefined;
    for (const l of receivers) l.queue.release(l.tokens);
    receivers.clear();
    for (const q of queues.values()) q.sessionLocks.clear();
  };
  await listen();

  return {
    get port() {
      return port;
    },
    host,
    connectionString(policyName) {
      const policy = policies.find((p) => p.name === policyName);
      if (policy === undefined) throw new Error(`no policy ${policyName}`);
      return peerConnectionString(host, port, policy);
    },
    addQueue,
    addPolicy: (def) => policies.push(def),
    depth(name) {
      const q = queues.get(name.toLowerCase());
      return { active: q?.length ?? 0, deadLetter: q?.deadLetter?.length ?? 0 };
    },
    stats: () => ({ ...counters }),
    async stop() {
      clearInterval(sweeper);
      await close();
    },
    async restart() {
      await close();
      await listen();
    },
  };
}
