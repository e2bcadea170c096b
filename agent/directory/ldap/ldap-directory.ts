import { readFile } from "node:fs/promises";
import { AndFilter, Attribute, Change, Control, EqualityFilter, OrFilter, type Entry } from "ldapts";
import type { PasswordPolicySummary } from "../../../shared/domain/password-policy.js";
import { AppError, isAppError } from "../../../shared/errors/app-error.js";
import type { PolicyReason } from "../../../shared/errors/catalog.js";
import { systemClock, type Clock } from "../../../shared/ports/clock.port.js";
import { silentLogger, type Logger } from "../../../shared/ports/logger.port.js";
import { isUuid } from "../../../shared/protocol/ids.js";
import type { UserPasswordPolicy } from "../../../shared/protocol/envelope.js";
import { AgentConfigError, type LdapDomainConfig } from "../../config/agent-config.js";
import type { DirectoryChanges, DirectorySource, DirectoryUserEntry, SourceAnchorLocator, SourceAnchorMatch } from "../../sync/directory-source.port.js";
import { adBytesToGuid, guidToAdBytes, sourceAnchorOf } from "../../sync/source-anchor.js";
import type { AccountRef, AccountState, DirectoryHealth, DirectoryService, ResetOptions } from "../directory.port.js";
import { ACCOUNT_ATTRIBUTES, accountStateOf, allBytesOf, BINARY_ATTRIBUTES, guidOf, LISTING_ATTRIBUTES, textOf, userEntryOf } from "./ad-account.js";
import { PolicyHintsControl, SdFlagsControl } from "./ad-controls.js";
import { CHANGE_PASSWORD, holdsRight, parseDacl, RESET_PASSWORD, RIGHT, sidToString, type RightWanted } from "./effective-rights.js";
import { toDirectoryError } from "./ad-errors.js";
import { POLICY_ATTRIBUTES, policyFromDomainEntry, policyFromPsoEntry, PSO_ATTRIBUTES } from "./ad-policy.js";
import { DomainConnection, sameHost, type BoundSession, type LdapClientFactory } from "./domain-connection.js";
import { diagnosePolicyReason } from "./policy-diagnosis.js";
import { withUnicodePwds } from "./unicode-pwd.js";

export interface LdapDomain {
  /** DNS name, e.g. corp.example.com. */
  domain: string;
  /** The forest root's DNS name (the AD connector's name); defaults to the domain. */
  forest?: string | undefined;
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
/** LDAP_SERVER_SHOW_DELETED_OID: tombstones (deleted objects) are returned too. */
const SHOW_DELETED_OID = "1.2.840.113556.1.4.417";
/** GUID_DELETED_OBJECTS_CONTAINER_W: the domain's CN=Deleted Objects, whatever its name. */
const DELETED_OBJECTS_WKGUID = "18e2ea80684f11d2b9aa00c04f79f805";

interface UsnWatermark {
  /** The DC's dsServiceName (its NTDS Settings DN): uSNChanged values mean nothing on another DC. */
  dc: string;
  usn: number;
}

function parseWatermark(text: string | undefined): UsnWatermark | undefined {
  if (text === undefined) return undefined;
  try {
    const w = JSON.parse(text) as Partial<UsnWatermark>;
    return typeof w.dc === "string" && typeof w.usn === "number" && Number.isSafeInteger(w.usn) ? { dc: w.dc, usn: w.usn } : undefined;
  } catch {
    return undefined;
  }
}

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
export class LdapDirectory implements DirectoryService, DirectorySource, SourceAnchorLocator {
  private readonly connections = new Map<string, DomainConnection>();
  private readonly forests = new Map<string, string>();
  private readonly tombstonesUnreadable = new Set<string>();
  private readonly psoPolicies = new Map<string, { at: number; policy: UserPasswordPolicy }>();
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
      this.forests.set(key, (d.forest ?? d.domain).toLowerCase());
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
   * The policy AD applies to this user: msDS-ResultantPSO (constructed: the PSO of lowest
   * precedence among those applying to the user or, through msDS-PSOAppliesTo, its groups) and
   * that PSO's settings, cached like the domain policy; no PSO → the domain's. The service
   * account needs Read on the Password Settings Container (AD lets only administrators read PSOs
   * by default): without it this answers ONPREM_PERMISSION_DENIED, never the domain's rules in
   * place of the stricter ones.
   */
  async effectivePolicy(ref: AccountRef): Promise<UserPasswordPolicy> {
    const c = this.connection(ref.domain);
    this.checkRef(ref);
    const psoDn = await c.run(
      "read",
      async (s) => {
        const entry = (await s.client.search(guidDn(ref), { scope: "base", filter: "(objectClass=*)", attributes: ["msDS-ResultantPSO"] })).searchEntries[0];
        if (entry === undefined) throw new AppError("USER_NOT_FOUND");
        return textOf(entry, "msDS-ResultantPSO");
      },
      { idempotent: true },
    );
    if (psoDn === undefined || psoDn.trim() === "") return { ...(await this.passwordPolicy(ref.domain)), source: "domain" };
    const now = this.clock.now().getTime();
    const key = `pso:${psoDn.toLowerCase()}`;
    const cached = this.psoPolicies.get(key);
    if (cached !== undefined && now - cached.at < this.policyCacheMs) return { ...cached.policy };
    const policy = await c.run(
      "read",
      async (s) => {
        const entry = (await s.client.search(psoDn, { scope: "base", filter: "(objectClass=*)", attributes: [...PSO_ATTRIBUTES] })).searchEntries[0];
        const settings = entry === undefined ? undefined : policyFromPsoEntry(entry);
        if (entry === undefined || settings === undefined) {
          throw new AppError("ONPREM_PERMISSION_DENIED", { message: "A fine-grained password policy applies to the user, but the service account cannot read it (grant Read on the Password Settings Container)." });
        }
        const name = textOf(entry, "name");
        return { ...settings, source: "passwordSettingsObject" as const, ...(name === undefined ? {} : { passwordSettingsObject: name }) };
      },
      { idempotent: true },
    );
    this.psoPolicies.set(key, { at: now, policy });
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

  domainNames(): string[] {
    return [...this.connections.keys()];
  }

  forestOf(domain: string): string {
    return this.forests.get(domain.toLowerCase()) ?? domain.toLowerCase();
  }

  /**
   * Users changed since the watermark on one DC: (uSNChanged>=usn+1) on the same DC the
   * watermark came from, and deletions from its tombstones (show-deleted control). A first read,
   * a read on another DC (failover: USNs are per DC), or tombstones the account may not read
   * (default AD: only administrators list CN=Deleted Objects) make it a full read instead, so
   * deletions are still seen — by their absence.
   */
  async changesSince(domain: string, watermark: string | undefined): Promise<DirectoryChanges> {
    const c = this.connection(domain);
    const s = await c.bound();
    const fail = (e: unknown): never => {
      if (!isAppError(e)) c.drop(s);
      throw toDirectoryError(e, "read");
    };
    let dc: string;
    let highest: number;
    try {
      const root = (await s.client.search("", { scope: "base", filter: "(objectClass=*)", attributes: ["highestCommittedUSN", "dsServiceName"] })).searchEntries[0];
      dc = (root === undefined ? undefined : textOf(root, "dsServiceName")) ?? s.dcHost;
      highest = Number(root === undefined ? NaN : textOf(root, "highestCommittedUSN"));
      if (!Number.isSafeInteger(highest)) throw new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: "The DC did not report highestCommittedUSN." });
    } catch (e) {
      return fail(e);
    }
    const mark = JSON.stringify({ dc, usn: highest } satisfies UsnWatermark);
    const previous = parseWatermark(watermark);
    let since = previous !== undefined && previous.dc === dc && previous.usn <= highest ? previous.usn : undefined;
    let deleted: string[] = [];
    if (since !== undefined) {
      try {
        deleted = await this.tombstones(s, since);
      } catch (e) {
        if (isAppError(e)) throw e;
        // Once per domain: it stays so until someone grants the right.
        if (!this.tombstonesUnreadable.has(c.domain)) this.logger.warn("deleted users are not readable (grant List Contents and Read Property on the Deleted Objects container for incremental reads): full reads instead", { domain: c.domain });
        this.tombstonesUnreadable.add(c.domain);
        since = undefined;
      }
    }
    const filter = since === undefined ? USERS_FILTER : `(&${USERS_FILTER}(uSNChanged>=${since + 1}))`;
    const pageSize = this.pageSize;
    const changed = (async function* (): AsyncIterable<DirectoryUserEntry> {
      try {
        const pages = s.client.searchPaginated(s.namingContext, { scope: "sub", filter, attributes: [...LISTING_ATTRIBUTES], explicitBufferAttributes: BINARY_ATTRIBUTES, paged: { pageSize } });
        for await (const page of pages) for (const entry of page.searchEntries) yield userEntryOf(entry);
      } catch (e) {
        fail(e);
      }
    })();
    return { watermark: mark, full: since === undefined, changed, deleted: async () => deleted };
  }

  /**
   * objectGUIDs of users deleted since `since`, from CN=Deleted Objects (found by its well-known
   * GUID). AD shows a service account without rights there the container but not its content —
   * an empty answer that would look like "nothing deleted" — so the container's own objectGUID
   * must be readable first; else this throws and the caller reads everything instead.
   */
  private async tombstones(s: BoundSession, since: number): Promise<string[]> {
    const showDeleted = [new Control(SHOW_DELETED_OID, { critical: true })];
    const container = (await s.client.search(`<WKGUID=${DELETED_OBJECTS_WKGUID},${s.namingContext}>`, { scope: "base", filter: "(objectClass=*)", attributes: ["objectGUID"], explicitBufferAttributes: ["objectGUID"] }, showDeleted)).searchEntries[0];
    const readable = container !== undefined && Buffer.isBuffer(container.objectGUID) && container.objectGUID.length === 16;
    if (!readable) throw new Error("CN=Deleted Objects is not readable");
    const out: string[] = [];
    const pages = s.client.searchPaginated(
      container.dn,
      { scope: "one", filter: `(&(isDeleted=TRUE)(objectClass=user)(uSNChanged>=${since + 1}))`, attributes: ["objectGUID"], explicitBufferAttributes: ["objectGUID"], paged: { pageSize: this.pageSize } },
      showDeleted,
    );
    for await (const page of pages) for (const entry of page.searchEntries) out.push(guidOf(entry));
    return out;
  }

  /**
   * Accounts with this source anchor in every domain at once (one indexed search each):
   * ms-DS-ConsistencyGuid = anchor, or objectGUID = anchor for objects without a
   * ms-DS-ConsistencyGuid of their own (Entra Connect's rule, applied to each entry found).
   */
  async findBySourceAnchor(sourceAnchor: Uint8Array): Promise<{ domain: string; matches?: SourceAnchorMatch[]; error?: unknown }[]> {
    const value = Buffer.from(sourceAnchor);
    const wanted = value.toString("base64");
    const filter = new AndFilter({
      filters: [
        new EqualityFilter({ attribute: "objectCategory", value: "person" }),
        new EqualityFilter({ attribute: "objectClass", value: "user" }),
        new OrFilter({ filters: [new EqualityFilter({ attribute: "mS-DS-ConsistencyGuid", value }), new EqualityFilter({ attribute: "objectGUID", value })] }),
      ],
    });
    return Promise.all(
      [...this.connections.values()].map(async (c) => {
        try {
          const entries: Entry[] = await c.run(
            "read",
            async (s) => (await s.client.search(s.namingContext, { scope: "sub", filter, attributes: [...LISTING_ATTRIBUTES], explicitBufferAttributes: BINARY_ATTRIBUTES, sizeLimit: 10 })).searchEntries,
            { idempotent: true },
          );
          const matches = entries
            .map((e) => ({ entry: userEntryOf(e), dn: e.dn }))
            .filter(({ entry }) => sourceAnchorOf(entry) === wanted)
            .map(({ entry, dn }) => ({ domain: c.domain, forest: this.forestOf(c.domain), objectGuid: entry.objectGuid, distinguishedName: dn, disabled: entry.disabled === true }));
          return { domain: c.domain, matches };
        } catch (error) {
          return { domain: c.domain, error };
        }
      }),
    );
  }

  // ------------------------------------------------------------ agent check

  /** Each configured DC of the domain on its own: TLS, bind, rootDSE. */
  async probeDomainControllers(domain: string): Promise<{ url: string; ok: boolean; detail: string }[]> {
    return this.connection(domain).probeEach();
  }

  /**
   * The service account's effective rights for the agent's four writes, on `sampleDn` (a user:
   * the rights on it; an OU or container: the rights a user in it inherits), or on the first
   * non-protected user the account can see. Evaluated from the DACL (read with the SD flags
   * control, DACL only) against the account's token (objectSid + tokenGroups + Everyone +
   * Authenticated Users); on a user, writes to lockoutTime / pwdLastSet are also what the DC
   * itself computes (allowedAttributesEffective).
   */
  async checkRights(domain: string, sampleDn?: string): Promise<{ sample: string; sampleKind: "user" | "container"; rights: { right: string; ok: boolean; fix: string }[] }> {
    const c = this.connection(domain);
    return c.run(
      "read",
      async (s) => {
        const accountFilter = c.bindDn.includes("=") ? undefined : new EqualityFilter({ attribute: "userPrincipalName", value: c.bindDn });
        const account = (
          await s.client.search(accountFilter === undefined ? c.bindDn : s.namingContext, {
            scope: accountFilter === undefined ? "base" : "sub",
            ...(accountFilter === undefined ? { filter: "(objectClass=*)" } : { filter: accountFilter }),
            attributes: ["objectSid", "tokenGroups"],
            explicitBufferAttributes: ["objectSid", "tokenGroups"],
          })
        ).searchEntries[0];
        if (account === undefined) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The service account's own object is not readable." });
        const token = new Set(["S-1-1-0", "S-1-5-11"]);
        for (const name of ["objectSid", "tokenGroups"]) for (const v of [account[name] ?? []].flat()) if (Buffer.isBuffer(v)) token.add(sidToString(v));

        let target: Entry | undefined;
        const sdAttributes = ["objectClass", "nTSecurityDescriptor", "allowedAttributesEffective"];
        const sd = [new SdFlagsControl()];
        if (sampleDn !== undefined) {
          target = (await s.client.search(sampleDn, { scope: "base", filter: "(objectClass=*)", attributes: sdAttributes, explicitBufferAttributes: ["nTSecurityDescriptor"] }, sd)).searchEntries[0];
        } else {
          const candidates = (
            await s.client.search(s.namingContext, { scope: "sub", filter: "(&(objectCategory=person)(objectClass=user)(!(adminCount=1))(!(isCriticalSystemObject=TRUE)))", attributes: ["objectSid"], explicitBufferAttributes: ["objectSid"], sizeLimit: 50 }).catch(
              (e: unknown) => ({ searchEntries: (e as { searchEntries?: Entry[] }).searchEntries ?? [] }),
            )
          ).searchEntries;
          const other = candidates.find((e) => !(Buffer.isBuffer(e.objectSid) && token.has(sidToString(e.objectSid))));
          if (other !== undefined) target = (await s.client.search(other.dn, { scope: "base", filter: "(objectClass=*)", attributes: sdAttributes, explicitBufferAttributes: ["nTSecurityDescriptor"] }, sd)).searchEntries[0];
        }
        if (target === undefined) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "No sample user or OU to check the rights on (set sampleDn)." });
        const classes = [target.objectClass ?? []].flat().map((v) => String(v).toLowerCase());
        const isUser = classes.includes("user") && !classes.includes("computer");
        const descriptor = target.nTSecurityDescriptor;
        if (!Buffer.isBuffer(descriptor) || descriptor.length === 0) throw new AppError("ONPREM_PERMISSION_DENIED", { message: "The sample's security descriptor is not readable by the service account." });
        const aces = parseDacl(descriptor);

        const attributeGuids = await this.attributeSecurityGuids(s, ["lockoutTime", "pwdLastSet"]);
        const writable = new Set([target.allowedAttributesEffective ?? []].flat().map((v) => String(v).toLowerCase()));
        const on = isUser ? "object" : "childUser";
        const check = (wanted: RightWanted) => holdsRight(aces, token, wanted, on);
        const writeCheck = (attribute: string) => (isUser && writable.size > 0 ? writable.has(attribute.toLowerCase()) : check({ access: RIGHT.writeProperty, objectTypes: attributeGuids.get(attribute) ?? [] }));
        const scope = isUser ? "on the user (or the OU it is in, inherited by descendant User objects)" : "on this OU, inherited by descendant User objects";
        return {
          sample: target.dn,
          sampleKind: isUser ? "user" : "container",
          rights: [
            { right: "Reset Password", ok: check({ access: RIGHT.controlAccess, objectTypes: [RESET_PASSWORD] }), fix: `grant the service account the extended right "Reset password" ${scope}` },
            { right: "Change Password", ok: check({ access: RIGHT.controlAccess, objectTypes: [CHANGE_PASSWORD] }), fix: `grant the service account the extended right "Change password" ${scope}` },
            { right: "write lockoutTime", ok: writeCheck("lockoutTime"), fix: `grant the service account "Write lockoutTime" ${scope} (unlock)` },
            { right: "write pwdLastSet", ok: writeCheck("pwdLastSet"), fix: `grant the service account "Write pwdLastSet" ${scope} (must change at next logon)` },
          ],
        };
      },
      { idempotent: true },
    );
  }

  /** Per attribute: its schemaIDGUID and its property set's (attributeSecurityGUID), from the schema; AD's well-known values when unreadable. */
  private async attributeSecurityGuids(s: BoundSession, names: readonly string[]): Promise<Map<string, string[]>> {
    const known = new Map<string, string[]>([
      ["lockoutTime", ["28630ebf-41d5-11d1-a9c1-0000f80367c1", "4c164200-20c0-11d0-a768-00aa006e0529"]],
      ["pwdLastSet", ["bf967a0a-0de6-11d0-a285-00aa003049e2", "4c164200-20c0-11d0-a768-00aa006e0529"]],
    ]);
    try {
      const root = (await s.client.search("", { scope: "base", filter: "(objectClass=*)", attributes: ["schemaNamingContext"] })).searchEntries[0];
      const schema = root === undefined ? undefined : textOf(root, "schemaNamingContext");
      if (schema === undefined) return known;
      const filter = new OrFilter({ filters: names.map((n) => new EqualityFilter({ attribute: "lDAPDisplayName", value: n })) });
      const entries = (await s.client.search(schema, { scope: "one", filter, attributes: ["lDAPDisplayName", "schemaIDGUID", "attributeSecurityGUID"], explicitBufferAttributes: ["schemaIDGUID", "attributeSecurityGUID"] })).searchEntries;
      for (const e of entries) {
        const name = names.find((n) => n.toLowerCase() === (textOf(e, "lDAPDisplayName") ?? "").toLowerCase());
        if (name === undefined) continue;
        const guids = [e.schemaIDGUID, e.attributeSecurityGUID].flat().filter((v): v is Buffer => Buffer.isBuffer(v) && v.length === 16).map((v) => adBytesToGuid(v));
        if (guids.length > 0) known.set(name, guids);
      }
    } catch {
      // The schema is not readable: the well-known GUIDs stand.
    }
    return known;
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
