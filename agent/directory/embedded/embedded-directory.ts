import { randomUUID } from "node:crypto";
import type { PasswordPolicySummary } from "../../../shared/domain/password-policy.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { PolicyReason } from "../../../shared/errors/catalog.js";
import type { UserPasswordPolicy } from "../../../shared/protocol/envelope.js";
import { systemClock, type Clock } from "../../../shared/ports/clock.port.js";
import type { DirectoryChanges, DirectorySource, DirectoryUserEntry, SourceAnchorLocator, SourceAnchorMatch } from "../../sync/directory-source.port.js";
import { sourceAnchorOf } from "../../sync/source-anchor.js";
import type { AccountRef, AccountState, DirectoryHealth, DirectoryService, ResetOptions } from "../directory.port.js";
import { meetsComplexity } from "./complexity.js";
import { AD_DEFAULT_POLICY, policySummary, type EmbeddedPolicy } from "./embedded-policy.js";
import { hashPassword, matches, matchesAny, type StoredHash } from "./password-hash.js";
import { PasswordText } from "./password-text.js";

export interface EmbeddedDomainInit {
  /** DNS name, e.g. corp.example.com. */
  domain: string;
  /** Forest root DNS name; defaults to the domain (the AD connector's name in the sync store). */
  forest?: string | undefined;
  policy?: Partial<EmbeddedPolicy> | undefined;
}

export interface EmbeddedUserInit {
  sAMAccountName: string;
  displayName?: string | undefined;
  userPrincipalName?: string | undefined;
  /** Defaults to CN=<displayName or sAMAccountName>,CN=Users,<domain DN>. */
  distinguishedName?: string | undefined;
  /** Defaults to a random GUID. */
  objectGuid?: string | undefined;
  msDsConsistencyGuid?: Uint8Array | undefined;
  /** UTF-8; hashed at once, never kept. No policy check (like an import), see addUser. */
  password?: Uint8Array | undefined;
  adminCount?: 0 | 1 | undefined;
  disabled?: boolean | undefined;
  /** userAccountControl DONT_EXPIRE_PASSWORD. */
  passwordNeverExpires?: boolean | undefined;
  /** pwdLastSet=0: must change at next logon. */
  mustChangePassword?: boolean | undefined;
  /** When the initial password was set (defaults to now); for age and expiry tests. */
  passwordLastSet?: Date | undefined;
}

/** The outcome of a simple bind, with AD's bind data codes in mind (52e, 775, 533, 773, 532). */
export type BindResult = "ok" | "badPassword" | "locked" | "disabled" | "mustChange" | "expired";

/** What tests and audits may see of an account: attributes and counters, never hashes. */
export interface EmbeddedUserSnapshot {
  ref: AccountRef;
  sAMAccountName: string;
  userPrincipalName: string | undefined;
  displayName: string | undefined;
  adminCount: 0 | 1;
  disabled: boolean;
  passwordNeverExpires: boolean;
  /** 0 = must change at next logon; else when the password was last set. */
  pwdLastSet: Date | 0;
  badPwdCount: number;
  badPasswordTime: Date | undefined;
  /** 0 = not locked (or explicitly unlocked). */
  lockoutTime: Date | 0;
  /** Effective lock state now (a lockout ends by itself after the lockout duration). */
  lockedOut: boolean;
  passwordExpired: boolean;
  hasPassword: boolean;
  /** Number of remembered passwords (current included). */
  historyEntries: number;
  /** Successful password writes (resets and changes) since creation; the initial password excluded. */
  passwordWrites: number;
  unlocks: number;
}

interface UserRecord {
  objectGuid: string;
  msDsConsistencyGuid: Buffer | undefined;
  sAMAccountName: string;
  displayName: string | undefined;
  userPrincipalName: string | undefined;
  distinguishedName: string;
  adminCount: 0 | 1;
  disabled: boolean;
  passwordNeverExpires: boolean;
  /** Most recent first; [0] is the current password. */
  history: StoredHash[];
  /** Epoch ms; 0 = must change. */
  pwdLastSet: number;
  badPwdCount: number;
  badPasswordTime: number;
  /** Epoch ms; 0 = not locked. */
  lockoutTime: number;
  passwordWrites: number;
  unlocks: number;
  /** Like AD's uSNChanged: the directory's change counter at the last change of this object. */
  usnChanged: number;
}

interface DomainRecord {
  domain: string;
  forest: string;
  policy: EmbeddedPolicy;
  reachable: boolean;
  users: Map<string, UserRecord>;
  /** Fine-grained password policies (PSOs): the one of lowest precedence that names the user applies. */
  passwordSettings: { name: string; precedence: number; appliesTo: Set<string>; policy: EmbeddedPolicy }[];
  /** Deleted users' objectGUIDs with the change number of the deletion (AD's tombstones). */
  tombstones: { objectGuid: string; usn: number }[];
  /** Changes to this domain's watermarks from another "DC" (a restart) are refused: see changesSince. */
  invocationId: string;
}

export interface EmbeddedDirectoryOptions {
  clock?: Clock;
  /** Each write (reset, change, unlock) takes this long before it applies: a slow DC, for demos and drain tests (default 0). */
  writeLatencyMs?: number;
}

function policyError(reason: PolicyReason): AppError {
  return new AppError("PASSWORD_POLICY_VIOLATION", { reason });
}

function domainDn(domain: string): string {
  return domain
    .split(".")
    .map((p) => `DC=${p}`)
    .join(",");
}

/**
 * An in-memory Active Directory with AD's password semantics, for the local stack and fast
 * tests. What it models (and the LDAP adapter maps AD's answers to the same AppError codes):
 * - admin reset (with the policy-hints control): length, complexity and history enforced,
 *   minimum age not (AD enforces only history through the hints on a reset); optional unlock
 *   and must-change (pwdLastSet=0), else pwdLastSet=now;
 * - user change: locked → ACCOUNT_LOCKED, disabled → ACCOUNT_DISABLED, wrong current password
 *   → WRONG_CURRENT_PASSWORD and a bad attempt counted (badPwdCount, observation window,
 *   lockout at the threshold), then minimum age, length, complexity, history;
 * - history: the last historyLength passwords (the current one included) cannot be reused;
 * - lockout: lockoutTime set when badPwdCount reaches the threshold, ends after the lockout
 *   duration (0 = until an administrator unlocks), lockoutTime=0 unlocks and clears badPwdCount;
 * - expiry: maxAge from pwdLastSet unless the password never expires.
 * Protected accounts (adminCount=1) are only flagged: refusing them is the agent's rule.
 */
export class EmbeddedDirectory implements DirectoryService, DirectorySource, SourceAnchorLocator {
  private readonly domains = new Map<string, DomainRecord>();
  private readonly clock: Clock;
  private writes = 0;
  private usn = 0;
  private readonly writeLatencyMs: number;

  constructor(options: EmbeddedDirectoryOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.writeLatencyMs = options.writeLatencyMs ?? 0;
  }

  private async latency(): Promise<void> {
    if (this.writeLatencyMs > 0) await new Promise((done) => setTimeout(done, this.writeLatencyMs));
  }

  // ------------------------------------------------------------ set-up

  addDomain(init: EmbeddedDomainInit): void {
    const key = init.domain.toLowerCase();
    if (this.domains.has(key)) throw new Error(`domain ${init.domain} exists already`);
    this.domains.set(key, {
      domain: key,
      forest: (init.forest ?? init.domain).toLowerCase(),
      policy: { ...AD_DEFAULT_POLICY, ...init.policy },
      reachable: true,
      users: new Map(),
      tombstones: [],
      passwordSettings: [],
      invocationId: randomUUID(),
    });
  }

  /** Tightens or relaxes a domain's policy (like editing the Default Domain Policy). */
  setPolicy(domain: string, policy: Partial<EmbeddedPolicy>): void {
    const d = this.domainOrThrow(domain);
    d.policy = { ...d.policy, ...policy };
  }

  /**
   * Creates a user. The initial password is stored without policy checks, like a seeded or
   * migrated account; it counts as the first history entry.
   */
  addUser(domain: string, init: EmbeddedUserInit): AccountRef {
    const d = this.domainOrThrow(domain);
    const objectGuid = (init.objectGuid ?? randomUUID()).toLowerCase();
    if (d.users.has(objectGuid)) throw new Error(`objectGUID ${objectGuid} exists already`);
    for (const u of d.users.values()) {
      if (u.sAMAccountName.toLowerCase() === init.sAMAccountName.toLowerCase()) throw new Error(`sAMAccountName ${init.sAMAccountName} exists already`);
    }
    const now = this.clock.now().getTime();
    const user: UserRecord = {
      objectGuid,
      msDsConsistencyGuid: init.msDsConsistencyGuid === undefined ? undefined : Buffer.from(init.msDsConsistencyGuid),
      sAMAccountName: init.sAMAccountName,
      displayName: init.displayName,
      userPrincipalName: init.userPrincipalName,
      distinguishedName: init.distinguishedName ?? `CN=${init.displayName ?? init.sAMAccountName},CN=Users,${domainDn(d.domain)}`,
      adminCount: init.adminCount ?? 0,
      disabled: init.disabled ?? false,
      passwordNeverExpires: init.passwordNeverExpires ?? false,
      history: [],
      pwdLastSet: init.mustChangePassword === true ? 0 : (init.passwordLastSet?.getTime() ?? now),
      badPwdCount: 0,
      badPasswordTime: 0,
      lockoutTime: 0,
      passwordWrites: 0,
      unlocks: 0,
      usnChanged: ++this.usn,
    };
    if (init.password !== undefined) {
      const text = PasswordText.fromUtf8(init.password);
      try {
        user.history.push(hashPassword(text.utf16le));
      } finally {
        text.wipe();
      }
    }
    d.users.set(objectGuid, user);
    return this.refOf(d, user);
  }

  /**
   * A fine-grained password policy (PSO) for the users named (sAMAccountName; AD applies PSOs to
   * users and global groups, resolved here to their members). Its settings replace the domain's.
   */
  addPasswordSettings(domain: string, pso: { name: string; precedence: number; appliesTo: readonly string[]; policy: Partial<EmbeddedPolicy> }): void {
    const d = this.domainOrThrow(domain);
    d.passwordSettings.push({ name: pso.name, precedence: pso.precedence, appliesTo: new Set(pso.appliesTo.map((n) => n.toLowerCase())), policy: { ...d.policy, ...pso.policy } });
  }

  private psoOf(domain: DomainRecord, user: UserRecord): DomainRecord["passwordSettings"][number] | undefined {
    let best: DomainRecord["passwordSettings"][number] | undefined;
    for (const pso of domain.passwordSettings) {
      if (pso.appliesTo.has(user.sAMAccountName.toLowerCase()) && (best === undefined || pso.precedence < best.precedence)) best = pso;
    }
    return best;
  }

  private policyOf(domain: DomainRecord, user: UserRecord): EmbeddedPolicy {
    return this.psoOf(domain, user)?.policy ?? domain.policy;
  }

  async effectivePolicy(ref: AccountRef): Promise<UserPasswordPolicy> {
    const { domain, user } = this.find(ref);
    const pso = this.psoOf(domain, user);
    return pso === undefined ? { ...policySummary(domain.policy), source: "domain" } : { ...policySummary(pso.policy), source: "passwordSettingsObject", passwordSettingsObject: pso.name };
  }

  /** Deletes a user (its tombstone is what an incremental read reports). */
  deleteUser(ref: AccountRef): void {
    const { domain, user } = this.find(ref, { ignoreReachability: true });
    domain.users.delete(user.objectGuid);
    domain.tombstones.push({ objectGuid: user.objectGuid, usn: ++this.usn });
  }

  /** Moves or renames a user: a new DN, the same objectGUID. */
  moveUser(ref: AccountRef, distinguishedName: string): AccountRef {
    const { domain, user } = this.find(ref, { ignoreReachability: true });
    user.distinguishedName = distinguishedName;
    user.usnChanged = ++this.usn;
    return this.refOf(domain, user);
  }

  /** Fault switch: an unreachable domain (or all, without a domain) answers ONPREM_DIRECTORY_UNAVAILABLE. */
  setReachable(reachable: boolean, domain?: string): void {
    for (const d of domain === undefined ? this.domains.values() : [this.domainOrThrow(domain)]) d.reachable = reachable;
  }

  setAccountFlags(ref: AccountRef, flags: { disabled?: boolean; adminCount?: 0 | 1; passwordNeverExpires?: boolean; lockedOut?: boolean }): void {
    const { user } = this.find(ref, { ignoreReachability: true });
    // Like AD after threshold bad passwords: locked from now for the lockout duration.
    if (flags.lockedOut !== undefined) user.lockoutTime = flags.lockedOut ? this.clock.now().getTime() : 0;
    if (flags.disabled !== undefined) user.disabled = flags.disabled;
    if (flags.adminCount !== undefined) user.adminCount = flags.adminCount;
    if (flags.passwordNeverExpires !== undefined) user.passwordNeverExpires = flags.passwordNeverExpires;
    user.usnChanged = ++this.usn;
  }

  // ------------------------------------------------------------ DirectoryService

  async readAccount(ref: AccountRef): Promise<AccountState | undefined> {
    const d = this.reachableDomain(ref.domain);
    const user = d.users.get(ref.objectGuid.toLowerCase());
    if (user === undefined) return undefined;
    return {
      ref: this.refOf(d, user),
      sAMAccountName: user.sAMAccountName,
      userPrincipalName: user.userPrincipalName,
      protected: user.adminCount === 1,
      disabled: user.disabled,
      lockedOut: this.isLocked(d, user, this.clock.now().getTime()),
    };
  }

  async resetPassword(ref: AccountRef, newPassword: Buffer, options: ResetOptions): Promise<void> {
    await this.latency();
    const { domain, user } = this.find(ref);
    const now = this.clock.now().getTime();
    const text = PasswordText.fromUtf8(newPassword);
    try {
      // Through the policy-hints control AD enforces history on a reset; minimum age it does not.
      this.checkPolicy(domain, user, text);
      this.store(domain, user, text);
    } finally {
      text.wipe();
    }
    if (options.unlockAccount) this.clearLockout(user);
    user.pwdLastSet = options.forceChangeAtNextLogon ? 0 : now;
  }

  async changePassword(ref: AccountRef, currentPassword: Buffer, newPassword: Buffer): Promise<void> {
    await this.latency();
    const { domain, user } = this.find(ref);
    const now = this.clock.now().getTime();
    if (this.isLocked(domain, user, now)) throw new AppError("ACCOUNT_LOCKED");
    if (user.disabled) throw new AppError("ACCOUNT_DISABLED");
    if (!this.isCurrentPassword(user, currentPassword)) {
      this.countBadPassword(domain, user, now);
      throw new AppError("WRONG_CURRENT_PASSWORD");
    }
    user.badPwdCount = 0;
    const minAgeMs = this.policyOf(domain, user).minAgeSeconds * 1000;
    if (minAgeMs > 0 && user.pwdLastSet !== 0 && now - user.pwdLastSet < minAgeMs) throw policyError("minimumAge");
    const text = PasswordText.fromUtf8(newPassword);
    try {
      this.checkPolicy(domain, user, text);
      this.store(domain, user, text);
    } finally {
      text.wipe();
    }
    user.pwdLastSet = now;
  }

  async unlockAccount(ref: AccountRef): Promise<void> {
    await this.latency();
    const { user } = this.find(ref);
    this.clearLockout(user);
    user.unlocks += 1;
    this.writes += 1;
  }

  async passwordPolicy(domain: string): Promise<PasswordPolicySummary> {
    return policySummary(this.reachableDomain(domain).policy);
  }

  async health(): Promise<DirectoryHealth[]> {
    return [...this.domains.values()].map((d) =>
      d.reachable ? { domain: d.domain, status: "healthy" as const } : { domain: d.domain, status: "unreachable" as const, detail: "marked unreachable" },
    );
  }

  async close(): Promise<void> {}

  // ------------------------------------------------------------ DirectorySource

  async *listUsers(domain: string): AsyncIterable<DirectoryUserEntry> {
    const d = this.reachableDomain(domain);
    for (const u of [...d.users.values()]) yield this.entryOf(u);
  }

  /** Watermark "<invocationId>:<usn>", like a DC's invocationId and highestCommittedUSN. */
  async changesSince(domain: string, watermark: string | undefined): Promise<DirectoryChanges> {
    const d = this.reachableDomain(domain);
    const [invocation, usnText] = (watermark ?? "").split(":");
    const since = invocation === d.invocationId && usnText !== undefined && /^\d+$/.test(usnText) ? Number(usnText) : undefined;
    const mark = `${d.invocationId}:${this.usn}`;
    const users = [...d.users.values()].filter((u) => since === undefined || u.usnChanged > since).map((u) => this.entryOf(u));
    const deleted = since === undefined ? [] : d.tombstones.filter((t) => t.usn > since).map((t) => t.objectGuid);
    return {
      watermark: mark,
      full: since === undefined,
      changed: (async function* () {
        yield* users;
      })(),
      deleted: async () => deleted,
    };
  }

  async findBySourceAnchor(sourceAnchor: Uint8Array): Promise<{ domain: string; matches?: SourceAnchorMatch[]; error?: unknown }[]> {
    const wanted = Buffer.from(sourceAnchor).toString("base64");
    return [...this.domains.values()].map((d) => {
      if (!d.reachable) return { domain: d.domain, error: new AppError("ONPREM_DIRECTORY_UNAVAILABLE") };
      const matches = [...d.users.values()]
        .filter((u) => sourceAnchorOf(u) === wanted)
        .map((u) => ({ domain: d.domain, forest: d.forest, objectGuid: u.objectGuid, distinguishedName: u.distinguishedName, disabled: u.disabled }));
      return { domain: d.domain, matches };
    });
  }

  private entryOf(u: UserRecord): DirectoryUserEntry {
    return {
      objectGuid: u.objectGuid,
      msDsConsistencyGuid: u.msDsConsistencyGuid === undefined ? undefined : Buffer.from(u.msDsConsistencyGuid),
      distinguishedName: u.distinguishedName,
      userPrincipalName: u.userPrincipalName,
      sAMAccountName: u.sAMAccountName,
      disabled: u.disabled,
    };
  }

  // ------------------------------------------------------------ tests and audit

  /** A simple bind with this password: counts a bad attempt like AD does. */
  async verifyPassword(ref: AccountRef, password: Buffer): Promise<BindResult> {
    const { domain, user } = this.find(ref);
    const now = this.clock.now().getTime();
    if (this.isLocked(domain, user, now)) return "locked";
    if (!this.isCurrentPassword(user, password)) {
      this.countBadPassword(domain, user, now);
      return "badPassword";
    }
    if (user.disabled) return "disabled";
    user.badPwdCount = 0;
    if (user.pwdLastSet === 0) return "mustChange";
    if (this.isExpired(domain, user, now)) return "expired";
    return "ok";
  }

  /** Finds an account by sAMAccountName (case-insensitive). */
  findUser(domain: string, sAMAccountName: string): AccountRef | undefined {
    const d = this.domainOrThrow(domain);
    const wanted = sAMAccountName.toLowerCase();
    for (const u of d.users.values()) if (u.sAMAccountName.toLowerCase() === wanted) return this.refOf(d, u);
    return undefined;
  }

  inspect(ref: AccountRef): EmbeddedUserSnapshot {
    const { domain, user } = this.find(ref, { ignoreReachability: true });
    const now = this.clock.now().getTime();
    return {
      ref: this.refOf(domain, user),
      sAMAccountName: user.sAMAccountName,
      userPrincipalName: user.userPrincipalName,
      displayName: user.displayName,
      adminCount: user.adminCount,
      disabled: user.disabled,
      passwordNeverExpires: user.passwordNeverExpires,
      pwdLastSet: user.pwdLastSet === 0 ? 0 : new Date(user.pwdLastSet),
      badPwdCount: user.badPwdCount,
      badPasswordTime: user.badPasswordTime === 0 ? undefined : new Date(user.badPasswordTime),
      lockoutTime: user.lockoutTime === 0 ? 0 : new Date(user.lockoutTime),
      lockedOut: this.isLocked(domain, user, now),
      passwordExpired: this.isExpired(domain, user, now),
      hasPassword: user.history.length > 0,
      historyEntries: user.history.length,
      passwordWrites: user.passwordWrites,
      unlocks: user.unlocks,
    };
  }

  /** Every successful write (password resets, changes, unlocks) across all domains. */
  writeCount(): number {
    return this.writes;
  }

  domainNames(): string[] {
    return [...this.domains.keys()];
  }

  forestOf(domain: string): string {
    return this.domainOrThrow(domain).forest;
  }

  // ------------------------------------------------------------ rules

  private checkPolicy(domain: DomainRecord, user: UserRecord, text: PasswordText): void {
    const p = this.policyOf(domain, user);
    if (text.length < p.minLength) throw policyError("tooShort");
    if (p.complexity && !meetsComplexity(text, user.sAMAccountName, user.displayName)) throw policyError("complexity");
    const remembered = user.history.slice(0, p.historyLength);
    if (matchesAny(remembered, text.utf16le)) throw policyError("history");
  }

  private store(domain: DomainRecord, user: UserRecord, text: PasswordText): void {
    user.history.unshift(hashPassword(text.utf16le, user.history[0]?.salt));
    // Keep at least the current password (for binds) and as many as the policy remembers.
    user.history.length = Math.min(user.history.length, Math.max(1, this.policyOf(domain, user).historyLength));
    user.passwordWrites += 1;
    this.writes += 1;
  }

  /** Compares against the newest history entry; the decoded copy is wiped either way. */
  private isCurrentPassword(user: UserRecord, password: Buffer): boolean {
    const text = PasswordText.fromUtf8(password);
    try {
      const current = user.history[0];
      return current !== undefined && matches(current, text.utf16le);
    } finally {
      text.wipe();
    }
  }

  private isLocked(domain: DomainRecord, user: UserRecord, now: number): boolean {
    if (user.lockoutTime === 0) return false;
    const duration = this.policyOf(domain, user).lockoutDurationSeconds * 1000;
    if (duration === 0 || now - user.lockoutTime < duration) return true;
    // The lockout ran out: AD treats the account as unlocked and starts counting afresh.
    user.lockoutTime = 0;
    user.badPwdCount = 0;
    return false;
  }

  private isExpired(domain: DomainRecord, user: UserRecord, now: number): boolean {
    const maxAge = this.policyOf(domain, user).maxAgeSeconds * 1000;
    return user.pwdLastSet !== 0 && !user.passwordNeverExpires && maxAge > 0 && now - user.pwdLastSet >= maxAge;
  }

  private countBadPassword(domain: DomainRecord, user: UserRecord, now: number): void {
    const p = this.policyOf(domain, user);
    if (user.badPasswordTime !== 0 && now - user.badPasswordTime >= p.lockoutObservationWindowSeconds * 1000) user.badPwdCount = 0;
    user.badPwdCount += 1;
    user.badPasswordTime = now;
    if (p.lockoutThreshold > 0 && user.badPwdCount >= p.lockoutThreshold) user.lockoutTime = now;
  }

  private clearLockout(user: UserRecord): void {
    user.lockoutTime = 0;
    user.badPwdCount = 0;
  }

  // ------------------------------------------------------------ lookup

  private domainOrThrow(domain: string): DomainRecord {
    const d = this.domains.get(domain.toLowerCase());
    if (d === undefined) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The agent has no connector for this domain." });
    return d;
  }

  private reachableDomain(domain: string): DomainRecord {
    const d = this.domainOrThrow(domain);
    if (!d.reachable) throw new AppError("ONPREM_DIRECTORY_UNAVAILABLE");
    return d;
  }

  private find(ref: AccountRef, o: { ignoreReachability?: boolean } = {}): { domain: DomainRecord; user: UserRecord } {
    const domain = o.ignoreReachability === true ? this.domainOrThrow(ref.domain) : this.reachableDomain(ref.domain);
    // Bound by objectGUID like a <GUID=...> DN: renames and moves do not break the reference.
    const user = domain.users.get(ref.objectGuid.toLowerCase());
    if (user === undefined) throw new AppError("USER_NOT_FOUND");
    return { domain, user };
  }

  private refOf(d: DomainRecord, u: UserRecord): AccountRef {
    return { domain: d.domain, distinguishedName: u.distinguishedName, objectGuid: u.objectGuid };
  }
}
