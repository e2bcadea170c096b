/**
 * The error catalog: every stable code the product can answer with, its HTTP status,
 * the message an end user sees, and what an administrator should check.
 * Codes are a contract with SSPR frontends and operators: add, never rename.
 */
export const ERROR_CATALOG = {
  // --- request and caller ---
  INVALID_REQUEST: {
    status: 400,
    userMessage: "The request is not valid.",
    adminHint: "The response lists the invalid fields (never their values). Fix the caller; see the OpenAPI document.",
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    userMessage: "The request is too large.",
    adminHint: "Request bodies are limited to 16 KiB. What one 1 KiB sealed message holds is limited too: the cloud anchor to 128 UTF-8 bytes, each password to 256 characters and the passwords together to 531 UTF-8 bytes (INVALID_REQUEST names the field).",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    userMessage: "The request must be JSON.",
    adminHint: "Send Content-Type: application/json.",
  },
  UNAUTHENTICATED: {
    status: 401,
    userMessage: "You need to sign in again.",
    adminHint: "The bearer token is missing, expired, not yet valid, has no exp or a lifetime over AUTH_MAX_TOKEN_LIFETIME_SECONDS, or fails issuer/audience/signature checks against AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL/AUTH_PUBLIC_KEY_PEM.",
  },
  FORBIDDEN: {
    status: 403,
    userMessage: "You are not allowed to do this.",
    adminHint: "The token lacks the role this route needs (Writeback.Operate or Writeback.Admin) or its tid claim is not the route's tenant.",
  },
  NOT_FOUND: {
    status: 404,
    userMessage: "Not found.",
    adminHint: "No such route. See the OpenAPI document for the routes under /api/v1.",
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    userMessage: "Not allowed.",
    adminHint: "This route does not accept that HTTP method.",
  },
  RATE_LIMITED: {
    status: 429,
    userMessage: "Too many password operations for this account. Try again later.",
    adminHint: "The per-user limit (RATE_LIMIT_MAX_OPERATIONS per RATE_LIMIT_WINDOW_SECONDS) was reached; Retry-After says when the oldest attempt leaves the window.",
  },
  REQUEST_ID_CONFLICT: {
    status: 409,
    userMessage: "This request was already submitted with different details.",
    adminHint: "A requestId was reused for a different operation, user or initiator. Use a fresh UUID per operation and resend the same one only to retry.",
  },
  SETTINGS_CONFLICT: {
    status: 409,
    userMessage: "The settings were changed by someone else at the same time.",
    adminHint: "Read the settings again (GET .../writeback) and repeat the change.",
  },
  OPERATION_NOT_FOUND: {
    status: 404,
    userMessage: "No such password operation.",
    adminHint: "No operation with this requestId was recorded for this tenant (or its record expired).",
  },
  // --- product rules ---
  OPERATION_NOT_SUPPORTED: {
    status: 422,
    userMessage: "Password writeback is not supported for this kind of operation.",
    adminHint: "Writeback covers user changes from accessPanel, office365 or ssprPortal, user resets from ssprPortal, and admin resets from azurePortal, entraAdminCenter or ssprPortal. Resets through PowerShell, Graph or the Microsoft 365 admin center are not written back.",
  },
  NOT_APPLICABLE_CLOUD_ONLY: {
    status: 422,
    userMessage: "Your account has no on-premises password to update.",
    adminHint: "Cloud-only users have no on-premises password; change it in the cloud directory only.",
  },
  WRITEBACK_DISABLED: {
    status: 409,
    userMessage: "Password writeback is turned off for your organization.",
    adminHint: "Enable it with PUT /api/v1/tenants/{tenantId}/writeback {\"enabled\":true} or `writeback enable`.",
  },
  UNLOCK_NOT_ENABLED: {
    status: 409,
    userMessage: "Unlocking an account without resetting its password is not allowed by your organization.",
    adminHint: "Turn on allowUnlockWithoutReset with PUT /api/v1/tenants/{tenantId}/writeback.",
  },
  AGENT_NOT_REGISTERED: {
    status: 409,
    userMessage: "Password writeback is not set up for your organization yet.",
    adminHint: "Run `agent register` on the on-premises agent so its public key is uploaded, then enable writeback.",
  },
  KEYS_NOT_ACKNOWLEDGED: {
    status: 503,
    userMessage: "Password writeback is not ready yet. Try again in a few minutes.",
    adminHint: "The agent has not acknowledged any package key. Check that the agent is running, then re-enable writeback or rotate keys.",
  },
  AGENT_SIGNING_KEY_MISMATCH: {
    status: 502,
    userMessage: "Password writeback is not ready yet. Contact your help desk.",
    adminHint: "The agent has not pinned the backend's current control-signing key (its heartbeat names another key, or none: an agent from before signed control messages), so it would refuse every key delivery. Run `agent pin-backend-key` (or `agent register --force`) on the agent, then retry.",
  },
  // --- cloud-side availability ---
  AGENT_OFFLINE: {
    status: 503,
    userMessage: "Your password can't be changed right now because the on-premises service is unavailable. Try again later.",
    adminHint: "No agent heartbeat within AGENT_HEARTBEAT_WINDOW_SECONDS. Check the agent process, its outbound access to Service Bus, and `agent status`.",
  },
  AGENT_TIMEOUT: {
    status: 504,
    userMessage: "The on-premises service did not answer in time. Your password may or may not have changed; check before trying again.",
    adminHint: "No reply within RELAY_REPLY_TIMEOUT_MS. GET .../password-operations/{requestId} later tells the final outcome. Check the agent's logs and its domain controllers.",
  },
  KEY_STORE_UNAVAILABLE: {
    status: 503,
    userMessage: "Password writeback is temporarily unavailable. Try again later.",
    adminHint: "Key Vault could not be read (outage, throttling beyond retries, or missing RBAC role 'Key Vault Secrets Officer' for the app's identity).",
  },
  RELAY_UNAVAILABLE: {
    status: 503,
    userMessage: "Password writeback is temporarily unavailable. Try again later.",
    adminHint: "The Service Bus namespace could not be reached or refused the app's credentials, or the tenant queue does not exist (run `writeback onboard-tenant`).",
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    userMessage: "Password writeback is temporarily unavailable. Try again later.",
    adminHint: "Table storage could not be reached. Check TABLES_CONNECTION_STRING / TABLES_ENDPOINT, the storage account and the app's role assignments.",
  },
  INTERNAL_ERROR: {
    status: 500,
    userMessage: "Something went wrong. Try again later.",
    adminHint: "An unexpected error; the requestId in the response finds it in the function logs.",
  },
  // --- outcomes reported by the on-premises agent ---
  PASSWORD_POLICY_VIOLATION: {
    status: 422,
    userMessage: "The new password does not meet your organization's password policy.",
    adminHint: "reason banned: the cloud's banned-password check refused it before anything was sent to the agent (global list, the tenant's custom terms, the user's own names; see README, Password protection). Otherwise Active Directory refused it (reason: tooShort, complexity, history, minimumAge, filter or unknown); the policy is in the agent's heartbeat (GET .../writeback).",
  },
  WRONG_CURRENT_PASSWORD: {
    status: 422,
    userMessage: "The current password is not correct.",
    adminHint: "Active Directory answered 00000056 (wrong old password) for a change.",
  },
  USER_NOT_FOUND: {
    status: 404,
    userMessage: "Your on-premises account could not be found.",
    adminHint: "The cloud anchor has no object in the cloud connector space, or no linked metaverse/AD object. Check synchronization of this user.",
  },
  USER_AMBIGUOUS: {
    status: 409,
    userMessage: "Your on-premises account could not be identified.",
    adminHint: "More than one AD account matches through the Microsoft.InfromADUserAccountEnabled link (several forests). Fix the sync rules so exactly one account forest is chosen.",
  },
  PROTECTED_ACCOUNT: {
    status: 403,
    userMessage: "The password of this account can't be changed from here.",
    adminHint: "The account is protected: adminCount=1, or a member (direct or nested, read from tokenGroups) of a protected group such as Domain Admins, or the Administrator/krbtgt account. Writeback is not supported for protected accounts; reset it on-premises.",
  },
  ACCOUNT_DISABLED: {
    status: 403,
    userMessage: "Your account is disabled.",
    adminHint: "The AD account is disabled (00000533). Enable it on-premises first.",
  },
  ACCOUNT_LOCKED: {
    status: 423,
    userMessage: "Your account is locked.",
    adminHint: "The AD account is locked out (00000775). Reset with unlockAccount, use account-unlocks, or wait for the lockout duration.",
  },
  ONPREM_PERMISSION_DENIED: {
    status: 502,
    userMessage: "Your password can't be changed right now. Contact your help desk.",
    adminHint: "The agent's AD account lacks Reset Password / Change Password / write lockoutTime and pwdLastSet rights on this user (00000005).",
  },
  ONPREM_DIRECTORY_UNAVAILABLE: {
    status: 502,
    userMessage: "Your password can't be changed right now. Try again later.",
    adminHint: "The agent could not reach the domain's PDC emulator over LDAPS. Run `agent check`.",
  },
  ONPREM_CONFIGURATION_ERROR: {
    status: 502,
    userMessage: "Your password can't be changed right now. Contact your help desk.",
    adminHint: "The agent's configuration or sync store is inconsistent (for example a metaverse link without the Microsoft.InfromADUserAccountEnabled rule, or no connector for the account's domain). Run `agent check`.",
  },
} as const satisfies Record<string, { status: number; userMessage: string; adminHint: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Outcomes the on-premises agent can report in a reply. */
export const AGENT_OUTCOME_CODES = [
  "PASSWORD_POLICY_VIOLATION",
  "WRONG_CURRENT_PASSWORD",
  "USER_NOT_FOUND",
  "USER_AMBIGUOUS",
  "PROTECTED_ACCOUNT",
  "ACCOUNT_DISABLED",
  "ACCOUNT_LOCKED",
  "ONPREM_PERMISSION_DENIED",
  "ONPREM_DIRECTORY_UNAVAILABLE",
  "ONPREM_CONFIGURATION_ERROR",
  "WRITEBACK_DISABLED",
] as const satisfies readonly ErrorCode[];
export type AgentOutcomeCode = (typeof AGENT_OUTCOME_CODES)[number];

/** Whether an agent's answer is one of the outcomes it may report (anything else is a configuration error). */
export function isAgentOutcome(code: string): code is AgentOutcomeCode {
  return (AGENT_OUTCOME_CODES as readonly string[]).includes(code);
}

/** Why a password was refused: by Active Directory, or ("banned") by the cloud's banned-password check before anything was sent. */
export const POLICY_REASONS = ["tooShort", "complexity", "history", "minimumAge", "filter", "banned", "unknown"] as const;
export type PolicyReason = (typeof POLICY_REASONS)[number];

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CATALOG, value);
}
