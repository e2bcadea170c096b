import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { writePrivateFile } from "../core/private-file.js";

export interface RegisterOptions {
  tenantId: string;
  agentId: string;
  backendUrl: string;
  adminToken: string;
  privateKeyFile: string;
  passphrase?: string | undefined;
  /** Replace an existing key pair (the backend then delivers a fresh package key). */
  force: boolean;
}

export interface RegisterResult {
  privateKeyFile: string;
  /** When the backend will deliver a package key: at the agent's first heartbeat, or when writeback is enabled. */
  keyDelivery: string;
}

export class RegisterError extends Error {
  override readonly name = "RegisterError";
}

/**
 * `agent register`: makes the agent's RSA-2048 key pair. The private key stays on this
 * machine (mode 0600 via a temporary file renamed into place, PKCS#8, AES-256 encrypted when a
 * passphrase is given); only the public
 * key goes to the backend, through the admin-authenticated registration endpoint.
 */
export async function registerAgent(o: RegisterOptions): Promise<RegisterResult> {
  if (existsSync(o.privateKeyFile) && !o.force) {
    throw new RegisterError(`${o.privateKeyFile} exists already; use --force to replace the agent's key pair.`);
  }
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding:
      o.passphrase === undefined
        ? { type: "pkcs8", format: "pem" }
        : { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: o.passphrase },
  });
  const url = `${o.backendUrl.replace(/\/$/, "")}/v1/tenants/${o.tenantId}/writeback/agent`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "PUT",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${o.adminToken}` },
      body: JSON.stringify({ publicKeyPem: publicKey, agentId: o.agentId }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch {
    throw new RegisterError(`The backend at ${o.backendUrl} could not be reached.`);
  }
  const body = (await response.json().catch(() => ({}))) as { keyDelivery?: string; error?: { code?: string; message?: string } };
  if (!response.ok) throw new RegisterError(`The backend refused the registration: ${body.error?.code ?? response.status} ${body.error?.message ?? ""}`.trim());
  // Written only once the backend holds the public key, so a failed registration leaves no orphan key.
  // A temporary file renamed into place: never through a symlink, always 0600 (also over an older 0644 file).
  await writePrivateFile(o.privateKeyFile, privateKey);
  return { privateKeyFile: o.privateKeyFile, keyDelivery: body.keyDelivery ?? "onEnable" };
}
