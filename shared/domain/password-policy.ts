/** The effective on-premises password policy, as the agent reports it in its heartbeat. */
export interface PasswordPolicySummary {
  minLength: number;
  complexity: boolean;
  historyLength: number;
  minAgeSeconds: number;
  /** 0 = passwords never expire. */
  maxAgeSeconds: number;
  /** 0 = no lockout. */
  lockoutThreshold: number;
  lockoutDurationSeconds: number;
}
