import { BackendTrust, type PinnedSigningKey } from "../../agent/core/backend-trust.js";
import { generateSigningKey, signingKeyId, signingPrivateKeyFromDer, type ControlSigner } from "../../shared/protocol/control-signature.js";

/** A backend control-signing key made for a test, and an agent trust that pins it. */
export function testSigningKey(tenantId: string): { signer: ControlSigner; pin: PinnedSigningKey; trust: BackendTrust; publicKeyRaw: Buffer; privateKeyDer: Buffer } {
  const { privateKeyDer, publicKeyRaw } = generateSigningKey();
  const keyId = signingKeyId(publicKeyRaw);
  const pin: PinnedSigningKey = { algorithm: "Ed25519", keyId: keyId.toString("hex"), publicKey: publicKeyRaw.toString("base64") };
  return { signer: { keyId, privateKey: signingPrivateKeyFromDer(privateKeyDer) }, pin, trust: BackendTrust.fromPinned(tenantId, pin), publicKeyRaw, privateKeyDer };
}
