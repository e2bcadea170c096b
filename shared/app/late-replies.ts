import { isAppError } from "../errors/app-error.js";
import type { PasswordReply } from "../protocol/envelope.js";
import { PasswordOperations } from "./password-operations.js";
import type { WritebackServices } from "./services.js";

/**
 * A verified reply that arrived after its caller stopped waiting. A key delivery's
 * acknowledgement marks the key acknowledged; a password operation's outcome is recorded, so
 * the status endpoint tells the truth; a disable or a signing-key update needs nothing (the
 * agent's next heartbeat names the key it pinned).
 */
export async function settleLateReply(s: WritebackServices, tenantId: string, reply: PasswordReply): Promise<void> {
  if (reply.operation === "deliverKey") {
    if (reply.outcome === "succeeded") await s.keyRing.markAcknowledged(tenantId, reply.keyVersion, s.clock.now());
    return;
  }
  // A late policy answer (precheck gave up on it) has no caller left and nothing to record.
  if (reply.operation === "disable" || reply.operation === "policy" || reply.operation === "updateSigningKey") return;
  await new PasswordOperations(s).settle(tenantId, reply.requestId, reply).catch((e: unknown) => {
    // A recorded error outcome is an answer, not a failure of recording it.
    if (!isAppError(e)) throw e;
  });
  s.logger.info("late reply recorded", { tenantId, requestId: reply.requestId, outcome: reply.outcome });
}
