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
    let all = await this.keyRing.signingKeys(tenantId);
    if (all.length === 0) {
      await this.create(tenantId, undefined);
      // Two first registrations at once each make a key: both read again and agree on the oldest.
      all = await this.keyRing.signingKeys(tenantId);
    }
    const { current } = lineage(all);
    return { signer: toSigner(current), version: current };
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
    const { current, byVersion } = lineage(await this.keyRing.signingKeys(tenantId));
    const chain: EndorsedSigningKey[] = [];
    for (let k: SigningKeyVersion | undefined = current; k !== undefined; k = k.endorsedBy === undefined ? undefined : byVersion.get(k.endorsedBy)) {
      if (signingKeyId(k.publicKeyRaw).toString("hex") === pinnedKeyId) return chain.reverse();
      if (k.endorsement === undefined) return undefined;
      chain.push({ publicKeyRaw: k.publicKeyRaw, endorsement: k.endorsement });
    }
    return undefined;
  }

  private async create(tenantId: string, previous: SigningKeyVersion | undefined): Promise<SigningKeyVersion> {
    const { privateKeyDer, publicKeyRaw } = generateSigningKey();
    return this.keyRing.addSigningKey(tenantId, {
      publicKeyRaw,
      privateKeyDer,
      endorsement: previous === undefined ? undefined : endorseSigningKey(signingPrivateKeyFromDer(previous.privateKeyDer), tenantId, publicKeyRaw),
      endorsedBy: previous?.version,
      createdAt: this.clock.now(),
    });
  }
}

/**
 * The tenant's line of signing keys: from the oldest unendorsed key (the root), each key
 * endorsed by one already on the line; the current key is the newest on it. A second root
 * (two first registrations at once) or a branch is ignored, so every instance picks the same key.
 */
function lineage(all: readonly SigningKeyVersion[]): { current: SigningKeyVersion; byVersion: Map<number, SigningKeyVersion> } {
  const sorted = [...all].sort((a, b) => a.version - b.version);
  const root = sorted.find((k) => k.endorsedBy === undefined);
  if (root === undefined) throw new Error("a tenant's signing keys have no first key");
  const byVersion = new Map<number, SigningKeyVersion>([[root.version, root]]);
  let current = root;
  for (const k of sorted) {
    if (k.endorsedBy !== undefined && byVersion.has(k.endorsedBy) && k.version > k.endorsedBy) {
      byVersion.set(k.version, k);
      current = k;
    }
  }
  return { current, byVersion };
}

function toSigner(k: SigningKeyVersion): ControlSigner {
  return { keyId: signingKeyId(k.publicKeyRaw), privateKey: signingPrivateKeyFromDer(k.privateKeyDer) };
}
