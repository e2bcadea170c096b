import { randomUUID } from "node:crypto";
import { publicKeyFromPem } from "../protocol/public-key-cache.js";
import { AppError, toAppError } from "../errors/app-error.js";
import { sealDisable, sealKeyDelivery, type KeyDeliveryPurpose } from "../protocol/envelope.js";
import { addMonths } from "../domain/key-rotation.js";
import type { WritebackServices } from "./services.js";

export interface RotationResult {
  tenantId: string;
  keyVersion: number;
  acknowledgedAt: Date;
}

/**
 * The package-key lifecycle: a fresh key on enable, on re-registration, on demand and every
 * six months; each delivered to the agent wrapped with its public key, in a control message
 * over the relay, and used for requests only once the agent acknowledged it.
 */
export class KeyLifecycle {
  constructor(private readonly s: WritebackServices) {}

  async rotate(tenantId: string, purpose: KeyDeliveryPurpose): Promise<RotationResult> {
    const publicKeyPem = await this.s.keyRing.agentPublicKey(tenantId);
    if (publicKeyPem === undefined) throw new AppError("AGENT_NOT_REGISTERED");
    const previous = await this.s.keyRing.currentKey(tenantId);
    const now = this.s.clock.now();
    const created = await this.s.keyRing.createKey(tenantId, now);
    const requestId = randomUUID();
    const expiresAt = new Date(now.getTime() + this.s.policy.messageTtlSeconds * 1000);
    // Requests sealed with the previous version until the acknowledgement lands may still be
    // on the relay for one message lifetime after that: the agent keeps accepting it that long.
    const previousValidUntil = new Date(now.getTime() + this.s.policy.replyTimeoutMs + this.s.policy.messageTtlSeconds * 1000);
    const body = sealKeyDelivery(
      {
        requestId,
        keyVersion: created.version,
        issuedAt: now,
        expiresAt,
        traceId: randomUUID(),
        purpose,
        previousKeyVersion: previous?.version ?? 0,
        previousValidUntil,
      },
      tenantId,
      created.key,
      publicKeyFromPem(publicKeyPem),
    );
    const reply = await this.s.relay.request({ tenantId, requestId, body, expiresAt, keyVersion: created.version }, { timeoutMs: this.s.policy.replyTimeoutMs });
    if (reply.outcome !== "succeeded") {
      this.s.logger.warn("agent refused a key delivery", { tenantId, keyVersion: created.version, outcome: reply.outcome });
      throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The agent did not accept the new key." });
    }
    const acknowledgedAt = this.s.clock.now();
    await this.s.keyRing.markAcknowledged(tenantId, created.version, acknowledgedAt);
    this.s.logger.info("package key rotated", { tenantId, keyVersion: created.version, purpose });
    return { tenantId, keyVersion: created.version, acknowledgedAt };
  }

  /** Tells the agent to discard its keys. Best effort: the tenant is already disabled in the cloud. */
  async notifyDisable(tenantId: string): Promise<boolean> {
    const current = await this.s.keyRing.latestKey(tenantId);
    if (current === undefined) return false;
    const now = this.s.clock.now();
    const requestId = randomUUID();
    const expiresAt = new Date(now.getTime() + this.s.policy.messageTtlSeconds * 1000);
    const body = sealDisable({ requestId, keyVersion: current.version, issuedAt: now, expiresAt, traceId: randomUUID() }, tenantId, current.key);
    try {
      const reply = await this.s.relay.request({ tenantId, requestId, body, expiresAt, keyVersion: current.version }, { timeoutMs: this.s.policy.replyTimeoutMs });
      return reply.outcome === "succeeded";
    } catch (e) {
      this.s.logger.warn("disable notice not acknowledged", { tenantId, code: toAppError(e).code });
      return false;
    }
  }

  /** The timer's work: rotate every enabled tenant whose current key is due. */
  async rotateDue(): Promise<{ rotated: RotationResult[]; failed: { tenantId: string; code: string }[] }> {
    const now = this.s.clock.now();
    const rotated: RotationResult[] = [];
    const failed: { tenantId: string; code: string }[] = [];
    for (const tenantId of await this.s.keyRing.tenantsWithKeys()) {
      const settings = await this.s.settings.get(tenantId);
      if (settings?.enabled !== true) continue;
      const current = await this.s.keyRing.currentKey(tenantId);
      if (current !== undefined && addMonths(current.createdAt, this.s.policy.keyRotationMonths).getTime() > now.getTime()) continue;
      try {
        rotated.push(await this.rotate(tenantId, "rotate"));
      } catch (e) {
        const code = toAppError(e).code;
        failed.push({ tenantId, code });
        this.s.logger.warn("scheduled rotation failed", { tenantId, code });
      }
    }
    return { rotated, failed };
  }
}
