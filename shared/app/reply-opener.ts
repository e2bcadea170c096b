import { AppError } from "../errors/app-error.js";
import type { RelayReplyMessage } from "../ports/relay-client.port.js";
import type { TenantKeyRing } from "../ports/tenant-key-ring.port.js";
import { isUuid } from "../protocol/ids.js";
import { openReply, peekHeader, type PasswordReply } from "../protocol/envelope.js";

export class UntrustedReplyError extends Error {
  override readonly name = "UntrustedReplyError";
}

/**
 * Verifies a reply from the relay: it must be sealed with its request's key version, that
 * version must exist, AES-GCM must authenticate it (tenant id bound), and it must answer the
 * request it claims to. Key-store outages are not the reply's fault: they propagate (the relay
 * retries a few times, then dead-letters the reply as unverifiable).
 */
export function createReplyOpener(keyRing: TenantKeyRing): (message: RelayReplyMessage) => Promise<PasswordReply> {
  return async (message) => {
    if (!isUuid(message.tenantId)) throw new UntrustedReplyError("reply names no valid tenant");
    let keyVersion: number;
    try {
      keyVersion = peekHeader(message.body).header.keyVersion;
    } catch {
      throw new UntrustedReplyError("malformed reply");
    }
    // Cheap checks before any key lookup: a reply is sealed with its request's key version.
    if (message.keyVersion !== undefined && keyVersion !== message.keyVersion) throw new UntrustedReplyError("reply sealed with another key version than its request");
    const key = await keyRing.keyVersion(message.tenantId, keyVersion);
    if (key === undefined) throw new UntrustedReplyError("reply sealed with an unknown key version");
    let reply: PasswordReply;
    try {
      reply = openReply(message.body, message.tenantId, (v) => (v === key.version ? key.key : undefined));
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw new UntrustedReplyError("reply failed authentication");
    }
    if (reply.requestId !== message.correlationId) throw new UntrustedReplyError("reply answers another request");
    return reply;
  };
}
