import { randomUUID } from "node:crypto";
import { publicKeyFromPem } from "../protocol/public-key-cache.js";
import { newTraceId } from "../protocol/trace-context.js";
import { AppError, toAppError } from "../errors/app-error.js";
import { MAX_ENDORSEMENT_CHAIN, sealDisable, sealKeyDelivery, sealSigningKeyUpdate, type KeyDeliveryPurpose } from "../protocol/envelope.js";
import type { ControlSigner } from "../protocol/control-signature.js";
import { addMonths } from "../domain/key-rotation.js";
import { ControlSigning } from "./control-signing.js";
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
  private readonly signing: ControlSigning;
  constructor(private readonly s: WritebackServices) {
    this.signing = new ControlSigning(s.keyRing, s.clock);
  }

  async rotate(tenantId: string, purpose: KeyDeliveryPurpose): Promise<RotationResult> {
    const publicKeyPem = await this.s.keyRing.agentPublicKey(tenantId);
    if (publicKeyPem === undefined) throw new AppError("AGENT_NOT_REGISTERED");
    const signer = await this.agentTrustsCurrentSigner(tenantId);
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
        traceId: newTraceId(),
        purpose,
        previousKeyVersion: previous?.version ?? 0,
        previousValidUntil,
      },
      tenantId,
      created.key,
      publicKeyFromPem(publicKeyPem),
      signer,
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
    try {
      const signer = await this.agentTrustsCurrentSigner(tenantId);
      const body = sealDisable({ requestId, keyVersion: current.version, issuedAt: now, expiresAt, traceId: newTraceId() }, tenantId, current.key, signer);
      const reply = await this.s.relay.request({ tenantId, requestId, body, expiresAt, keyVersion: current.version }, { timeoutMs: this.s.policy.replyTimeoutMs });
      return reply.outcome === "succeeded";
    } catch (e) {
      this.s.logger.warn("disable notice not acknowledged", { tenantId, code: toAppError(e).code });
      return false;
    }
  }

  /**
   * A new control-signing key for the tenant, endorsed by the current one, and the update
   * that moves the agent to it (an agent that misses it is moved at the next control message).
   */
  async rotateSigningKey(tenantId: string): Promise<{ tenantId: string; signingKeyId: string; agentUpdated: boolean }> {
    if ((await this.s.keyRing.agentPublicKey(tenantId)) === undefined) throw new AppError("AGENT_NOT_REGISTERED");
    await this.signing.current(tenantId);
    await this.signing.rotate(tenantId);
    const pin = await this.signing.pin(tenantId);
    try {
      await this.agentTrustsCurrentSigner(tenantId);
    } catch (e) {
      this.s.logger.warn("signing-key update not acknowledged", { tenantId, code: toAppError(e).code });
    }
    // Confirmed only by the agent's authenticated reply (recorded with its heartbeat) or a heartbeat naming the new key.
    const agentUpdated = (await this.s.heartbeats.latest(tenantId))?.signingKeyId === pin.keyId;
    this.s.logger.info("control-signing key rotated", { tenantId, signingKeyId: pin.keyId, agentUpdated });
    return { tenantId, signingKeyId: pin.keyId, agentUpdated };
  }

  /**
   * The current signer, once the agent's last heartbeat shows it pinned that key: an agent on
   * an older key of this tenant is first moved forward along the endorsement chain; an agent
   * on no key or a foreign one would refuse every control message, so the caller gets a clear
   * AGENT_SIGNING_KEY_MISMATCH instead of a timeout. Without a heartbeat yet, the agent pinned
   * at registration is assumed current.
   */
  private async agentTrustsCurrentSigner(tenantId: string): Promise<ControlSigner> {
    const { signer } = await this.signing.current(tenantId);
    const heartbeat = await this.s.heartbeats.latest(tenantId);
    if (heartbeat === undefined) return signer;
    const pinned = heartbeat.signingKeyId;
    if (pinned === signer.keyId.toString("hex")) return signer;
    if (pinned === undefined) {
      throw new AppError("AGENT_SIGNING_KEY_MISMATCH", { message: "The agent has pinned no backend signing key (it predates signed control messages): run `agent pin-backend-key` or re-register it." });
    }
    const chain = await this.signing.chainFrom(tenantId, pinned);
    if (chain === undefined || chain.length === 0 || chain.length > MAX_ENDORSEMENT_CHAIN) {
      throw new AppError("AGENT_SIGNING_KEY_MISMATCH", { message: "The agent has pinned a signing key this backend cannot lead it from: run `agent pin-backend-key` on the agent." });
    }
    const now = this.s.clock.now();
    const requestId = randomUUID();
    const expiresAt = new Date(now.getTime() + this.s.policy.messageTtlSeconds * 1000);
    // The reply is sealed under a package key the agent holds; holding none, it cannot answer and its next heartbeat tells.
    const held = (await this.s.keyRing.currentKey(tenantId))?.version;
    const keyVersion = held !== undefined && heartbeat.keyVersions.includes(held) ? held : 0;
    const body = sealSigningKeyUpdate({ requestId, keyVersion, issuedAt: now, expiresAt, traceId: newTraceId(), chain }, tenantId, signer);
    const reply = await this.s.relay.request({ tenantId, requestId, body, expiresAt, ...(keyVersion === 0 ? {} : { keyVersion }) }, { timeoutMs: keyVersion === 0 ? Math.min(this.s.policy.replyTimeoutMs, 2000) : this.s.policy.replyTimeoutMs }).catch((e: unknown) => {
      if (keyVersion === 0 && toAppError(e).code === "AGENT_TIMEOUT") return undefined;
      throw e;
    });
    if (reply !== undefined && reply.outcome !== "succeeded") throw new AppError("AGENT_SIGNING_KEY_MISMATCH", { message: "The agent refused the signing-key update." });
    // Its authenticated reply says what its next heartbeat will: note it now, so the control message that follows is not preceded by a second update.
    if (reply !== undefined) await this.s.heartbeats.record({ ...heartbeat, signingKeyId: signer.keyId.toString("hex") });
    this.s.logger.info("agent moved to the current signing key", { tenantId, fromKeyId: pinned, steps: chain.length });
    return signer;
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
