import type { PasswordPolicySummary } from "../../shared/domain/password-policy.js";
import type { HeartbeatEvent } from "../../shared/protocol/agent-event.js";
import type { DirectoryHealth, DirectoryService } from "../directory/directory.port.js";
import type { AgentKeyStore } from "./agent-key-store.js";
import type { BackendTrust } from "./backend-trust.js";
import { signAgentEvent, type AgentIdentity } from "./agent-events.js";
import { CloudClock } from "./cloud-clock.js";

export interface HeartbeatBuilderOptions extends AgentIdentity {
  directory: DirectoryService;
  keys: AgentKeyStore;
  /** Its key id goes into the heartbeat, so the backend can tell a mismatched pin. */
  trust?: BackendTrust | undefined;
  cloudClock?: CloudClock;
}

const NO_POLICY: PasswordPolicySummary = {
  minLength: 0,
  complexity: false,
  historyLength: 0,
  minAgeSeconds: 0,
  maxAgeSeconds: 0,
  lockoutThreshold: 0,
  lockoutDurationSeconds: 0,
};

/** The smallest non-zero value (0 means "off" for expiry and lockout). */
function minNonZero(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/**
 * With several domains, the strictest combination: a password that meets the summary meets
 * every domain's length and complexity rules, and the shortest expiry/lockout is shown.
 */
export function strictestPolicy(policies: readonly PasswordPolicySummary[]): PasswordPolicySummary {
  const [first, ...rest] = policies;
  if (first === undefined) return { ...NO_POLICY };
  return rest.reduce<PasswordPolicySummary>(
    (a, b) => ({
      minLength: Math.max(a.minLength, b.minLength),
      complexity: a.complexity || b.complexity,
      historyLength: Math.max(a.historyLength, b.historyLength),
      minAgeSeconds: Math.max(a.minAgeSeconds, b.minAgeSeconds),
      maxAgeSeconds: minNonZero(a.maxAgeSeconds, b.maxAgeSeconds),
      lockoutThreshold: minNonZero(a.lockoutThreshold, b.lockoutThreshold),
      lockoutDurationSeconds: Math.max(a.lockoutDurationSeconds, b.lockoutDurationSeconds),
    }),
    { ...first },
  );
}

/**
 * The periodic heartbeat: agent version, each domain's connector health, the effective
 * password policy (strictest over the reachable domains) and the package key versions held.
 */
export class HeartbeatBuilder {
  private readonly clock: CloudClock;

  constructor(private readonly o: HeartbeatBuilderOptions) {
    this.clock = o.cloudClock ?? new CloudClock();
  }

  async build(): Promise<HeartbeatEvent> {
    let connectors: DirectoryHealth[];
    try {
      connectors = await this.o.directory.health();
    } catch {
      connectors = [];
    }
    const policies: PasswordPolicySummary[] = [];
    const reported: DirectoryHealth[] = [];
    for (const c of connectors.slice(0, 50)) {
      let health = c;
      if (c.status !== "unreachable") {
        try {
          policies.push(await this.o.directory.passwordPolicy(c.domain));
        } catch {
          health = { domain: c.domain, status: "degraded", detail: "password policy not readable" };
        }
      }
      reported.push({ domain: health.domain.slice(0, 255), status: health.status, ...(health.detail === undefined ? {} : { detail: health.detail.slice(0, 200) }) });
    }
    return {
      v: 1,
      type: "heartbeat",
      tenantId: this.o.tenantId,
      agentId: this.o.agentId,
      agentVersion: this.o.agentVersion,
      sentAt: new Date(this.clock.localNow()).toISOString(),
      policy: strictestPolicy(policies),
      connectors: reported,
      keyVersions: this.o.keys.heldVersions(this.clock.now()),
      ...(this.o.trust === undefined ? {} : { signingKeyId: this.o.trust.keyId }),
    };
  }

  /** The signed heartbeat, ready for the agent-events queue. */
  async encode(): Promise<Buffer> {
    return signAgentEvent(await this.build(), this.o.keys);
  }
}
