import { SecretClient } from "@azure/keyvault-secrets";
import { AppError } from "../../errors/app-error.js";
import type { KeyVersionAllocator } from "../../ports/key-version-allocator.port.js";
import type { NewSigningKey, PackageKey, SigningKeyVersion, TenantKeyRing } from "../../ports/tenant-key-ring.port.js";

const packageKeyName = (tenantId: string) => `tenant-${tenantId.toLowerCase()}-package-key`;
const agentKeyName = (tenantId: string) => `tenant-${tenantId.toLowerCase()}-agent-public-key`;
const signingKeyName = (tenantId: string) => `tenant-${tenantId.toLowerCase()}-control-signing-key`;
const PACKAGE_KEY_PATTERN = /^tenant-([0-9a-f-]{36})-package-key$/;
const AGENT_KEY_PATTERN = /^tenant-([0-9a-f-]{36})-agent-public-key$/;

function isNotFound(e: unknown): boolean {
  return (e as { code?: string; statusCode?: number }).code === "SecretNotFound" || (e as { statusCode?: number }).statusCode === 404;
}

/** Vault failures after the SDK's retries: a stable code, no URL, name or secret in the message. */
function unavailable(e: unknown): AppError {
  return e instanceof AppError ? e : new AppError("KEY_STORE_UNAVAILABLE", { cause: e });
}

/**
 * Package keys as versions of one secret per tenant (value: base64 of 32 bytes; tags: our
 * version number, createdAt, acknowledgedAt), and the agent's public key as another secret.
 * Key Vault has no conditional write, so version numbers come from the allocator (a Table
 * row with an ETag): two concurrent rotations get two numbers, never one.
 */
export class KeyVaultTenantKeyRing implements TenantKeyRing {
  constructor(
    private readonly client: SecretClient,
    private readonly allocator: KeyVersionAllocator,
  ) {}

  private async all(tenantId: string): Promise<(PackageKey & { vaultVersion: string })[]> {
    const name = packageKeyName(tenantId);
    const out: (PackageKey & { vaultVersion: string })[] = [];
    try {
      for await (const p of this.client.listPropertiesOfSecretVersions(name)) {
        if (p.enabled === false || p.version === undefined || p.tags?.keyVersion === undefined) continue;
        const s = await this.client.getSecret(name, { version: p.version });
        out.push({
          version: Number(p.tags.keyVersion),
          key: Buffer.from(s.value ?? "", "base64"),
          createdAt: new Date(p.tags.createdAt ?? 0),
          acknowledgedAt: p.tags.acknowledgedAt === undefined ? undefined : new Date(p.tags.acknowledgedAt),
          vaultVersion: p.version,
        });
      }
    } catch (e) {
      if (isNotFound(e)) return [];
      throw unavailable(e);
    }
    return out.sort((a, b) => a.version - b.version);
  }

  async currentKey(tenantId: string): Promise<PackageKey | undefined> {
    return (await this.all(tenantId)).filter((k) => k.acknowledgedAt !== undefined).pop();
  }
  async latestKey(tenantId: string): Promise<PackageKey | undefined> {
    return (await this.all(tenantId)).pop();
  }
  async keyVersion(tenantId: string, version: number): Promise<PackageKey | undefined> {
    return (await this.all(tenantId)).find((k) => k.version === version);
  }

  async createKey(tenantId: string, now: Date): Promise<PackageKey> {
    const latest = await this.latestKey(tenantId);
    const version = await this.allocator.next(tenantId, "package", latest?.version ?? 0);
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
    try {
      await this.client.setSecret(packageKeyName(tenantId), key.toString("base64"), { contentType: "application/vnd.writeback.package-key", tags: { keyVersion: String(version), createdAt: now.toISOString() } });
    } catch (e) {
      throw unavailable(e);
    }
    return { version, key, createdAt: now, acknowledgedAt: undefined };
  }

  async markAcknowledged(tenantId: string, version: number, at: Date): Promise<void> {
    const found = (await this.all(tenantId)).find((k) => k.version === version);
    if (found === undefined || found.acknowledgedAt !== undefined) return;
    try {
      await this.client.updateSecretProperties(packageKeyName(tenantId), found.vaultVersion, { tags: { keyVersion: String(version), createdAt: found.createdAt.toISOString(), acknowledgedAt: at.toISOString() } });
    } catch (e) {
      throw unavailable(e);
    }
  }

  async agentPublicKey(tenantId: string): Promise<string | undefined> {
    try {
      return (await this.client.getSecret(agentKeyName(tenantId))).value;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw unavailable(e);
    }
  }

  async setAgentPublicKey(tenantId: string, publicKeyPem: string): Promise<void> {
    try {
      await this.client.setSecret(agentKeyName(tenantId), publicKeyPem, { contentType: "application/x-pem-file" });
    } catch (e) {
      throw unavailable(e);
    }
  }

  /** One secret per tenant; each version's value is the PKCS#8 DER (base64), the public half and endorsement in tags. */
  async signingKeys(tenantId: string): Promise<SigningKeyVersion[]> {
    const name = signingKeyName(tenantId);
    const out: SigningKeyVersion[] = [];
    try {
      for await (const p of this.client.listPropertiesOfSecretVersions(name)) {
        const tags = p.tags;
        if (p.enabled === false || p.version === undefined || tags?.signingKeyVersion === undefined || tags.publicKey === undefined) continue;
        const s = await this.client.getSecret(name, { version: p.version });
        out.push({
          version: Number(tags.signingKeyVersion),
          publicKeyRaw: Buffer.from(tags.publicKey, "base64"),
          privateKeyDer: Buffer.from(s.value ?? "", "base64"),
          endorsement: tags.endorsement === undefined || tags.endorsement === "" ? undefined : Buffer.from(tags.endorsement, "base64"),
          endorsedBy: tags.endorsedBy === undefined || tags.endorsedBy === "" ? undefined : Number(tags.endorsedBy),
          createdAt: new Date(tags.createdAt ?? 0),
        });
      }
    } catch (e) {
      if (isNotFound(e)) return [];
      throw unavailable(e);
    }
    return out.sort((a, b) => a.version - b.version);
  }

  async addSigningKey(tenantId: string, material: NewSigningKey): Promise<SigningKeyVersion> {
    const existing = await this.signingKeys(tenantId);
    const key: SigningKeyVersion = { ...material, version: await this.allocator.next(tenantId, "signing", existing[existing.length - 1]?.version ?? 0) };
    try {
      await this.client.setSecret(signingKeyName(tenantId), key.privateKeyDer.toString("base64"), {
        contentType: "application/vnd.writeback.control-signing-key",
        tags: {
          signingKeyVersion: String(key.version),
          publicKey: key.publicKeyRaw.toString("base64"),
          endorsement: key.endorsement?.toString("base64") ?? "",
          endorsedBy: key.endorsedBy === undefined ? "" : String(key.endorsedBy),
          createdAt: key.createdAt.toISOString(),
        },
      });
    } catch (e) {
      throw unavailable(e);
    }
    return key;
  }

  tenantsWithKeys(): Promise<string[]> {
    return this.tenantsNamedBy(PACKAGE_KEY_PATTERN);
  }

  tenantsWithAgentKeys(): Promise<string[]> {
    return this.tenantsNamedBy(AGENT_KEY_PATTERN);
  }

  private async tenantsNamedBy(pattern: RegExp): Promise<string[]> {
    const tenants: string[] = [];
    try {
      for await (const p of this.client.listPropertiesOfSecrets()) {
        const m = pattern.exec(p.name);
        if (m?.[1] !== undefined) tenants.push(m[1]);
      }
    } catch (e) {
      throw unavailable(e);
    }
    return tenants;
  }
}
