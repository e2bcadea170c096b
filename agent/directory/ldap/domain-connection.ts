import type { ConnectionOptions } from "node:tls";
import { connect as tlsConnect } from "node:tls";
import { Client } from "ldapts";
import { AppError } from "../../../shared/errors/app-error.js";
import type { Logger } from "../../../shared/ports/logger.port.js";
import { adResultOf, connectionFailureOf, toDirectoryError, type Operation } from "./ad-errors.js";
import { textOf } from "./ad-account.js";
import { zeroingTlsConnect } from "./tls-zeroing.js";

/** What the adapter uses of an ldapts Client. */
export type LdapClient = Pick<Client, "bind" | "search" | "searchPaginated" | "modify" | "unbind" | "isBound">;

/** Creates the client for one DC. `tlsOptions` always verify the certificate against `ca`. */
export type LdapClientFactory = (o: { url: string; tlsOptions: ConnectionOptions; timeoutMs: number }) => LdapClient;

/** ldapts over a TLS socket that zeroes each outgoing LDAP message (tls-zeroing.ts). */
export const ldaptsClientFactory: LdapClientFactory = ({ url, tlsOptions, timeoutMs }) =>
  new Client({
    url,
    timeout: timeoutMs,
    connectTimeout: timeoutMs,
    tlsOptions,
    createSecureConnection: zeroingTlsConnect as unknown as typeof tlsConnect,
  });

export interface DomainConnectionOptions {
  /** DNS name of the domain (for logs and errors). */
  domain: string;
  /** ldaps:// URLs in the order to try (preferred DC first). */
  urls: readonly string[];
  bindDn: string;
  bindPassword: string;
  /** PEM of the CA(s) that issued the DCs' certificates. */
  ca: Buffer | string;
  /** Name to verify in the DCs' certificates when the URLs name them by IP address or alias. */
  servername?: string | undefined;
  /** Per connection attempt and per LDAP operation. */
  timeoutMs: number;
  logger: Logger;
  /** Default: ldapts with the zeroing TLS socket. Tests pass a fake. */
  createClient?: LdapClientFactory | undefined;
}

/** A bound LDAPS session with one DC. */
export interface BoundSession {
  client: LdapClient;
  url: string;
  /** The domain's naming context (rootDSE defaultNamingContext). */
  namingContext: string;
  /** The DC's dnsHostName from its rootDSE (the URL's host when the rootDSE has none). */
  dcHost: string;
}

/** A URL to reach a DC at, and the name its certificate is verified against. */
export interface DcTarget {
  url: string;
  /** undefined: the URL's host. */
  servername: string | undefined;
}

export const sameHost = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const hostOf = (url: string): string => new URL(url).hostname;

/**
 * Where the PDC emulator (by its dNSHostName) is reached for writes:
 * 1. the configured URLs whose host is that name (case-insensitive);
 * 2. else, when `servername` is that name (DCs reached by IP address or alias, certificates
 *    verified against the PDC's name): the configured URLs, except those whose rootDSE said they
 *    are another DC (`knownHosts`: URL → dnsHostName), the ones known to be the PDC first;
 * 3. else `ldaps://<name>`, its certificate verified against that name (same CA, verification on).
 * Whichever it is, the DC's rootDSE must name the PDC before a write is sent (DomainConnection).
 */
export function pdcTargets(pdcHost: string, urls: readonly string[], servername: string | undefined, knownHosts: ReadonlyMap<string, string> = new Map()): DcTarget[] {
  const byName = urls.filter((u) => sameHost(hostOf(u), pdcHost));
  if (byName.length > 0) return byName.map((url) => ({ url, servername }));
  if (servername !== undefined && sameHost(servername, pdcHost)) {
    const isPdc = (u: string) => {
      const known = knownHosts.get(u);
      return known === undefined ? undefined : sameHost(known, pdcHost);
    };
    const candidates = urls.filter((u) => isPdc(u) !== false);
    return [...candidates.filter((u) => isPdc(u) === true), ...candidates.filter((u) => isPdc(u) === undefined)].map((url) => ({ url, servername }));
  }
  return [{ url: `ldaps://${pdcHost}`, servername: pdcHost }];
}

/** The parent of a DN: everything after its first unescaped comma. */
function parentDn(dn: string): string | undefined {
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === "\\") i++;
    else if (dn[i] === ",") return dn.slice(i + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * The PDC emulator's dNSHostName: fSMORoleOwner of the domain object names the PDC's
 * "CN=NTDS Settings,CN=<server>,CN=Servers,..." object, whose parent server object has it.
 */
async function discoverPdc(s: BoundSession): Promise<string> {
  const unknown = (why: string) => new AppError("ONPREM_CONFIGURATION_ERROR", { message: `The domain's PDC emulator cannot be determined (${why}).` });
  try {
    const domain = (await s.client.search(s.namingContext, { scope: "base", filter: "(objectClass=*)", attributes: ["fSMORoleOwner"] })).searchEntries[0];
    const owner = domain === undefined ? undefined : textOf(domain, "fSMORoleOwner");
    if (owner === undefined) throw unknown("fSMORoleOwner not readable");
    const server = parentDn(owner);
    if (server === undefined) throw unknown("fSMORoleOwner is no NTDS Settings object");
    const entry = (await s.client.search(server, { scope: "base", filter: "(objectClass=*)", attributes: ["dNSHostName"] })).searchEntries[0];
    const host = entry === undefined ? undefined : textOf(entry, "dNSHostName");
    if (host === undefined || host.trim() === "") throw unknown("its server object has no dNSHostName");
    return host.trim();
  } catch (e) {
    // A broken session goes to run()'s retry; an LDAP answer (e.g. noSuchObject) is not the user's.
    const result = adResultOf(e);
    if (result !== undefined) throw unknown(`LDAP ${result.resultCode}`);
    throw e;
  }
}

/**
 * One domain's LDAPS sessions for the agent's service account.
 *
 * Reads: connects lazily, tries the URLs in order (failover) until a DC completes the TLS
 * handshake, the bind and a rootDSE read, and reconnects when the session broke. Operations
 * share the one session (LDAP multiplexes them by message id). A read that fails on a broken
 * session is retried once on a fresh one.
 *
 * Writes: go to the PDC emulator only (fSMORoleOwner, discovered once per session and again
 * after a reconnect or when the PDC cannot be reached: the role may have moved). That is the
 * read session when its DC is the PDC, else a second session to the PDC (pdcTargets). When the
 * PDC cannot be reached the write fails with ONPREM_DIRECTORY_UNAVAILABLE: it is never sent to
 * another DC. A write that fails on a broken session is not retried unless idempotent (it may
 * have been applied).
 */
export class DomainConnection {
  private session: BoundSession | undefined;
  private connecting: Promise<BoundSession> | undefined;
  /** The session with the PDC emulator when the read session's DC is another one. */
  private pdcSession: BoundSession | undefined;
  private pdcConnecting: { host: string; promise: Promise<BoundSession> } | undefined;
  /** The PDC emulator's dNSHostName, as discovered. */
  private pdc: string | undefined;
  private discovering: Promise<string> | undefined;
  /** What each URL's rootDSE said its DC is (dnsHostName). */
  private readonly hosts = new Map<string, string>();
  private readonly createClient: LdapClientFactory;
  private closed = false;

  constructor(private readonly o: DomainConnectionOptions) {
    this.createClient = o.createClient ?? ldaptsClientFactory;
  }

  get domain(): string {
    return this.o.domain;
  }

  /** The service account the sessions bind as. */
  get bindDn(): string {
    return this.o.bindDn;
  }

  /**
   * `agent check`: TLS + bind + rootDSE with every configured DC on its own session (closed
   * again), so a DC that would only be found broken at failover time is reported now.
   */
  async probeEach(): Promise<{ url: string; ok: boolean; detail: string }[]> {
    return Promise.all(
      this.o.urls.map(async (url) => {
        try {
          const s = await this.open({ url, servername: this.o.servername });
          await s.client.unbind().catch(() => {});
          return { url, ok: true, detail: `${s.dcHost}: TLS verified, bound, rootDSE read` };
        } catch (e) {
          const failure = connectionFailureOf(e);
          return { url, ok: false, detail: failure ?? `${toDirectoryError(e, "bind").code}: ${toDirectoryError(e, "bind").message}` };
        }
      }),
    );
  }

  /** A live bound session (for reads), connecting (with failover) when there is none. Throws AppError. */
  async bound(): Promise<BoundSession> {
    this.checkOpen();
    const s = this.session;
    if (s !== undefined && s.client.isBound) return s;
    if (s !== undefined) this.drop(s);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Runs one LDAP read on the read session; failures become AppErrors for `operation`. */
  run<T>(operation: Operation, work: (session: BoundSession) => Promise<T>, o: { idempotent: boolean }): Promise<T> {
    return this.onSession(operation, work, o, () => this.bound(), (session, failure, retry) => {
      if (retry) this.o.logger.warn("LDAPS session broke; reconnecting", { domain: this.o.domain, url: session.url, failure });
    });
  }

  /**
   * Runs one LDAP write on a session with the PDC emulator. A broken session makes the PDC be
   * discovered again; only an idempotent write is then retried (once).
   */
  runWrite<T>(operation: Operation, work: (session: BoundSession) => Promise<T>, o: { idempotent: boolean }): Promise<T> {
    return this.onSession(operation, work, o, () => this.pdcEmulatorSession(), (session, failure, retry) => {
      this.forgetPdc(session.dcHost);
      this.o.logger.warn(retry ? "LDAPS session with the PDC emulator broke; reconnecting" : "LDAPS session with the PDC emulator broke during a write; not retried", {
        domain: this.o.domain,
        url: session.url,
        dc: session.dcHost,
        failure,
      });
    });
  }

  /** One operation on the session `open` gives; a broken session is dropped and, if idempotent, tried once more. */
  private async onSession<T>(
    operation: Operation,
    work: (session: BoundSession) => Promise<T>,
    o: { idempotent: boolean },
    open: () => Promise<BoundSession>,
    broke: (session: BoundSession, failure: string, retry: boolean) => void,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const session = await open();
      try {
        return await work(session);
      } catch (e) {
        const failure = connectionFailureOf(e);
        if (failure !== undefined) {
          this.drop(session);
          const retry = o.idempotent && attempt === 1;
          broke(session, failure, retry);
          if (retry) continue;
        }
        throw toDirectoryError(e, operation);
      }
    }
  }

  /** The PDC emulator's dNSHostName (fSMORoleOwner), cached until a reconnect or a failure to reach it. */
  async pdcEmulator(): Promise<string> {
    if (this.pdc !== undefined) return this.pdc;
    this.discovering ??= this.run("read", discoverPdc, { idempotent: true })
      .then((host) => {
        this.pdc = host;
        return host;
      })
      .finally(() => {
        this.discovering = undefined;
      });
    return this.discovering;
  }

  /**
   * A bound session with the PDC emulator: the read session when its DC is the PDC, else one of
   * its own. When the PDC cannot be reached the role is looked up again and a new holder tried
   * once; otherwise ONPREM_DIRECTORY_UNAVAILABLE (never another DC).
   */
  async pdcEmulatorSession(): Promise<BoundSession> {
    const pdc = await this.pdcEmulator();
    try {
      return await this.sessionWith(pdc);
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== "ONPREM_DIRECTORY_UNAVAILABLE") throw e;
      // The role may have moved: ask a DC again, and try the new holder.
      this.forgetPdc(pdc);
      const now = await this.pdcEmulator();
      if (sameHost(now, pdc)) throw e;
      this.o.logger.warn("PDC emulator role moved", { domain: this.o.domain, from: pdc, to: now });
      return this.sessionWith(now);
    }
  }

  /** Forgets a session that failed (the next operation reconnects). */
  drop(session: BoundSession): void {
    if (this.session === session) this.session = undefined;
    if (this.pdcSession === session) this.pdcSession = undefined;
    void session.client.unbind().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.connecting, this.pdcConnecting?.promise].filter((p) => p !== undefined).map((p) => p.catch(() => undefined)));
    const open = [this.session, this.pdcSession].filter((s): s is BoundSession => s !== undefined);
    this.session = undefined;
    this.pdcSession = undefined;
    await Promise.all(open.map((s) => s.client.unbind().catch(() => {})));
  }

  private checkOpen(): void {
    if (this.closed) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The directory connection is closed." });
  }

  private forgetPdc(host: string): void {
    if (this.pdc !== undefined && sameHost(this.pdc, host)) this.pdc = undefined;
  }

  private sessionWith(pdc: string): Promise<BoundSession> {
    this.checkOpen();
    for (const s of [this.session, this.pdcSession]) {
      if (s !== undefined && s.client.isBound && sameHost(s.dcHost, pdc)) return Promise.resolve(s);
    }
    if (this.pdcSession !== undefined) this.drop(this.pdcSession);
    if (this.pdcConnecting === undefined || !sameHost(this.pdcConnecting.host, pdc)) {
      const promise: Promise<BoundSession> = this.connectPdc(pdc).finally(() => {
        if (this.pdcConnecting?.promise === promise) this.pdcConnecting = undefined;
      });
      this.pdcConnecting = { host: pdc, promise };
    }
    return this.pdcConnecting.promise;
  }

  private tlsOptions(servername: string | undefined): ConnectionOptions {
    return {
      ca: this.o.ca,
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
      ...(servername === undefined ? {} : { servername }),
    };
  }

  /** TLS + bind + rootDSE with the DC at `target`. Throws what the client threw (unbound). */
  private async open(target: DcTarget): Promise<BoundSession> {
    const client = this.createClient({ url: target.url, tlsOptions: this.tlsOptions(target.servername), timeoutMs: this.o.timeoutMs });
    try {
      await client.bind(this.o.bindDn, this.o.bindPassword);
      const { searchEntries } = await client.search("", { scope: "base", filter: "(objectClass=*)", attributes: ["defaultNamingContext", "dnsHostName"] });
      const root = searchEntries[0];
      const namingContext = root === undefined ? undefined : textOf(root, "defaultNamingContext");
      if (root === undefined || namingContext === undefined) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The DC's rootDSE has no defaultNamingContext." });
      const dnsHostName = textOf(root, "dnsHostName");
      if (dnsHostName !== undefined) this.hosts.set(target.url, dnsHostName);
      if (this.closed) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The directory connection is closed." });
      return { client, url: target.url, namingContext, dcHost: dnsHostName ?? hostOf(target.url) };
    } catch (e) {
      // A failed bind leaves the socket open: unbind, or the process does not exit.
      await client.unbind().catch(() => {});
      throw e;
    }
  }

  private async connect(): Promise<BoundSession> {
    const failures: string[] = [];
    for (const url of this.o.urls) {
      let session: BoundSession;
      try {
        session = await this.open({ url, servername: this.o.servername });
      } catch (e) {
        const failure = connectionFailureOf(e);
        if (failure === undefined) throw toDirectoryError(e, "bind");
        failures.push(failure);
        this.o.logger.warn("domain controller unreachable over LDAPS", { domain: this.o.domain, url, failure });
        continue;
      }
      if (failures.length > 0) this.o.logger.warn("LDAPS failover: using a further domain controller", { domain: this.o.domain, url, skipped: failures.join(",") });
      this.session = session;
      // A new session: the PDC emulator is looked up again (the role may have moved meanwhile).
      this.pdc = undefined;
      return session;
    }
    throw new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: `No domain controller of ${this.o.domain} answered over LDAPS (${failures.join(", ")}).` });
  }

  /** A session with the PDC emulator `pdc` (pdcTargets), checked by its rootDSE; never another DC. */
  private async connectPdc(pdc: string): Promise<BoundSession> {
    const targets = pdcTargets(pdc, this.o.urls, this.o.servername, this.hosts);
    const tried: string[] = [];
    for (const target of targets) {
      let session: BoundSession;
      try {
        session = await this.open(target);
      } catch (e) {
        const failure = connectionFailureOf(e);
        if (failure === undefined) throw toDirectoryError(e, "bind");
        tried.push(failure);
        this.o.logger.warn("PDC emulator unreachable over LDAPS; writes are not sent to another DC", { domain: this.o.domain, pdc, url: target.url, failure });
        continue;
      }
      if (!sameHost(session.dcHost, pdc)) {
        await session.client.unbind().catch(() => {});
        tried.push(`${session.dcHost} is not the PDC emulator`);
        this.o.logger.warn("the DC at this URL is not the PDC emulator; no write is sent there", { domain: this.o.domain, pdc, url: target.url, dc: session.dcHost });
        continue;
      }
      this.pdcSession = session;
      return session;
    }
    if (targets.length === 0) {
      tried.push("no configured URL reaches it");
      this.o.logger.warn("no configured URL reaches the PDC emulator; writes are refused", { domain: this.o.domain, pdc });
    }
    throw new AppError("ONPREM_DIRECTORY_UNAVAILABLE", {
      message: `The PDC emulator of ${this.o.domain} (${pdc}) is not reachable over LDAPS (${tried.join(", ")}); writes go to the PDC emulator only.`,
    });
  }
}
