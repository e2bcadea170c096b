import type { ConnectionOptions } from "node:tls";
import { connect as tlsConnect } from "node:tls";
import { Client } from "ldapts";
import { AppError } from "../../../shared/errors/app-error.js";
import type { Logger } from "../../../shared/ports/logger.port.js";
import { connectionFailureOf, toDirectoryError, type Operation } from "./ad-errors.js";
import { textOf } from "./ad-account.js";
import { zeroingTlsConnect } from "./tls-zeroing.js";

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
}

/** A bound LDAPS session with one DC. */
export interface BoundSession {
  client: Client;
  url: string;
  /** The domain's naming context (rootDSE defaultNamingContext). */
  namingContext: string;
  /** The DC's dnsHostName from its rootDSE. */
  dcHost: string;
}

/**
 * One domain's LDAPS session for the agent's service account: connects lazily, tries the URLs
 * in order (failover) until a DC completes the TLS handshake, the bind and a rootDSE read,
 * and reconnects when the session broke. Operations share the one session (LDAP multiplexes
 * them by message id). A read that fails on a broken session is retried once on a fresh one;
 * a write never is (it may have been applied: the caller gets ONPREM_DIRECTORY_UNAVAILABLE).
 */
export class DomainConnection {
  private session: BoundSession | undefined;
  private connecting: Promise<BoundSession> | undefined;
  private closed = false;

  constructor(private readonly o: DomainConnectionOptions) {}

  get domain(): string {
    return this.o.domain;
  }

  /** A live bound session, connecting (with failover) when there is none. Throws AppError. */
  async bound(): Promise<BoundSession> {
    if (this.closed) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The directory connection is closed." });
    const s = this.session;
    if (s !== undefined && s.client.isBound) return s;
    if (s !== undefined) this.drop(s);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Runs one LDAP exchange on the session; failures become AppErrors for `operation`. */
  async run<T>(operation: Operation, work: (session: BoundSession) => Promise<T>, o: { idempotent: boolean }): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.bound();
      try {
        return await work(session);
      } catch (e) {
        const failure = connectionFailureOf(e);
        if (failure !== undefined) {
          this.drop(session);
          if (o.idempotent && attempt === 1) {
            this.o.logger.warn("LDAPS session broke; reconnecting", { domain: this.o.domain, url: session.url, failure });
            continue;
          }
        }
        throw toDirectoryError(e, operation);
      }
    }
  }

  /** Forgets a session that failed (the next operation reconnects). */
  drop(session: BoundSession): void {
    if (this.session === session) this.session = undefined;
    void session.client.unbind().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.connecting?.catch(() => undefined);
    const s = this.session ?? (await pending);
    this.session = undefined;
    if (s !== undefined) await s.client.unbind().catch(() => {});
  }

  private newClient(url: string): Client {
    const tlsOptions: ConnectionOptions = {
      ca: this.o.ca,
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
      ...(this.o.servername === undefined ? {} : { servername: this.o.servername }),
    };
    return new Client({
      url,
      timeout: this.o.timeoutMs,
      connectTimeout: this.o.timeoutMs,
      tlsOptions,
      createSecureConnection: zeroingTlsConnect as unknown as typeof tlsConnect,
    });
  }

  private async connect(): Promise<BoundSession> {
    const failures: string[] = [];
    for (const url of this.o.urls) {
      const client = this.newClient(url);
      try {
        await client.bind(this.o.bindDn, this.o.bindPassword);
        const { searchEntries } = await client.search("", { scope: "base", filter: "(objectClass=*)", attributes: ["defaultNamingContext", "dnsHostName"] });
        const root = searchEntries[0];
        const namingContext = root === undefined ? undefined : textOf(root, "defaultNamingContext");
        if (root === undefined || namingContext === undefined) throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The DC's rootDSE has no defaultNamingContext." });
        const session: BoundSession = { client, url, namingContext, dcHost: textOf(root, "dnsHostName") ?? new URL(url).hostname };
        if (this.closed) {
          await client.unbind().catch(() => {});
          throw new AppError("ONPREM_CONFIGURATION_ERROR", { message: "The directory connection is closed." });
        }
        if (failures.length > 0) this.o.logger.warn("LDAPS failover: using a further domain controller", { domain: this.o.domain, url, skipped: failures.join(",") });
        this.session = session;
        return session;
      } catch (e) {
        // A failed bind leaves the socket open: unbind, or the process does not exit.
        await client.unbind().catch(() => {});
        const failure = connectionFailureOf(e);
        if (failure === undefined) throw toDirectoryError(e, "bind");
        failures.push(failure);
        this.o.logger.warn("domain controller unreachable over LDAPS", { domain: this.o.domain, url, failure });
      }
    }
    throw new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: `No domain controller of ${this.o.domain} answered over LDAPS (${failures.join(", ")}).` });
  }
}
