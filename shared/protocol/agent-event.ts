import { constants, createPrivateKey, createPublicKey, sign, verify, type KeyLike } from "node:crypto";
import { publicKeyFromPem } from "./public-key-cache.js";
import { z } from "zod";

/**
 * Events the agent sends on the shared `agent-events` queue (heartbeat, key and disable
 * acknowledgements). They carry nothing secret but must not be forgeable by another
 * tenant's agent, which can also send on that queue: each is signed with the agent's
 * RSA private key (RSA-PSS-SHA256) and verified with the public key registered for the
 * tenant the event claims.
 *
 * Wire: UTF-8 JSON `{"payload": base64(event JSON bytes), "signature": base64(RSA-PSS over those bytes)}`.
 * JSON because the Functions Service Bus trigger hands JSON bodies over as objects; the
 * payload stays base64 so the signed bytes are exactly the bytes verified.
 */
const policySchema = z.object({
  minLength: z.number().int().min(0),
  complexity: z.boolean(),
  historyLength: z.number().int().min(0),
  minAgeSeconds: z.number().min(0),
  maxAgeSeconds: z.number().min(0),
  lockoutThreshold: z.number().int().min(0),
  lockoutDurationSeconds: z.number().min(0),
});

const connectorSchema = z.object({
  domain: z.string().max(255),
  status: z.enum(["healthy", "degraded", "unreachable"]),
  detail: z.string().max(200).optional(),
});

const base = {
  v: z.literal(1),
  tenantId: z.string().uuid(),
  agentId: z.string().min(1).max(100),
  agentVersion: z.string().max(40),
  sentAt: z.string().datetime(),
};

export const agentEventSchema = z.discriminatedUnion("type", [
  z.object({
    ...base,
    type: z.literal("heartbeat"),
    policy: policySchema,
    connectors: z.array(connectorSchema).max(50),
    /** Package key versions the agent holds (never the keys). */
    keyVersions: z.array(z.number().int().min(0)).max(10),
    /** The backend signing key the agent has pinned (absent: an agent from before signed control messages). */
    signingKeyId: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  }),
  z.object({ ...base, type: z.literal("keyAcknowledged"), keyVersion: z.number().int().min(1), requestId: z.string().uuid() }),
  z.object({ ...base, type: z.literal("disableAcknowledged"), requestId: z.string().uuid() }),
]);

export type AgentEvent = z.infer<typeof agentEventSchema>;
export type HeartbeatEvent = Extract<AgentEvent, { type: "heartbeat" }>;

export class InvalidAgentEventError extends Error {
  override readonly name = "InvalidAgentEventError";
}

const SIGNATURE_BYTES = 256;
const MAX_EVENT_BYTES = 8 * 1024;

function privateKeyObject(key: KeyLike) {
  return typeof key === "string" || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
}
function publicKeyObject(key: KeyLike) {
  if (typeof key === "string") return publicKeyFromPem(key);
  return Buffer.isBuffer(key) ? createPublicKey(key) : key;
}

export function encodeAgentEvent(event: AgentEvent, agentPrivateKey: KeyLike): Buffer {
  const payload = Buffer.from(JSON.stringify(agentEventSchema.parse(event)), "utf8");
  const signature = sign("sha256", payload, { key: privateKeyObject(agentPrivateKey), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return Buffer.from(JSON.stringify({ payload: payload.toString("base64"), signature: signature.toString("base64") }), "utf8");
}

const wireSchema = z.object({ payload: z.string().max(MAX_EVENT_BYTES), signature: z.string().max(1024) }).strict();

/** Accepts what a transport hands over: bytes, a JSON string, or an already-parsed object. */
function decode(message: unknown): { event: AgentEvent; signed: Buffer; signature: Buffer } {
  let wire: unknown = message;
  if (message instanceof Uint8Array) {
    if (message.length > MAX_EVENT_BYTES * 2) throw new InvalidAgentEventError("bad event size");
    wire = Buffer.from(message).toString("utf8");
  }
  if (typeof wire === "string") {
    if (wire.length > MAX_EVENT_BYTES * 2) throw new InvalidAgentEventError("bad event size");
    try {
      wire = JSON.parse(wire);
    } catch {
      throw new InvalidAgentEventError("event is not JSON");
    }
  }
  const parsedWire = wireSchema.safeParse(wire);
  if (!parsedWire.success) throw new InvalidAgentEventError("event envelope does not match the schema");
  const signed = Buffer.from(parsedWire.data.payload, "base64");
  const signature = Buffer.from(parsedWire.data.signature, "base64");
  if (signature.length !== SIGNATURE_BYTES) throw new InvalidAgentEventError("bad signature size");
  let parsed: unknown;
  try {
    parsed = JSON.parse(signed.toString("utf8"));
  } catch {
    throw new InvalidAgentEventError("event is not JSON");
  }
  const result = agentEventSchema.safeParse(parsed);
  if (!result.success) throw new InvalidAgentEventError("event does not match the schema");
  return { event: result.data, signed, signature };
}

/** Parses without verifying: only to learn which tenant's public key to verify with. */
export function claimedTenant(message: unknown): string {
  return decode(message).event.tenantId;
}

export function decodeAgentEvent(message: unknown, agentPublicKey: KeyLike): AgentEvent {
  const { event, signed, signature } = decode(message);
  if (!verify("sha256", signed, { key: publicKeyObject(agentPublicKey), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)) {
    throw new InvalidAgentEventError("bad signature");
  }
  return event;
}
