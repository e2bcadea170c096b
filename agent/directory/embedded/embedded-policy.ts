import type { PasswordPolicySummary } from "../../../shared/domain/password-policy.js";

/** A domain's password and lockout policy (the default domain policy's settings). */
export interface EmbeddedPolicy extends PasswordPolicySummary {
  /** Reset Account Lockout Counter After: bad attempts older than this are forgotten. */
  lockoutObservationWindowSeconds: number;
}

/** Windows Server's Default Domain Policy (lockout off by default). */
export const AD_DEFAULT_POLICY: Readonly<EmbeddedPolicy> = Object.freeze({
  minLength: 7,
  complexity: true,
  historyLength: 24,
  minAgeSeconds: 86_400,
  maxAgeSeconds: 42 * 86_400,
  lockoutThreshold: 0,
  lockoutDurationSeconds: 600,
  lockoutObservationWindowSeconds: 600,
});

export function policySummary(p: EmbeddedPolicy): PasswordPolicySummary {
  return {
    minLength: p.minLength,
    complexity: p.complexity,
    historyLength: p.historyLength,
    minAgeSeconds: p.minAgeSeconds,
    maxAgeSeconds: p.maxAgeSeconds,
    lockoutThreshold: p.lockoutThreshold,
    lockoutDurationSeconds: p.lockoutDurationSeconds,
  };
}
