import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { BackendTrust, BackendTrustError, type PinnedSigningKey } from "../core/backend-trust.js";
import { writePrivateFile } from "../core/private-file.js";

export interface RegisterOptions {
  tenantId: string;
  agentId: string;
  backendUrl: string;
  adminToken: string;
  privateKeyFile: string;
  passphrase?: string | undefined;
  /** Where the backend's control-signing public key is pinned. */
  backendKeyFile: string;
  /** Replace an existing key pair (the backend then delivers a fresh package key). */
  force: boolean;
}

export interface RegisterResult {
  privateKeyFile: string;
  /** When the backend will deliver a package key: at the agent's first heartbeat, or when writeback is enabled. */
  keyDelivery: string;
  /** The pinned backend signing key's id (16 hex digits), to compare out of band if wanted. */
  backendKeyId: string;
}

export class RegisterError extends Error {
  override readonly name = "RegisterError";
}

interface RegistrationAnswer {
  keyDelivery: string;
  backendSigningKey: PinnedSigningKey;
}

/** PUTs the agent's public key to the admin-authenticated registration endpoint; the answer carries the signing key to pin. */
async function putRegistration(o: { tenantId: string; agentId: string; backendUrl: string; adminToken: string }, publicKeyPem: string): Promise<RegistrationAnswer> {
  const url = `${o.backendUrl.replace(/\/$/, "")}/v1/tenants/${o.tenantId}/writeback/agent`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "PUT",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${o.adminToken}` },
      body: JSON.stringify({ publicKeyPem, agentId: o.agentId }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch {
    throw new RegisterError(`The backend at ${o.backendUrl} could not be reached.`);
  }
  const body = (await response.json().catch(() => ({}))) as { keyDelivery?: string; backendSigningKey?: PinnedSigningKey; error?: { code?: string; message?: string } };
  if (!response.ok) throw new RegisterError(`The backend refused the registration: ${body.error?.code ?? response.status} ${body.error?.message ?? ""}`.trim());
  if (body.backendSigningKey === undefined) {
    throw new RegisterError("BACKEND_KEY_MISSING: the backend's answer has no control-signing key (a backend from before signed control messages). Upgrade the backend, then register again.");
  }
  return { keyDelivery: body.keyDelivery ?? "onEnable", backendSigningKey: body.backendSigningKey };
}

async function pin(file: string, tenantId: string, key: PinnedSigningKey, expectKeyId?: string): Promise<BackendTrust> {
  if (expectKeyId !== undefined && expectKeyId.toLowerCase() !== key.keyId.toLowerCase()) {
    throw new RegisterError(`BACKEND_KEY_PIN_MISMATCH: the backend handed out signing key ${key.keyId}, not the expected ${expectKeyId}. Nothing was pinned.`);
  }
  try {
    return await BackendTrust.pin(file, tenantId, key);
  } catch (e) {
    throw new RegisterError(e instanceof BackendTrustError ? e.message : "The backend signing key could not be pinned.");
  }
}

/**
 * `agent register`: makes the agent's RSA-2048 key pair. The private key stays on this
 * machine (mode 0600 via a temporary file renamed into place, PKCS#8, AES-256 encrypted when a
 * passphrase is given); only the public key goes to the backend, through the
 * admin-authenticated registration endpoint, whose answer gives the backend's control-signing
 * key to pin.
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
  const answer = await putRegistration(o, publicKey);
  // Written only once the backend holds the public key, so a failed registration leaves no orphan key.
  // A temporary file renamed into place: never through a symlink, always 0600 (also over an older 0644 file).
  await writePrivateFile(o.privateKeyFile, privateKey);
  const trust = await pin(o.backendKeyFile, o.tenantId, answer.backendSigningKey);
  return { privateKeyFile: o.privateKeyFile, keyDelivery: answer.keyDelivery, backendKeyId: trust.keyId };
}

export interface PinOptions extends Omit<RegisterOptions, "force"> {
  /** Refuse unless the backend's key has this id (given out of band, e.g. from `GET .../writeback` by another admin). */
  expectKeyId?: string | undefined;
}

/**
 * `agent pin-backend-key`: pins the backend's current control-signing key, keeping the
 * agent's key pair and package keys. For an agent installed before control messages were
 * signed, or one that was offline through more signing-key rotations than an update can
 * carry. It re-sends the agent's own public key (the backend's state does not change) and
 * pins the key from the admin-authenticated answer, as `register` does.
 */
export async function pinBackendKey(o: PinOptions): Promise<{ backendKeyId: string }> {
  let publicKeyPem: string;
  try {
    const pem = readFileSync(o.privateKeyFile);
    const privateKey = createPrivateKey(o.passphrase === undefined ? { key: pem } : { key: pem, passphrase: o.passphrase });
    pem.fill(0);
    publicKeyPem = createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString();
  } catch {
    throw new RegisterError(`Cannot load the agent private key ${o.privateKeyFile}: run \`agent register\` first (or give the passphrase).`);
  }
  const answer = await putRegistration(o, publicKeyPem);
  const trust = await pin(o.backendKeyFile, o.tenantId, answer.backendSigningKey, o.expectKeyId);
  return { backendKeyId: trust.keyId };
}
