import type { PasswordPolicySummary } from "../../../shared/domain/password-policy.js";
import type { PolicyReason } from "../../../shared/errors/catalog.js";
import { meetsComplexity } from "../embedded/complexity.js";
import { PasswordText } from "../embedded/password-text.js";

/**
 * Which rule of the domain policy a refused password breaks, as far as the policy alone can
 * tell: too short, then complexity (Microsoft's rule, as the embedded directory applies it).
 * History and minimum age need the account's secrets or times: "unknown".
 */
export function diagnosePolicyReason(policy: PasswordPolicySummary, newPassword: Uint8Array, sAMAccountName: string | undefined): PolicyReason {
  const text = PasswordText.fromUtf8(newPassword);
  try {
    if (text.length < policy.minLength) return "tooShort";
    if (policy.complexity && !meetsComplexity(text, sAMAccountName ?? "", undefined)) return "complexity";
    return "unknown";
  } finally {
    text.wipe();
  }
}
