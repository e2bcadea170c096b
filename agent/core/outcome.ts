import { isAppError } from "../../shared/errors/app-error.js";
import { ERROR_CATALOG, isAgentOutcome, type AgentOutcomeCode } from "../../shared/errors/catalog.js";

export interface ReplyOutcome {
  /** "succeeded" or an agent outcome code. */
  outcome: "succeeded" | AgentOutcomeCode;
  /** Policy reason for PASSWORD_POLICY_VIOLATION, else "". */
  reason: string;
  /** Secret-free note for administrators. */
  diagnostic: string;
}

export const SUCCEEDED: ReplyOutcome = { outcome: "succeeded", reason: "", diagnostic: "" };

export function failure(outcome: AgentOutcomeCode, diagnostic = "", reason = ""): ReplyOutcome {
  return { outcome, reason, diagnostic };
}


/**
 * What a directory failure becomes in the reply. AppError messages are safe by contract;
 * anything else is an agent fault reported as a configuration error without its text.
 */
export function outcomeOfError(error: unknown): ReplyOutcome {
  if (isAppError(error)) {
    const diagnostic = error.message === ERROR_CATALOG[error.code].userMessage ? "" : error.message;
    if (isAgentOutcome(error.code)) {
      return { outcome: error.code, reason: error.code === "PASSWORD_POLICY_VIOLATION" ? (error.reason ?? "unknown") : "", diagnostic };
    }
    return failure("ONPREM_CONFIGURATION_ERROR", `agent error ${error.code}`);
  }
  return failure("ONPREM_CONFIGURATION_ERROR", `unexpected agent error ${error instanceof Error ? error.name : "unknown"}`);
}
