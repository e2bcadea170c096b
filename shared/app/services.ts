import type { AgentHeartbeatStore } from "../ports/agent-heartbeat-store.port.js";
import type { AuditLog } from "../ports/audit-log.port.js";
import type { Clock } from "../ports/clock.port.js";
import type { Logger } from "../ports/logger.port.js";
import type { OperationLedger } from "../ports/operation-ledger.port.js";
import type { OperationStore } from "../ports/operation-store.port.js";
import type { RateLimiter } from "../ports/rate-limiter.port.js";
import type { RelayClient } from "../ports/relay-client.port.js";
import type { Telemetry } from "../ports/telemetry.port.js";
import type { TenantKeyRing } from "../ports/tenant-key-ring.port.js";
import type { TenantSettingsStore } from "../ports/tenant-settings-store.port.js";
import type { TokenVerifier } from "../ports/token-verifier.port.js";
import type { PasswordReply } from "../protocol/envelope.js";

export interface WritebackPolicy {
  heartbeatWindowSeconds: number;
  replyTimeoutMs: number;
  messageTtlSeconds: number;
  keyRotationMonths: number;
}

/** Everything the use cases need, wired once by the composition root. */
export interface WritebackServices {
  settings: TenantSettingsStore;
  heartbeats: AgentHeartbeatStore;
  operations: OperationStore;
  rateLimiter: RateLimiter;
  /** Counts an attempt and records its operation as one step (over `operations` and `rateLimiter`). */
  ledger: OperationLedger;
  audit: AuditLog;
  keyRing: TenantKeyRing;
  relay: RelayClient<PasswordReply>;
  clock: Clock;
  logger: Logger;
  verifyToken: TokenVerifier;
  policy: WritebackPolicy;
  /** Traces and metrics; none when unset (tests, the local stack without a collector). */
  telemetry?: Telemetry | undefined;
}
