import { claimedTenant, decodeAgentEvent, InvalidAgentEventError, type AgentEvent } from "../protocol/agent-event.js";
import { toAppError } from "../errors/app-error.js";
import { KeyLifecycle } from "./key-lifecycle.js";
import type { WritebackServices } from "./services.js";

export type AgentEventOutcome = { accepted: true; event: AgentEvent["type"] } | { accepted: false; reason: string };

/**
 * Consumes the agent-events queue: verifies each event's signature with the public key of
 * the tenant it claims, then records heartbeats and key acknowledgements. Forged, malformed
 * or (during a vault outage) unverifiable events are dropped and counted, so the trigger
 * completes them: never a redelivery loop. Store outages after verification throw so a
 * genuine event is retried.
 */
export class AgentEvents {
  private rejected = 0;
  private readonly keys: KeyLifecycle;
  constructor(private readonly s: WritebackServices) {
    this.keys = new KeyLifecycle(s);
  }

  async handle(message: unknown): Promise<AgentEventOutcome> {
    let tenantId: string;
    try {
      tenantId = claimedTenant(message);
    } catch (e) {
      return this.reject(e instanceof InvalidAgentEventError ? e.message : "unreadable event");
    }
    // Nothing is verified yet: the claimed tenant is checked against the tenants with a
    // registered agent before any vault read, and a vault outage settles the event as
    // unverifiable (it is not retried: the agent sends its next heartbeat anyway).
    let publicKey: string | undefined;
    try {
      publicKey = await this.s.keyRing.agentPublicKey(tenantId, { unverifiedClaim: true });
    } catch (e) {
      return this.reject(`event not verifiable now (${toAppError(e).code})`);
    }
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
          signingKeyId: event.signingKeyId,
        });
        this.s.telemetry?.agentHeartbeat(event.tenantId, receivedAt);
        await this.redeliverIfMissing(event.tenantId, event.keyVersions);
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

  /**
   * An agent whose heartbeat lists no current key (new key pair, lost state file) gets a
   * fresh key delivered, unless a delivery is already under way.
   */
  private async redeliverIfMissing(tenantId: string, held: readonly number[]): Promise<void> {
    const settings = await this.s.settings.get(tenantId);
    if (settings?.enabled !== true) return;
    const [current, latest] = await Promise.all([this.s.keyRing.currentKey(tenantId), this.s.keyRing.latestKey(tenantId)]);
    if (current !== undefined && held.includes(current.version)) return;
    const now = this.s.clock.now().getTime();
    const deliveryInFlight = latest !== undefined && latest.acknowledgedAt === undefined && now - latest.createdAt.getTime() < this.s.policy.replyTimeoutMs + 5000;
    if (deliveryInFlight) return;
    try {
      await this.keys.rotate(tenantId, "enable");
    } catch (e) {
      this.s.logger.warn("key redelivery failed", { tenantId, code: toAppError(e).code });
    }
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
