import type { PasswordPolicySummary } from "../../shared/domain/password-policy.js";
import type { UserPasswordPolicy } from "../../shared/protocol/envelope.js";

/** An on-premises AD account, as found through the sync store. */
export interface AccountRef {
  /** DNS name of the account's domain, e.g. corp.example.com. */
  domain: string;
  distinguishedName: string;
  /** objectGUID as a lowercase GUID string. */
  objectGuid: string;
}

export interface AccountState {
  ref: AccountRef;
  sAMAccountName: string;
  userPrincipalName: string | undefined;
  /** adminCount=1, or (LDAP) a member of a protected group right now, directly or nested (tokenGroups). */
  protected: boolean;
  disabled: boolean;
  lockedOut: boolean;
}

export interface ResetOptions {
  unlockAccount: boolean;
  forceChangeAtNextLogon: boolean;
}

export interface DirectoryHealth {
  domain: string;
  status: "healthy" | "degraded" | "unreachable";
  detail?: string;
  /** AD: the domain's PDC emulator (where writes go) and whether the agent reaches it. */
  pdcEmulator?: { host: string; reachable: boolean };
}

/**
 * One AD forest/domain set as the agent writes to it. Failures are thrown as
 * AppError with an agent outcome code (PASSWORD_POLICY_VIOLATION with a reason,
 * WRONG_CURRENT_PASSWORD, ACCOUNT_LOCKED, ACCOUNT_DISABLED, ONPREM_PERMISSION_DENIED,
 * ONPREM_DIRECTORY_UNAVAILABLE, USER_NOT_FOUND, ...). Passwords are UTF-8 Buffers owned
 * by the caller, which zeroes them afterwards; implementations never log them.
 */
export interface DirectoryService {
  readAccount(ref: AccountRef): Promise<AccountState | undefined>;
  /** Admin reset: history enforced (policy hints control), optional unlock and must-change. */
  resetPassword(ref: AccountRef, newPassword: Buffer, options: ResetOptions): Promise<void>;
  /** User change: remove old + add new in one modify. */
  changePassword(ref: AccountRef, currentPassword: Buffer, newPassword: Buffer): Promise<void>;
  unlockAccount(ref: AccountRef): Promise<void>;
  passwordPolicy(domain: string): Promise<PasswordPolicySummary>;
  /**
   * The policy AD applies to this account: the fine-grained password policy (PSO) with the
   * lowest precedence among those applying to it or its groups (msDS-ResultantPSO), else the
   * domain's. Directories without fine-grained policies leave it out (the domain's applies).
   */
  effectivePolicy?(ref: AccountRef): Promise<UserPasswordPolicy>;
  health(): Promise<DirectoryHealth[]>;
  close(): Promise<void>;
}
