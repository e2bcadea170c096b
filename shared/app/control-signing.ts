import {
  endorseSigningKey,
  generateSigningKey,
  signingKeyId,
  signingPrivateKeyFromDer,
  type ControlSigner,
  type EndorsedSigningKey,
} from "../protocol/control-signature.js";
import type { SigningKeyVersion, TenantKeyRing } from "../ports/tenant-key-ring.port.js";

/** The public half of a tenant's current signing key, as the registration response hands it to `agent register`. */
export interface SigningKeyPin {
  algorithm: "Ed25519";
  keyId: string;
  publicKey: string;
}

/**
 * A tenant's control-signing keys on the backend: the newest version signs; older versions
 * are kept only for their endorsements (the chain an agent that slept through a rotation
 * follows). All of a tenant's agents pin the same key; each gets its own deliveries.
 */
export class ControlSigning {
  constructor(
    private readonly keyRing: TenantKeyRing,
    private readonly clock: { now(): Date },
  ) {}

  /** The current signer; the tenant's first key is made on first use (registration). */
  async current(tenantId: string): Promise<{ signer: ControlSigner; version: SigningKeyVersion }> {
    const all = await this.keyRing.signingKeys(tenantId);
    const latest = all[all.length - 1] ?? (await this.create(tenantId, undefined));
    return { signer: toSigner(latest), version: latest };
  }

  async pin(tenantId: string): Promise<SigningKeyPin> {
    const { version } = await this.current(tenantId);
    return { algorithm: "Ed25519", keyId: signingKeyId(version.publicKeyRaw).toString("hex"), publicKey: version.publicKeyRaw.toString("base64") };
  }

  /** A new signing key, endorsed by the current one. Agents follow it through a signing-key update. */
  async rotate(tenantId: string): Promise<SigningKeyVersion> {
    const { version } = await this.current(tenantId);
    return this.create(tenantId, version);
  }

  /**
   * The endorsements that lead an agent from the key it pinned (key id, hex) to the current
   * one: [] when it is current, undefined when the key is not one of this tenant's.
   */
  async chainFrom(tenantId: string, pinnedKeyId: string): Promise<EndorsedSigningKey[] | undefined> {
    const all = await this.keyRing.signingKeys(tenantId);
    const at = all.findIndex((k) => signingKeyId(k.publicKeyRaw).toString("hex") === pinnedKeyId);
    if (at < 0) return undefined;
    const chain: EndorsedSigningKey[] = [];
    for (const k of all.slice(at + 1)) {
      if (k.endorsement === undefined) return undefined;
      chain.push({ publicKeyRaw: k.publicKeyRaw, endorsement: k.endorsement });
    }
    return chain;
  }

  private async create(tenantId: string, previous: SigningKeyVersion | undefined): Promise<SigningKeyVersion> {
    const { privateKeyDer, publicKeyRaw } = generateSigningKey();
    const key: SigningKeyVersion = {
      version: (previous?.version ?? 0) + 1,
      publicKeyRaw,
      privateKeyDer,
      endorsement: previous === undefined ? undefined : endorseSigningKey(signingPrivateKeyFromDer(previous.privateKeyDer), tenantId, publicKeyRaw),
      createdAt: this.clock.now(),
    };
    await this.keyRing.addSigningKey(tenantId, key);
    return key;
  }
}

function toSigner(k: SigningKeyVersion): ControlSigner {
  return { keyId: signingKeyId(k.publicKeyRaw), privateKey: signingPrivateKeyFromDer(k.privateKeyDer) };
}
