import { Agent } from "node:https";
import { SecretClient } from "@azure/keyvault-secrets";
import type { TokenCredential } from "@azure/core-auth";
import type { KeyVersionAllocator } from "../../ports/key-version-allocator.port.js";
import { KeyVaultTenantKeyRing } from "./key-vault-tenant-key-ring.js";

/** Explicit retries: throttling (429) and transient errors are retried by the SDK's policies. */
export const KEY_VAULT_RETRY = { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000 };

/** `caPem` only for the local Key Vault peer's self-signed certificate; `allocator` numbers new key versions (Table storage). */
export function createKeyVaultTenantKeyRing(o: { vaultUrl: string; credential: TokenCredential; allocator: KeyVersionAllocator; caPem?: string }): KeyVaultTenantKeyRing {
  const client = new SecretClient(o.vaultUrl, o.credential, {
    retryOptions: KEY_VAULT_RETRY,
    ...(o.caPem === undefined ? {} : { disableChallengeResourceVerification: true, agent: new Agent({ ca: o.caPem, keepAlive: true }) }),
  });
  return new KeyVaultTenantKeyRing(client, o.allocator);
}
