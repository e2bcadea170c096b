/** A version of a tenant's symmetric package key (AES-256). */
export interface PackageKey {
  version: number;
  key: Buffer;
  createdAt: Date;
  /** When the agent confirmed it holds this version; undefined until then. */
  acknowledgedAt: Date | undefined;
}

export interface PackageKeyInfo {
  version: number;
  createdAt: Date;
  acknowledgedAt: Date | undefined;
}

export interface AgentKeyLookup {
  /**
   * The tenant comes from a message nobody has authenticated yet (an agent event): a cache may
   * answer "none" from its list of tenants with a registered agent instead of reading the vault.
   */
  unverifiedClaim?: boolean;
}

/** A version of a tenant's control-signing key (Ed25519): what signs key deliveries and other control messages. */
export interface SigningKeyVersion {
  version: number;
  /** Raw 32-byte public key. */
  publicKeyRaw: Buffer;
  /** PKCS#8 DER of the private key: never leaves the backend. */
  privateKeyDer: Buffer;
  /** A signature over this public key (endorseSigningKey) by version `endorsedBy`; undefined for the first. */
  endorsement: Buffer | undefined;
  endorsedBy: number | undefined;
  createdAt: Date;
}

/** A signing key before the ring numbered it. */
export type NewSigningKey = Omit<SigningKeyVersion, "version">;

/**
 * Per-tenant key material: package key versions, control-signing key versions and the agent's RSA public key.
 * Implementations translate store failures into AppError KEY_STORE_UNAVAILABLE.
 */
export interface TenantKeyRing {
  /** The newest acknowledged package key: the one requests are sealed with. */
  currentKey(tenantId: string): Promise<PackageKey | undefined>;
  /** Any version (acknowledged or not), to open replies and build deliveries. */
  keyVersion(tenantId: string, version: number): Promise<PackageKey | undefined>;
  /** The newest version, acknowledged or not. */
  latestKey(tenantId: string): Promise<PackageKey | undefined>;
  /** Creates a new random version (not yet acknowledged) and returns it; concurrent calls get distinct versions. */
  createKey(tenantId: string, now: Date): Promise<PackageKey>;
  markAcknowledged(tenantId: string, version: number, at: Date): Promise<void>;
  /** SPKI PEM of the agent's RSA-2048 public key. */
  agentPublicKey(tenantId: string, lookup?: AgentKeyLookup): Promise<string | undefined>;
  setAgentPublicKey(tenantId: string, publicKeyPem: string): Promise<void>;
  /** Every control-signing key version, oldest first (retired ones too: they carry the endorsement chain). */
  signingKeys(tenantId: string): Promise<SigningKeyVersion[]>;
  /** Stores a new control-signing key under a version no concurrent call gets, and returns it numbered. */
  addSigningKey(tenantId: string, key: NewSigningKey): Promise<SigningKeyVersion>;
  /** Tenants that have any package key (for the rotation timer). */
  tenantsWithKeys(): Promise<string[]>;
  /** Tenants that have an agent public key registered (one listing, not one read per tenant). */
  tenantsWithAgentKeys(): Promise<string[]>;
}
