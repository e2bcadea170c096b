import { createPublicKey } from "node:crypto";
import { agentStatus } from "../domain/agent-status.js";
import { addMonths } from "../domain/key-rotation.js";
import { AppError } from "../errors/app-error.js";
import { ConcurrencyConflictError, type TenantSettings } from "../ports/tenant-settings-store.port.js";
import { ControlSigning } from "./control-signing.js";
import { KeyLifecycle } from "./key-lifecycle.js";
import type { BannedPasswordMode } from "../domain/banned-passwords/custom-terms.js";
import type { WritebackServices } from "./services.js";

/** Operator use cases: status, enable/disable, agent registration, on-demand rotation. */
/** What an administrator sets for a tenant. */
export interface SettingsChange {
  enabled: boolean;
  allowUnlockWithoutReset: boolean;
  /** Absent: unchanged. */
  bannedPasswordMode?: BannedPasswordMode | undefined;
}

export class TenantAdmin {
  private readonly keys: KeyLifecycle;
  constructor(private readonly s: WritebackServices) {
    this.keys = new KeyLifecycle(s);
  }

  async status(tenantId: string): Promise<Record<string, unknown>> {
    const [settings, heartbeat, current, latest, publicKey] = await Promise.all([
      this.s.settings.get(tenantId),
      this.s.heartbeats.latest(tenantId),
      this.s.keyRing.currentKey(tenantId),
      this.s.keyRing.latestKey(tenantId),
      this.s.keyRing.agentPublicKey(tenantId),
    ]);
    const now = this.s.clock.now();
    return {
      tenantId,
      enabled: settings?.enabled ?? false,
      allowUnlockWithoutReset: settings?.allowUnlockWithoutReset ?? false,
      bannedPasswords: { mode: settings?.bannedPasswordMode ?? "enforce", customTerms: settings?.customBannedTerms?.length ?? 0 },
      agent: {
        registered: publicKey !== undefined,
        status: agentStatus(heartbeat?.receivedAt, now, this.s.policy.heartbeatWindowSeconds),
        lastHeartbeatAt: heartbeat?.receivedAt.toISOString() ?? null,
        version: heartbeat?.agentVersion ?? null,
        policy: heartbeat?.policy ?? null,
        connectors: heartbeat?.connectors ?? [],
      },
      keys: {
        version: current?.version ?? null,
        createdAt: current?.createdAt.toISOString() ?? null,
        acknowledgedAt: current?.acknowledgedAt?.toISOString() ?? null,
        nextRotationDue: current === undefined ? null : addMonths(current.createdAt, this.s.policy.keyRotationMonths).toISOString(),
        // A newer version the agent has not acknowledged: requests keep using `version`.
        pendingVersion: latest !== undefined && latest.version !== current?.version ? latest.version : null,
        agentAcknowledgedCurrent: latest !== undefined && latest.acknowledgedAt !== undefined,
      },
    };
  }

  /** Enable rotates (a fresh key, delivered and acknowledged) before it takes effect; disable tells the agent to discard its keys. */
  async updateSettings(tenantId: string, body: SettingsChange): Promise<Record<string, unknown>> {
    const existing = await this.s.settings.get(tenantId);
    const wasEnabled = existing?.enabled === true;
    const next: TenantSettings = {
      tenantId,
      enabled: body.enabled,
      allowUnlockWithoutReset: body.allowUnlockWithoutReset,
      // Not in the body: kept as they are (callers written before these settings send neither).
      bannedPasswordMode: body.bannedPasswordMode ?? existing?.bannedPasswordMode ?? "enforce",
      customBannedTerms: existing?.customBannedTerms ?? [],
      updatedAt: this.s.clock.now(),
    };
    let agentAcknowledged: boolean | null = null;
    if (body.enabled && !wasEnabled) {
      // Nothing changes unless the agent holds the new key: no half-enabled tenant.
      await this.keys.rotate(tenantId, "enable");
      agentAcknowledged = true;
    }
    await this.s.settings.put(next, existing?.etag ?? null).catch((e: unknown) => {
      if (e instanceof ConcurrencyConflictError) {
        throw new AppError("SETTINGS_CONFLICT");
      }
      throw e;
    });
    if (!body.enabled && wasEnabled) agentAcknowledged = await this.keys.notifyDisable(tenantId);
    this.s.logger.info("writeback settings changed", { tenantId, enabled: body.enabled, allowUnlockWithoutReset: body.allowUnlockWithoutReset, bannedPasswordMode: next.bannedPasswordMode });
    return { ...(await this.status(tenantId)), agentAcknowledged };
  }

  async rotateKeys(tenantId: string): Promise<Record<string, unknown>> {
    const settings = await this.s.settings.get(tenantId);
    if (settings?.enabled !== true) throw new AppError("WRITEBACK_DISABLED");
    const result = await this.keys.rotate(tenantId, "rotate");
    return { tenantId, keyVersion: result.keyVersion, acknowledgedAt: result.acknowledgedAt.toISOString() };
  }

  /**
   * Stores the agent's public key (RSA-2048). Keys delivered to a previous agent key are
   * useless to the new one: the new agent's first heartbeat (listing no current key) makes
   * the backend deliver a fresh key, and until then requests answer KEYS_NOT_ACKNOWLEDGED.
   * The answer carries the tenant's control-signing public key (made on the first
   * registration), which the agent pins: this admin-authenticated response over TLS is the
   * root of the agent's trust in control messages. Registering the same public key again
   * (`agent pin-backend-key`) changes nothing but hands the current signing key out again.
   */
  async registerAgent(tenantId: string, publicKeyPem: string): Promise<Record<string, unknown>> {
    let normalized: string;
    try {
      const key = createPublicKey(publicKeyPem);
      if (key.asymmetricKeyType !== "rsa" || key.asymmetricKeyDetails?.modulusLength !== 2048) throw new Error("not RSA-2048");
      normalized = key.export({ type: "spki", format: "pem" }).toString();
    } catch {
      throw new AppError("INVALID_REQUEST", { message: "publicKeyPem must be an RSA-2048 public key in PEM (SPKI) form.", fields: ["publicKeyPem"] });
    }
    if ((await this.s.keyRing.agentPublicKey(tenantId)) !== normalized) await this.s.keyRing.setAgentPublicKey(tenantId, normalized);
    const backendSigningKey = await new ControlSigning(this.s.keyRing, this.s.clock).pin(tenantId);
    const settings = await this.s.settings.get(tenantId);
    this.s.logger.info("agent registered", { tenantId, signingKeyId: backendSigningKey.keyId });
    return { tenantId, registered: true, keyDelivery: settings?.enabled === true ? "onFirstHeartbeat" : "onEnable", backendSigningKey };
  }

  /** A new control-signing key (endorsed by the old one); the agent is moved to it over the relay. */
  async rotateSigningKey(tenantId: string): Promise<Record<string, unknown>> {
    return { ...(await this.keys.rotateSigningKey(tenantId)) };
  }

  rotateDue(): ReturnType<KeyLifecycle["rotateDue"]> {
    return this.keys.rotateDue();
  }
}
