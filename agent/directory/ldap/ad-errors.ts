import { ResultCodeError } from "ldapts";
import { AppError } from "../../../shared/errors/app-error.js";
import type { PolicyReason } from "../../../shared/errors/catalog.js";

/**
 * Active Directory's answers, and what they become. Decisions use the LDAP result code and
 * the 8-hex-digit Win32 code that AD puts first in the diagnostic text ("0000052D: ..."), or
 * a bind's "data 775"; the rest of the text is used only as a hint for the policy reason
 * (Samba names the rule, Windows says "problem 1005 (CONSTRAINT_ATT_TYPE)"). No server text,
 * DN or value ever reaches an AppError: they carry codes only.
 */

/** Win32 codes AD reports. */
export const WIN32 = {
  ACCESS_DENIED: 0x00000005,
  INVALID_PASSWORD: 0x00000056,
  WRONG_PASSWORD: 0x0000052b,
  PASSWORD_RESTRICTION: 0x0000052d,
  LOGON_FAILURE: 0x0000052e,
  ACCOUNT_RESTRICTION: 0x0000052f,
  INVALID_LOGON_HOURS: 0x00000530,
  INVALID_WORKSTATION: 0x00000531,
  PASSWORD_EXPIRED: 0x00000532,
  ACCOUNT_DISABLED: 0x00000533,
  ACCOUNT_EXPIRED: 0x00000701,
  PASSWORD_MUST_CHANGE: 0x00000773,
  ACCOUNT_LOCKED_OUT: 0x00000775,
} as const;

/** LDAP result codes that matter here (RFC 4511). */
export const RESULT = {
  timeLimitExceeded: 3,
  strongAuthRequired: 8,
  unavailableCriticalExtension: 12,
  confidentialityRequired: 13,
  constraintViolation: 19,
  noSuchObject: 32,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  other: 80,
} as const;

export interface AdResult {
  resultCode: number;
  /** The leading 8-hex-digit Win32 code, when the text starts with one. */
  win32: number | undefined;
  /** A bind's "data XXX" code (hex), when present. */
  bindData: number | undefined;
  /** The server's text: a hint only, never passed on. */
  hint: string;
}

/** Reads an ldapts result error; undefined for anything that is not an LDAP result. */
export function adResultOf(error: unknown): AdResult | undefined {
  if (!(error instanceof ResultCodeError)) return undefined;
  const text = error.message;
  const lead = /^\s*([0-9A-Fa-f]{8}):/.exec(text);
  const data = /\bdata ([0-9A-Fa-f]{1,8})\b/.exec(text);
  return {
    resultCode: error.code,
    win32: lead?.[1] === undefined ? undefined : Number.parseInt(lead[1], 16),
    bindData: data?.[1] === undefined ? undefined : Number.parseInt(data[1], 16),
    hint: text,
  };
}

const CONNECTION_CODES = /^(E[A-Z]+|ERR_TLS_.*|ERR_SSL_.*|CERT_.*|UNABLE_TO_.*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)$/;
const LDAPTS_CONNECTION_TEXT = /Socket error|Connection closed|Operation timed out|Connection timeout|Socket connection not established/;

/**
 * A failure of the transport (refused, reset, timed out, TLS handshake or certificate), as
 * opposed to an answer from the server. Returns a short secret-free label, else undefined.
 */
export function connectionFailureOf(error: unknown): string | undefined {
  if (!(error instanceof Error) || error instanceof ResultCodeError) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && CONNECTION_CODES.test(code)) return code;
  if (LDAPTS_CONNECTION_TEXT.test(error.message)) {
    if (/timed out|timeout/i.test(error.message)) return "timeout";
    return "connection lost";
  }
  return undefined;
}

/** The policy rule Samba names in its text; Windows does not say ("unknown"). */
export function policyReasonHint(hint: string): PolicyReason {
  const t = hint.toLowerCase();
  if (t.includes("too short")) return "tooShort";
  if (t.includes("complexity")) return "complexity";
  if (t.includes("history") || t.includes("previous password") || t.includes("already used")) return "history";
  if (t.includes("too young") || t.includes("minimum password age") || t.includes("min password age")) return "minimumAge";
  return "unknown";
}

const hex8 = (n: number | undefined) => (n === undefined ? "-" : n.toString(16).toUpperCase().padStart(8, "0"));

/** What an AD answer tells about the operation. */
export type Operation = "bind" | "read" | "reset" | "change" | "unlock";

/**
 * Maps an AD answer to the agent's outcome. `bind` is the agent's own service-account bind:
 * its failures are configuration problems, never the end user's account state.
 */
export function mapAdResult(r: AdResult, operation: Operation): AppError {
  const diag = `AD answered LDAP ${r.resultCode} (${hex8(r.win32)})`;
  if (operation === "bind") {
    if (r.resultCode === RESULT.invalidCredentials) {
      return new AppError("ONPREM_CONFIGURATION_ERROR", { message: `The agent's bind was refused (data ${r.bindData?.toString(16) ?? "-"}): check bindDn and bindPassword.` });
    }
    if (r.resultCode === RESULT.busy || r.resultCode === RESULT.unavailable) return new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: `${diag} to the agent's bind.` });
    return new AppError("ONPREM_CONFIGURATION_ERROR", { message: `${diag} to the agent's bind.` });
  }
  switch (r.win32) {
    case WIN32.PASSWORD_RESTRICTION:
      if (r.resultCode === RESULT.constraintViolation || r.resultCode === RESULT.unwillingToPerform) {
        return new AppError("PASSWORD_POLICY_VIOLATION", { reason: policyReasonHint(r.hint), message: `${diag}.` });
      }
      break;
    case WIN32.INVALID_PASSWORD:
    case WIN32.WRONG_PASSWORD:
      if (operation === "change") return new AppError("WRONG_CURRENT_PASSWORD", { message: `${diag}.` });
      break;
    case WIN32.ACCOUNT_LOCKED_OUT:
      return new AppError("ACCOUNT_LOCKED", { message: `${diag}.` });
    case WIN32.ACCOUNT_DISABLED:
      return new AppError("ACCOUNT_DISABLED", { message: `${diag}.` });
    case WIN32.ACCESS_DENIED:
      return new AppError("ONPREM_PERMISSION_DENIED", { message: `${diag}.` });
  }
  switch (r.resultCode) {
    case RESULT.insufficientAccessRights:
      return new AppError("ONPREM_PERMISSION_DENIED", { message: `${diag}.` });
    case RESULT.noSuchObject:
      return new AppError("USER_NOT_FOUND", { message: `${diag}: the account no longer exists.` });
    case RESULT.busy:
    case RESULT.unavailable:
    case RESULT.timeLimitExceeded:
      return new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: `${diag}.` });
    default:
      return new AppError("ONPREM_CONFIGURATION_ERROR", { message: `${diag}.` });
  }
}

/**
 * Any failure of an LDAP call as an AppError: AD answers by mapAdResult, transport failures as
 * ONPREM_DIRECTORY_UNAVAILABLE, AppErrors unchanged, anything else as a configuration error
 * naming only the error's type.
 */
export function toDirectoryError(error: unknown, operation: Operation): AppError {
  if (error instanceof AppError) return error;
  const result = adResultOf(error);
  if (result !== undefined) return mapAdResult(result, operation);
  const connection = connectionFailureOf(error);
  if (connection !== undefined) return new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: `No domain controller answered over LDAPS (${connection}).` });
  return new AppError("ONPREM_CONFIGURATION_ERROR", { message: `Unexpected LDAP client error (${error instanceof Error ? error.name : typeof error}).` });
}
