import type { PasswordPolicySummary } from "../../../shared/domain/password-policy.js";

/** The domain object's attributes that make up the default domain password policy. */
export const POLICY_ATTRIBUTES = ["minPwdLength", "pwdProperties", "pwdHistoryLength", "minPwdAge", "maxPwdAge", "lockoutThreshold", "lockoutDuration"] as const;

/** pwdProperties DOMAIN_PASSWORD_COMPLEX. */
const PASSWORD_COMPLEX = 0x1;
/** The "never" interval (0x8000000000000000 as a signed int64). */
const NEVER = -(2n ** 63n);
const TICKS_PER_SECOND = 10_000_000n;

type Value = string | string[] | Buffer | Buffer[] | undefined;

function text(v: Value): string | undefined {
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined) return undefined;
  return typeof one === "string" ? one : one.toString("utf8");
}

function integer(v: Value): number {
  const t = text(v);
  const n = t === undefined ? 0 : Number.parseInt(t, 10);
  return Number.isFinite(n) ? n : 0;
}

/** AD stores durations as negative 100 ns intervals; "never" (and 0) become 0 seconds. */
export function intervalSeconds(v: Value): number {
  const t = text(v);
  if (t === undefined || !/^-?\d+$/.test(t.trim())) return 0;
  const ticks = BigInt(t.trim());
  if (ticks === NEVER || ticks === 0n) return 0;
  const abs = ticks < 0n ? -ticks : ticks;
  return Number(abs / TICKS_PER_SECOND);
}

/**
 * The default domain policy from the domain object. Fine-grained password policies (PSOs,
 * msDS-ResultantPSO) are not read: the summary is the domain-wide rule.
 */
export function policyFromDomainEntry(entry: Record<string, Value>): PasswordPolicySummary {
  return {
    minLength: integer(entry.minPwdLength),
    complexity: (integer(entry.pwdProperties) & PASSWORD_COMPLEX) !== 0,
    historyLength: integer(entry.pwdHistoryLength),
    minAgeSeconds: intervalSeconds(entry.minPwdAge),
    maxAgeSeconds: intervalSeconds(entry.maxPwdAge),
    lockoutThreshold: integer(entry.lockoutThreshold),
    // 0 = locked until an administrator unlocks (AD's "never" duration).
    lockoutDurationSeconds: intervalSeconds(entry.lockoutDuration),
  };
}

/** A fine-grained password policy object's (msDS-PasswordSettings) attributes. */
export const PSO_ATTRIBUTES = [
  "name",
  "msDS-MinimumPasswordLength",
  "msDS-PasswordComplexityEnabled",
  "msDS-PasswordHistoryLength",
  "msDS-MinimumPasswordAge",
  "msDS-MaximumPasswordAge",
  "msDS-LockoutThreshold",
  "msDS-LockoutDuration",
] as const;

/** The policy a PSO sets; undefined when its settings are not readable (AD hides them from non-administrators by default). */
export function policyFromPsoEntry(entry: Record<string, Value>): PasswordPolicySummary | undefined {
  if (text(entry["msDS-MinimumPasswordLength"]) === undefined || text(entry["msDS-PasswordComplexityEnabled"]) === undefined) return undefined;
  return {
    minLength: integer(entry["msDS-MinimumPasswordLength"]),
    complexity: (text(entry["msDS-PasswordComplexityEnabled"]) ?? "").toUpperCase() === "TRUE",
    historyLength: integer(entry["msDS-PasswordHistoryLength"]),
    minAgeSeconds: intervalSeconds(entry["msDS-MinimumPasswordAge"]),
    maxAgeSeconds: intervalSeconds(entry["msDS-MaximumPasswordAge"]),
    lockoutThreshold: integer(entry["msDS-LockoutThreshold"]),
    lockoutDurationSeconds: intervalSeconds(entry["msDS-LockoutDuration"]),
  };
}

