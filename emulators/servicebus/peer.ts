import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { selfSignedCertificate } from "../certificate.js";
import { amqpError, rhea, sizeOfDispatchedMessage, type Connection, type Delivery, type EventContext, type Link, type Message, type Receiver, type Sender } from "./amqp.js";
import type { PeerConfig, PolicyDef, QueueDef, Right } from "./config.js";
import { bareMessageOffset, withBareMessage } from "./bare-message.js";
import { handleManagement, lockTokenOfTag, type Disposition, type ManagementAnswer } from "./management.js";
import { MESSAGE_STATE_CODE, Queue, type AmqpMessage, type StoredMessage } from "./queue.js";
import { allows, entityOf, SasError, verifySasToken, type Grant } from "./sas.js";

const BATCH_FORMAT = 0x80013700;
/** The accepted outcome (descriptor 0x24, no fields). */
const ACCEPTED = rhea.message.accepted().described();
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

/** Deliveries queued on the sender's session for this link and not written out yet. */
function pendingDeliveries(sender: Sender): number {
  const out = sender.session.outgoing;
  let n = 0;
  for (let id = out.next_pending_delivery; id < out.next_delivery_id; id++) if (out.deliveries.by_id(id)?.link === sender) n += 1;
  return n;
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
  /** Messages refused for their size (MessageSizeExceeded). */
  refusedMessages: number;
}

/**
 * The connection string for a policy of a peer at host:port: plain TCP through the SDKs'
 * development-emulator switch, or (tls) AMQPS as for Azure, trusting the peer's CA file.
 */
export function peerConnectionString(host: string, port: number, policy: PolicyDef, tls = false): string {
  const keys = `SharedAccessKeyName=${policy.name};SharedAccessKey=${policy.key}`;
  // On 5671, the form Azure shows (no port): uamqp compares the entity URI it builds from it
  // with the attach's source address, which carries no port.
  return tls ? `Endpoint=sb://${port === 5671 ? host : `${host}:${port}`}/;${keys}` : `Endpoint=sb://${host}:${port};${keys};UseDevelopmentEmulator=true`;
}

export interface PeerOptions {
  port?: number;
  host?: string;
  config: PeerConfig;
  /** Also listen with TLS (AMQPS; 5671 is the service's port, 0 picks a free one), with a certificate made at start. */
  tls?: { port?: number };
}

export interface ServiceBusPeer {
  port: number;
  host: string;
  /** The AMQPS listener and the CA certificate (PEM) that signs it, when started with `tls`. */
  tls: { port: number; caPem: string } | undefined;
  connectionString(policyName: string, options?: { tls?: boolean }): string;
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
 * A local AMQP 1.0 peer that the unmodified @azure/service-bus SDK talks to
 * (UseDevelopmentEmulator=true): SAS-authorized links through $cbs, queues with peekLock,
 * sessions, dead-lettering, TTL, and the $management operations the SDK uses.
 */
export async function startServiceBusPeer(options: PeerOptions): Promise<ServiceBusPeer> {
  const host = options.host ?? "127.0.0.1";
  const policies: PolicyDef[] = [...options.config.policies];
  const queues = new Map<string, Queue>();
  const grants = new WeakMap<Connection, Grant[]>();
  const receivers = new Set<ReceiverLink>();
  const connections = new Set<Connection>();
  const counters: PeerStats = { connections: 0, messagesSent: 0, transfersReceived: 0, messagesDelivered: 0, deliveredAsReceived: 0, putTokens: 0, refusedTokens: 0, refusedLinks: 0, refusedMessages: 0 };
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
    link.close(amqpError(condition, description));
  };

  /**
   * Where a request/response answer goes: the sender link named by (or targeted at) reply-to,
   * else the link paired with the requesting one (same session, source = the request's target).
   * Service Bus answers on the pair whatever reply-to says; uamqp's put-token has none.
   */
  const replyLink = (connection: Connection, request: Receiver, replyTo: unknown): Sender | undefined => {
    const node = String(request.remote.attach?.target?.address ?? "").toLowerCase();
    let named: Sender | undefined;
    let paired: Sender | undefined;
    connection.each_sender((l) => {
      if (String(l.remote.attach?.source?.address ?? "").toLowerCase() !== node || !l.is_open()) return;
      const tgt = l.remote.attach?.target?.address;
      if (named === undefined && replyTo !== undefined && replyTo !== null && (tgt === replyTo || l.name === replyTo)) named = l;
      if (paired === undefined && l.session === request.session) paired = l;
    });
    return named ?? paired;
  };

  // ---------------------------------------------------------------- delivery

  /**
   * A stored message as the broker hands it out: its header and annotations written by the
   * broker, then the bare message as the sender encoded it when the peer kept it.
   */
  const encodeStored = (m: StoredMessage, annotations: Record<string, unknown>, deliveryAnnotations?: Record<string, unknown>): { payload: Buffer; asReceived: boolean } => {
    const message_annotations = {
      ...(m.message.message_annotations ?? {}),
      "x-opt-sequence-number": rhea.types.wrap_long(m.sequenceNumber),
      "x-opt-enqueued-time": new Date(m.enqueuedAt),
      ...(m.state === "active" ? {} : { "x-opt-message-state": rhea.types.wrap_int(MESSAGE_STATE_CODE[m.state]) }),
      ...annotations,
    };
    const delivery_annotations = deliveryAnnotations === undefined ? m.message.delivery_annotations : { ...((m.message.delivery_annotations as Record<string, unknown> | undefined) ?? {}), ...deliveryAnnotations };
    if (m.bare !== undefined && m.deadLetterReason === undefined) {
      // Only the header and annotations are the broker's to write; the bare message goes as received.
      const { durable, priority, ttl, first_acquirer } = m.message;
      const payload = withBareMessage(rhea.message.encode({ durable, priority, ttl, first_acquirer, delivery_count: m.failedDeliveries, delivery_annotations, message_annotations }), m.bare);
      if (payload !== undefined) return { payload, asReceived: true };
    }
    const out: AmqpMessage = { ...m.message, message_annotations, delivery_annotations, delivery_count: m.failedDeliveries };
    if (m.deadLetterReason !== undefined) {
      out.application_properties = { ...(m.message.application_properties ?? {}), DeadLetterReason: m.deadLetterReason, DeadLetterErrorDescription: m.deadLetterDescription ?? "" };
    }
    return { payload: rhea.message.encode(out), asReceived: false };
  };

  const deliver = (link: ReceiverLink, m: StoredMessage, now: number) => {
    const annotations: Record<string, unknown> = {};
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
    const { payload, asReceived } = encodeStored(m, annotations);
    link.sender.send(payload, tag, 0);
    counters.messagesDelivered += 1;
    if (asReceived) counters.deliveredAsReceived += 1;
  };

  const pump = (queue: Queue) => {
    const now = Date.now();
    for (const link of receivers) {
      if (link.queue !== queue || !link.sender.is_open()) continue;
      // rhea counts credit down only when a delivery is written out, later in the tick; and the
      // session writes deliveries in order, so one beyond its link's credit would hold back every
      // later transfer on the session (management answers included). Send within the credit.
      let budget = link.sender.credit - pendingDeliveries(link.sender);
      while (budget > 0 && link.sender.sendable()) {
        const m = queue.next(now, queue.requiresSession ? link.sessionId : undefined);
        if (m === undefined || (queue.requiresSession && link.sessionId === undefined)) break;
        deliver(link, m, now);
        budget -= 1;
      }
    }
  };

  const pumpAll = () => {
    for (const q of queues.values()) {
      pump(q);
      if (q.deadLetter !== undefined) pump(q.deadLetter);
    }
  };

  const settleByToken = (queue: Queue, token: string, status: Disposition, deadLetter?: { reason?: string | undefined; description?: string | undefined }, properties?: Record<string, unknown>): boolean => {
    const m = queue.byLockToken(token);
    const now = Date.now();
    if (m === undefined || m.lockedUntil <= now) return false;
    // abandon/defer may carry properties to modify: the service merges them into the annotations.
    if (properties !== undefined && Object.keys(properties).length > 0) m.message.message_annotations = { ...(m.message.message_annotations ?? {}), ...properties };
    if (status === "completed") queue.complete(m);
    else if (status === "suspended") queue.moveToDeadLetter(m, deadLetter?.reason, deadLetter?.description, now);
    else if (status === "defered") queue.defer(m);
    else queue.abandon(m, now);
    return true;
  };

  // ---------------------------------------------------------------- $cbs and $management

  const onPutToken = (context: EventContext, msg: Message) => {
    const connection = context.connection;
    const props = msg.application_properties ?? {};
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
    // CBS answers name their fields status-code / status-description; the code is an AMQP int.
    replyLink(connection, context.receiver as Receiver, msg.reply_to)?.send({
      correlation_id: msg.message_id,
      application_properties: { "status-code": rhea.types.wrap_int(status), "status-description": description },
    });
  };

  const answerManagement = (context: EventContext, msg: Message, answer: ManagementAnswer) => {
    replyLink(context.connection, context.receiver as Receiver, msg.reply_to)?.send({
      correlation_id: msg.message_id,
      application_properties: {
        statusCode: rhea.types.wrap_int(answer.status),
        statusDescription: answer.description,
        ...(answer.condition === undefined ? {} : { errorCondition: rhea.types.wrap_symbol(answer.condition) }),
      },
      ...(answer.body === undefined ? {} : { body: answer.body }),
    });
  };

  const onManagement = (context: EventContext, msg: Message, address: string) => {
    const entityAddress = address.replace(/\/\$management$/i, "");
    const queue = queueOf(entityAddress);
    const props = msg.application_properties ?? {};
    const body = msg.body !== null && typeof msg.body === "object" && !Buffer.isBuffer(msg.body) ? (msg.body as Record<string, unknown>) : {};
    if (queue === undefined) return answerManagement(context, msg, { status: 404, condition: "amqp:not-found", description: `The messaging entity '${entityOf(address)}' could not be found.` });
    let answer: ManagementAnswer;
    try {
      answer = handleManagement(
        {
          queue,
          now: Date.now(),
          can: (right) => authorized(context.connection, entityAddress, right),
          encode: (m, lockToken) =>
            encodeStored(m, lockToken === undefined ? {} : { "x-opt-locked-until": new Date(m.lockedUntil) }, lockToken === undefined ? undefined : { "x-opt-lock-token": rhea.types.wrap_uuid(lockTokenOfTag(lockToken)) }).payload,
          settle: (token, status, deadLetter, properties) => settleByToken(queue, token, status, deadLetter, properties),
          schedule: (encoded) => {
            const bareAt = bareMessageOffset(encoded);
            return queue.enqueue(rhea.message.decode(encoded) as AmqpMessage, Date.now(), undefined, bareAt === undefined ? undefined : Buffer.from(encoded.subarray(bareAt)));
          },
          changed: pumpAll,
        },
        props.operation,
        body,
      );
    } catch (e) {
      answer = { status: 500, condition: "amqp:internal-error", description: e instanceof Error ? e.message : "internal error" };
    }
    answerManagement(context, msg, answer);
  };

  // ---------------------------------------------------------------- AMQP events

  const container = rhea.create_container({ id: "writeback-servicebus-peer" });
  // What Service Bus offers: MSSBCBS (authorization comes later through $cbs; uamqp asks for it)
  // and ANONYMOUS (what rhea-based clients pick). No PLAIN that would accept any password.
  container.sasl_server_mechanisms.MSSBCBS = () => ({
    outcome: undefined as boolean | undefined,
    start() {
      this.outcome = true;
    },
  });
  container.sasl_server_mechanisms.enable_anonymous();

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
      const filters = source?.filter ?? {};
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
    const size = sizeOfDispatchedMessage(msg);
    if (address === "$cbs" || address.toLowerCase().endsWith("/$management")) {
      // Settle the request before answering, as the service does: uamqp drops an answer that
      // arrives before its request's disposition (rhea writes a turn's transfers before its
      // dispositions, so the answer goes out in the next tick).
      (context.delivery as Delivery).update(true, ACCEPTED);
      process.nextTick(() => (address === "$cbs" ? onPutToken(context, msg) : onManagement(context, msg, address)));
      return;
    }
    const queue = queueOf(address);
    if (queue === undefined) return;
    const now = Date.now();
    const delivery = context.delivery as Delivery;
    counters.transfersReceived += 1;
    if (size > MAX_MESSAGE_SIZE) {
      // As the service does: the transfer is refused, nothing of it is stored, the link stays.
      counters.refusedMessages += 1;
      delivery.update(true, rhea.message.rejected({ error: amqpError("amqp:link:message-size-exceeded", `The received message (delivery-id:${delivery.id ?? 0}, size:${size} bytes) exceeds the limit (${MAX_MESSAGE_SIZE} bytes) currently allowed on the link.`) }).described());
      return;
    }
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
        queue.enqueue(rhea.message.decode(encoded) as AmqpMessage, now, undefined, bareAt === undefined ? undefined : Buffer.from(encoded.subarray(bareAt)));
      }
      counters.messagesSent += parts.length;
    } else {
      queue.enqueue(msg, now);
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

  const onOutcome = (outcome: "completed" | "abandoned" | "suspended") => (context: EventContext) => {
    const delivery = context.delivery as Delivery;
    // modified with undeliverable-here is how the SDKs defer a message.
    const status: Disposition = outcome === "abandoned" && delivery.remote_state?.undeliverable_here === true ? "defered" : outcome;
    const link = [...receivers].find((l) => l.sender === context.sender);
    if (link === undefined) {
      // The link is already gone (detached, or dropped with its connection): the lock went with it.
      if (!delivery.remote_settled) {
        delivery.update(true, rhea.message.rejected({ error: amqpError("com.microsoft:message-lock-lost", "The lock supplied is invalid. The receiving link is closed.") }).described());
        settledOnBothSides(delivery);
      }
      return;
    }
    const token = Buffer.from(delivery.tag).toString("hex");
    link.tokens.delete(token);
    const info = delivery.remote_state?.error?.info ?? {};
    const deadLetter = { reason: (info.DeadLetterReason as string | undefined) ?? delivery.remote_state?.error?.condition, description: (info.DeadLetterErrorDescription as string | undefined) ?? delivery.remote_state?.error?.description };
    const ok = settleByToken(link.queue, token, status, deadLetter, delivery.remote_state?.message_annotations);
    if (!delivery.remote_settled) {
      // Echo the outcome, but not a dead-letter's error: the SDK fails a settlement whose answer carries one.
      if (ok) delivery.update(true, status === "suspended" ? rhea.message.rejected({}).described() : delivery.remote_state?.described?.());
      else delivery.update(true, rhea.message.rejected({ error: amqpError("com.microsoft:message-lock-lost", "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.") }).described());
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

  const certificate = options.tls === undefined ? undefined : selfSignedCertificate();
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let port = options.port ?? 5672;
  let tlsPort = options.tls?.port ?? 5671;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const listenOn = async (listenPort: number, tls: boolean): Promise<number> => {
    const server = container.listen({ port: listenPort, host, ...(tls && certificate !== undefined ? { transport: "tls", key: certificate.key, cert: certificate.cert } : {}) }) as Server;
    servers.push(server);
    server.on("connection", (socket: Socket) => {
      socket.setNoDelay(true);
      if (!tls) coalesceWrites(socket);
      track(socket);
    });
    // With TLS, rhea reads and writes the TLS socket: that is the one whose writes to coalesce.
    if (tls)
      server.on("secureConnection", (socket: TLSSocket) => {
        coalesceWrites(socket);
        track(socket);
      });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", () => resolve());
      server.once("error", reject);
    });
    const address = server.address();
    return address !== null && typeof address === "object" ? address.port : listenPort;
  };
  const listen = async () => {
    port = await listenOn(port, false);
    if (certificate !== undefined) tlsPort = await listenOn(tlsPort, true);
  };
  const close = async () => {
    // Destroying with an error makes rhea see the disconnect (it listens for 'error'/'end',
    // not 'close'); a bare destroy() leaves its heartbeat timers running forever.
    for (const s of sockets) s.destroy(new Error("Service Bus peer stopped"));
    sockets.clear();
    await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
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
    get tls() {
      return certificate === undefined ? undefined : { port: tlsPort, caPem: certificate.cert };
    },
    connectionString(policyName, connection) {
      const policy = policies.find((p) => p.name === policyName);
      if (policy === undefined) throw new Error(`no policy ${policyName}`);
      return connection?.tls === true ? peerConnectionString(host, tlsPort, policy, true) : peerConnectionString(host, port, policy);
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
