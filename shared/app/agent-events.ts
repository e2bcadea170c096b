import { claimedTenant, decodeAgentEvent, InvalidAgentEventError, type AgentEvent } from "../protocol/agent-event.js";
import type { WritebackServices } from "./services.js";

export type AgentEventOutcome = { accepted: true; event: AgentEvent["type"] } | { accepted: false; reason: string };

/**
 * Consumes the agent-events queue: verifies each event's signature with the public key of
 * the tenant it claims, then records heartbeats and key acknowledgements. Forged or
 * malformed events are dropped and counted; store outages throw so the message is retried.
 */
export class AgentEvents {
  private rejected = 0;
  constructor(private readonly s: WritebackServices) {}

  async handle(message: unknown): Promise<AgentEventOutcome> {
    let tenantId: string;
    try {
      tenantId = claimedTenant(message);
    } catch (e) {
      return this.reject(e instanceof InvalidAgentEventError ? e.message : "unreadable event");
    }
    const publicKey = await this.s.keyRing.agentPublicKey(tenantId);
    if (publicKey === undefined) return this.reject("no agent registered for the claimed tenant");
    let event: AgentEvent;
    try {
      event = decodeAgentEvent(message, publicKey);
    } catch (e) {
      return this.reject(e instanceof InvalidAgentEventError ? e.message : "unverifiable event");
    }
    const receivedAt = this.s.clock.now();
    switch (event.type) {
      case "heartbeat":
        await this.s.heartbeats.record({
          tenantId: event.tenantId,
          agentId: event.agentId,
          agentVersion: event.agentVersion,
          sentAt: new Date(event.sentAt),
          receivedAt,
          policy: event.policy,
          connectors: event.connectors,
          keyVersions: event.keyVersions,
        });
        break;
      case "keyAcknowledged":
        // The synchronous reply normally records this first; the event covers a caller that gave up.
        if ((await this.s.keyRing.keyVersion(event.tenantId, event.keyVersion)) !== undefined) {
          await this.s.keyRing.markAcknowledged(event.tenantId, event.keyVersion, receivedAt);
        }
        break;
      case "disableAcknowledged":
        break;
    }
    this.s.logger.info("agent event", { tenantId: event.tenantId, type: event.type, agentId: event.agentId });
    return { accepted: true, event: event.type };
  }

  rejectedCount(): number {
    return this.rejected;
  }

  private reject(reason: string): AgentEventOutcome {
    this.rejected += 1;
    this.s.logger.warn("agent event rejected", { reason });
    return { accepted: false, reason };
  }
}
