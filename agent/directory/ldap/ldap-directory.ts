import { readFile } from "node:fs/promises";
import { Attribute, Change, EqualityFilter } from "ldapts";
import type { PasswordPolicySummary } from "../../../shared/domain/password-policy.js";
import { AppError, isAppError } from "../../../shared/errors/app-error.js";
import type { PolicyReason } from "../../../shared/errors/catalog.js";
import { systemClock, type Clock } from "../../../shared/ports/clock.port.js";
import { silentLogger, type Logger } from "../../../shared/ports/logger.port.js";
import { isUuid } from "../../../shared/protocol/ids.js";
import { AgentConfigError, type LdapDomainConfig } from "../../config/agent-config.js";
import type { DirectorySource, DirectoryUserEntry } from "../../sync/directory-source.port.js";
import { guidToAdBytes } from "../../sync/source-anchor.js";
import type { AccountRef, AccountState, DirectoryHealth, DirectoryService, ResetOptions } from "../directory.port.js";
import { ACCOUNT_ATTRIBUTES, accountStateOf, allBytesOf, BINARY_ATTRIBUTES, LISTING_ATTRIBUTES, userEntryOf } from "./ad-account.js";
import { PolicyHintsControl } from "./ad-controls.js";
import { toDirectoryError } from "./ad-errors.js";
import { POLICY_ATTRIBUTES, policyFromDomainEntry } from "./ad-policy.js";
import { DomainConnection, sameHost, type LdapClientFactory } from "./domain-connection.js";
import { diagnosePolicyReason } from "./policy-diagnosis.js";
import { withUnicodePwds } from "./unicode-pwd.js";

export interface LdapDomain {
  /** DNS name, e.g. corp.example.com. */
  domain: string;
  urls: readonly string[];
  /** A DC (host name or one of the URLs) to try first for reads; writes go to the PDC emulator. */
  preferredDc?: string | undefined;
  bindDn: string;
  bindPassword: string;
  /** PEM of the CA(s) that issued the DCs' LDAPS certificates. */
  ca: Buffer | string;
  servername?: string | undefined;
  timeoutMs: number;
}

export interface LdapDirectoryOptions {
  logger?: Logger;
  clock?: Clock;
  /** Page size of listUsers' paged search (default 500; AD's MaxPageSize is 1000). */
  pageSize?: number;
  /** How long a read password policy is reused (default 60 s). */
  policyCacheMs?: number;
  /** How a client for one DC is made (default: ldapts over the zeroing TLS socket). For tests. */
  createClient?: LdapClientFactory;
}

const USERS_FILTER = "(&(objectCategory=person)(objectClass=user))";

/** The URLs in the order to try: the preferred DC first, then the configured order. */
export function orderedUrls(urls: readonly string[], preferredDc: string | undefined): string[] {
  if (preferredDc === undefined || preferredDc.trim() === "") return [...urls];
  const wanted = preferredDc.trim().toLowerCase();
  const matches = (u: string) => u.toLowerCase() === wanted || new URL(u).hostname.toLowerCase() === wanted;
  const preferred = urls.filter(matches);
  if (preferred.length === 0) return [/^ldaps:\/\//i.test(wanted) ? preferredDc.trim() : `ldaps://${preferredDc.trim()}`, ...urls];
  return [...preferred, ...urls.filter((u) => !matches(u))];
}

/** A write addresses the object by GUID (<GUID=...>), so renames and moves since the last sync do not matter. */
function guidDn(ref: AccountRef): string {
  return `<GUID=${ref.objectGuid.toLowerCase()}>`;
}

function replace(type: string, value: string | Buffer): Change {
  return new Change({ operation: "replace", modification: new Attribute({ type, values: typeof value === "string" ? [value] : [value] }) });
}

/**
 * Active Directory over LDAPS (ldapts) for one or more domains, with the agent's service
 * account. Same outcomes as the embedded directory, mapped from AD's answers (see ad-errors.ts):
 * - admin reset: one modify replacing unicodePwd (quoted UTF-16LE) with the policy-hints
 *   control, plus lockoutTime=0 (unlock) and pwdLastSet=0 (must change) in the same modify, so
 *   a refused password changes nothing;
 * - user change: one modify deleting the old unicodePwd and adding the new one, after reading
 *   the account (locked → ACCOUNT_LOCKED, disabled → ACCOUNT_DISABLED, like the embedded one);
 * - unlock: lockoutTime=0.
 * Every write goes to the domain's PDC emulator (fSMORoleOwner), never to another DC; reads use
 * the preferred / first reachable DC (domain-connection.ts).
 * Passwords are encoded into buffers that are zeroed after the request, and the LDAP messages
 * themselves are zeroed once TLS has sent them. Errors carry codes only: no DN, value or server text.
 */
export class LdapDirectory implements DirectoryService, DirectorySource {
  private readonly connections = new Map<string, DomainConnection>();
  private readonly policies = new Map<string, { at: number; policy: PasswordPolicySummary }>();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly pageSize: number;
  private readonly policyCacheMs: number;

  constructor(domains: readonly LdapDomain[], options: LdapDirectoryOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.pageSize = options.pageSize ?? 500;
    this.policyCacheMs = options.policyCacheMs ?? 60_000;
    for (const d of domains) {
      const key = d.domain.toLowerCase();
      if (this.connections.has(key)) throw new AgentConfigError(`directory.domains: ${d.domain} is configured twice`);
      // Passwords travel only over TLS from the first byte: no ldap://, no StartTLS.
      if (d.urls.length === 0 || d.urls.some((u) => !/^ldaps:\/\//i.test(u))) throw new AgentConfigError(`directory.domains.${d.domain}.urls: must be ldaps:// URLs`);
      this.connections.set(
        key,
        new DomainConnection({
          domain: key,
          urls: orderedUrls(d.urls, d.preferredDc),
          bindDn: d.bindDn,
          bindPassword: d.bindPassword,
          ca: d.ca,
          servername: d.servername,
          timeoutMs: d.timeoutMs,
          logger: this.logger,
          createClient: options.createClient,
        }),
      );
    }
  }

  /** From the agent's configuration: reads each domain's CA file (an unreadable one names the setting). */
  static async fromConfig(domains: readonly LdapDomainConfig[], options: LdapDirectoryOptions = {}): Promise<LdapDirectory> {
    const resolved: LdapDomain[] = [];
    for (const d of domains) {
      if (d.bindPassword === undefined) throw new AgentConfigError(`directory.domains.${d.domain}.bindPassword: not set`);
      let ca: Buffer;
      try {
        ca = await readFile(d.caFile);
      } catch {
        throw new AgentConfigError(`directory.domains.${d.domain}.caFile: cannot read ${d.caFile}`);
      }
      if (!ca.toString("latin1").includes("-----BEGIN CERTIFICATE-----")) throw new AgentConfigError(`directory.domains.${d.domain}.caFile: ${d.caFile} holds no PEM certificate`);
      resolved.push({ ...d, bindPassword: d.bindPassword, ca });
    }
    return new LdapDirectory(resolved, options);
  }

  // ------------------------------------------------------------ DirectoryService

  async readAccount(ref: AccountRef): Promise<AccountState | undefined> {
    const c = this.connection(ref.domain);
    if (!isUuid(ref.objectGuid)) return undefined;
    const guid = guidToAdBytes(ref.objectGuid);
    return c.run(
      "read",
      async (s) => {
        const { searchEntries } = await s.client.search(s.namingContext, {
          scope: "sub",
          filter: new EqualityFilter({ attribute: "objectGUID", value: guid }),
          attributes: [...ACCOUNT_ATTRIBUTES],
          explicitBufferAttributes: BINARY_ATTRIBUTES,
          sizeLimit: 2,
        });
        return searchEntries[0];
      },
      { idempotent: true },
    ).then(async (entry) => (entry === undefined ? undefined : accountStateOf(entry, c.domain, await this.tokenGroups(c, entry.dn))));
  }

  /**
   * The account's groups as the DC computes them now (tokenGroups: direct, nested and primary),
   * on the DC that serves reads. tokenGroups is constructed, so base scope only. Every account has
   * at least its primary group; none means the service account may not read it, and a protected
   * group's member must never pass for an ordinary user, so that is refused.
   */
  private async tokenGroups(c: DomainConnection, dn: string): Promise<Buffer[]> {
    const groups = await c.run(
      "read",
      async (s) => {
        const entry = (await s.client.search(dn, { scope: "base", filter: "(objectClass=*)", attributes: ["tokenGroups"], explicitBufferAttributes: ["tokenGroups"] })).searchEntries[0];
        return entry === undefined ? [] : allBytesOf(entry, "tokenGroups");
      },
      { idempotent: true },
    );
    if (groups.length === 0) throw new AppError("ONPREM_PERMISSION_DENIED", { message: "The service account cannot read the account's group memberships (tokenGroups)." });
    return groups;
  }

  async resetPassword(ref: AccountRef, newPassword: Buffer, options: ResetOptions): Promise<void> {
    const c = this.connection(ref.domain);
    this.checkRef(ref);
    try {
      await withUnicodePwds([newPassword], async ([pwd]) => {
        // pwdLastSet after unicodePwd: setting the password stamps pwdLastSet, the 0 must come last.
        const changes = [replace("unicodePwd", pwd!)];
        if (options.unlockAccount) changes.push(replace("lockoutTime", "0"));
        if (options.forceChangeAtNextLogon) changes.push(replace("pwdLastSet", "0"));
        await c.runWrite("reset", (s) => s.client.modify(guidDn(ref), changes, new PolicyHintsControl()), { idempotent: false });
      });
    } catch (e) {
      throw await this.explain(e, "reset", ref.domain, newPassword, undefined);
    }
  }

  async changePassword(ref: AccountRef, currentPassword: Buffer, newPassword: Buffer): Promise<void> {
    const c = this.connection(ref.domain);
    this.checkRef(ref);
    const account = await this.readAccount(ref);
    if (account === undefined) throw new AppError("USER_NOT_FOUND");
    if (account.lockedOut) throw new AppError("ACCOUNT_LOCKED");
    if (account.disabled) throw new AppError("ACCOUNT_DISABLED");
    try {
      await withUnicodePwds([currentPassword, newPassword], async ([oldPwd, newPwd]) => {
        const changes = [
          new Change({ operation: "delete", modification: new Attribute({ type: "unicodePwd", values: [oldPwd!] }) }),
          new Change({ operation: "add", modification: new Attribute({ type: "unicodePwd", values: [newPwd!] }) }),
        ];
        await c.runWrite("change", (s) => s.client.modify(guidDn(ref), changes), { idempotent: false });
      });
    } catch (e) {
      throw await this.explain(e, "change", ref.domain, newPassword, account.sAMAccountName);
    }
  }

  async unlockAccount(ref: AccountRef): Promise<void> {
    const c = this.connection(ref.domain);
    this.checkRef(ref);
    await c.runWrite("unlock", (s) => s.client.modify(guidDn(ref), [replace("lockoutTime", "0")]), { idempotent: true });
  }

  async passwordPolicy(domain: string): Promise<PasswordPolicySummary> {
    const c = this.connection(domain);
    const cached = this.policies.get(c.domain);
    const now = this.clock.now().getTime();
    if (cached !== undefined && now - cached.at < this.policyCacheMs) return { ...cached.policy };
    const policy = await c.run(
      "read",
      async (s) => {
        const { searchEntries } = await s.client.search(s.namingContext, { scope: "base", filter: "(objectClass=*)", attributes: [...POLICY_ATTRIBUTES] });
        const entry = searchEntries[0];
        if (entry === undefined) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The domain object is not readable." });
        return policyFromDomainEntry(entry);
      },
      { idempotent: true },
    );
    this.policies.set(c.domain, { at: now, policy });
    return { ...policy };
  }

  /**
   * Per domain: bind (when needed) and read the rootDSE on the DC in use, look up the PDC
   * emulator and reach it (writes go there only). Unreachable: no DC answers; degraded: reads
   * work but the PDC emulator is unknown or unreachable, so writes are refused.
   */
  async health(): Promise<DirectoryHealth[]> {
    return Promise.all(
      [...this.connections.values()].map(async (c): Promise<DirectoryHealth> => {
        let dcHost: string;
        try {
          dcHost = await c.run("read", async (s) => {
            await s.client.search("", { scope: "base", filter: "(objectClass=*)", attributes: ["currentTime"] });
            return s.dcHost;
          }, { idempotent: true });
        } catch (e) {
          const error = toDirectoryError(e, "read");
          return { domain: c.domain, status: error.code === "ONPREM_DIRECTORY_UNAVAILABLE" ? "unreachable" : "degraded", detail: `${error.code}: ${error.message}` };
        }
        let pdc: string;
        try {
          pdc = await c.pdcEmulator();
        } catch (e) {
          const error = toDirectoryError(e, "read");
          return { domain: c.domain, status: "degraded", detail: `connected to ${dcHost} (PDC emulator unknown, writes are refused): ${error.code}: ${error.message}` };
        }
        try {
          const s = await c.pdcEmulatorSession();
          const detail = sameHost(s.dcHost, dcHost) ? `connected to ${dcHost} (the PDC emulator)` : `connected to ${dcHost}; PDC emulator ${s.dcHost} reachable at ${s.url} (writes go there)`;
          return { domain: c.domain, status: "healthy", detail, pdcEmulator: { host: s.dcHost, reachable: true } };
        } catch (e) {
          const error = toDirectoryError(e, "read");
          return {
            domain: c.domain,
            status: "degraded",
            detail: `connected to ${dcHost}; PDC emulator ${pdc} unreachable, writes are refused: ${error.code}`,
            pdcEmulator: { host: pdc, reachable: false },
          };
        }
      }),
    );
  }

  /** The domain's PDC emulator (dNSHostName from fSMORoleOwner), where every write goes. */
  async pdcEmulator(domain: string): Promise<string> {
    return this.connection(domain).pdcEmulator();
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.close()));
  }

  // ------------------------------------------------------------ DirectorySource

  async *listUsers(domain: string): AsyncIterable<DirectoryUserEntry> {
    const c = this.connection(domain);
    const s = await c.bound();
    try {
      const pages = s.client.searchPaginated(s.namingContext, {
        scope: "sub",
        filter: USERS_FILTER,
        attributes: [...LISTING_ATTRIBUTES],
        explicitBufferAttributes: BINARY_ATTRIBUTES,
        paged: { pageSize: this.pageSize },
      });
      for await (const page of pages) {
        for (const entry of page.searchEntries) yield userEntryOf(entry);
      }
    } catch (e) {
      if (!isAppError(e)) c.drop(s);
      throw toDirectoryError(e, "read");
    }
  }

  // ------------------------------------------------------------ helpers

  private connection(domain: string): DomainConnection {
    const c = this.connections.get(domain.toLowerCase());
    if (c === undefined) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The agent has no connector for this domain." });
    return c;
  }

  private checkRef(ref: AccountRef): void {
    if (!isUuid(ref.objectGuid)) throw new AppError("USER_NOT_FOUND", { message: "The account reference has no valid objectGUID." });
  }

  /**
   * A refused password with no reason from the server (Windows says only "0000052D"): the
   * reason the domain policy explains (length, complexity), else "unknown".
   */
  private async explain(error: unknown, operation: "reset" | "change", domain: string, newPassword: Buffer, sAMAccountName: string | undefined): Promise<AppError> {
    const mapped = toDirectoryError(error, operation);
    if (mapped.code !== "PASSWORD_POLICY_VIOLATION" || mapped.reason !== "unknown") return mapped;
    let reason: PolicyReason = "unknown";
    try {
      reason = diagnosePolicyReason(await this.passwordPolicy(domain), newPassword, sAMAccountName);
    } catch {
      // The policy is not readable: the reason stays unknown.
    }
    return new AppError("PASSWORD_POLICY_VIOLATION", { reason, message: mapped.message });
  }
}
