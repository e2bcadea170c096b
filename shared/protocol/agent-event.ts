import { constants, createPrivateKey, createPublicKey, sign, verify, type KeyLike } from "node:crypto";
import { z } from "zod";

/**
 * Events the agent sends on the shared `agent-events` queue (heartbeat, key and disable
 * acknowledgements). They carry nothing secret but must not be forgeable by another
 * tenant's agent, which can also send on that queue: each is signed with the agent's
 * RSA private key (RSA-PSS-SHA256) and verified with the public key registered for the
 * tenant the event claims.
 *
 * Wire: u16 length | JSON (UTF-8) | signature (256 bytes).
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


export function encodeAgentEvent(event: AgentEvent, agentPrivateKey: KeyLike): Buffer {
  const json = Buffer.from(JSON.stringify(agentEventSchema.parse(event)), "utf8");
  const length = Buffer.alloc(2);
  length.writeUInt16BE(json.length);
  const signature = sign("sha256", Buffer.concat([length, json]), { key: typeof agentPrivateKey === "string" || Buffer.isBuffer(agentPrivateKey) ? createPrivateKey(agentPrivateKey) : agentPrivateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return Buffer.concat([length, json, signature]);
}

/** Parses without verifying: only to learn which tenant's public key to verify with. */
export function claimedTenant(message: Uint8Array): string {
  return decode(message).event.tenantId;
}

function decode(message: Uint8Array): { event: AgentEvent; signed: Buffer; signature: Buffer } {
  const buffer = Buffer.from(message);
  if (buffer.length > MAX_EVENT_BYTES || buffer.length < 2 + SIGNATURE_BYTES) throw new InvalidAgentEventError("bad event size");
  const length = buffer.readUInt16BE(0);
  if (buffer.length !== 2 + length + SIGNATURE_BYTES) throw new InvalidAgentEventError("bad event length");
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.subarray(2, 2 + length).toString("utf8"));
  } catch {
    throw new InvalidAgentEventError("event is not JSON");
  }
  const result = agentEventSchema.safeParse(parsed);
  if (!result.success) throw new InvalidAgentEventError("event does not match the schema");
  return { event: result.data, signed: buffer.subarray(0, 2 + length), signature: buffer.subarray(2 + length) };
}

export function decodeAgentEvent(message: Uint8Array, agentPublicKey: KeyLike): AgentEvent {
  const { event, signed, signature } = decode(message);
  if (!verify("sha256", signed, { key: typeof agentPublicKey === "string" || Buffer.isBuffer(agentPublicKey) ? createPublicKey(agentPublicKey) : agentPublicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)) throw new InvalidAgentEventError("bad signature");
  return event;
}
