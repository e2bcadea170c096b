/**
 * Writes go to the PDC emulator only: the host → URL mapping, and LdapDirectory over a fake
 * LDAP client (one fake DC per URL) to see where each modify lands, and that none lands on
 * another DC when the PDC cannot be reached.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { ConnectionOptions } from "node:tls";
import { describe, test } from "vitest";
import type { ServiceBusClient } from "@azure/service-bus";
import type { Change, Control, DN, Entry, SaslMechanism, SearchOptions, SearchResult } from "ldapts";
import { checkAgent } from "../../../agent/commands/check.js";
import type { AccountRef } from "../../../agent/directory/directory.port.js";
import { pdcTargets, type LdapClient, type LdapClientFactory } from "../../../agent/directory/ldap/domain-connection.js";
import { LdapDirectory } from "../../../agent/directory/ldap/ldap-directory.js";
import { guidToAdBytes } from "../../../agent/sync/source-anchor.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { LogFields, Logger } from "../../../shared/ports/logger.port.js";
import { pw } from "./helpers.js";

const DOMAIN = "corp.example.com";
const NC = "DC=corp,DC=example,DC=com";
const CA = "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n";
const DC1 = "dc1.corp.example.com";
const DC2 = "dc2.corp.example.com";

// ------------------------------------------------------------ the mapping rules

describe("PDC emulator: host → URL", () => {
  test("1. a configured URL naming the PDC (case-insensitive, port kept), with the configured servername", () => {
    const urls = ["ldaps://dc2.corp.example.com", "ldaps://DC1.Corp.Example.com:3269"];
    assert.deepEqual(pdcTargets("dc1.CORP.example.com", urls, undefined), [{ url: "ldaps://DC1.Corp.Example.com:3269", servername: undefined }]);
    assert.deepEqual(pdcTargets(DC2, urls, "ldap.corp.example.com"), [{ url: "ldaps://dc2.corp.example.com", servername: "ldap.corp.example.com" }]);
  });

  test("2. servername is the PDC (IP/alias URLs): the URLs verified with it, except those known to be another DC, the known PDC first", () => {
    const urls = ["ldaps://10.0.0.2", "ldaps://10.0.0.3:636", "ldaps://10.0.0.1"];
    assert.deepEqual(
      pdcTargets(DC1, urls, "DC1.corp.example.com"),
      urls.map((url) => ({ url, servername: "DC1.corp.example.com" })),
      "nothing known yet: all of them, in order (each is checked by its rootDSE before a write)",
    );
    const known = new Map([
      ["ldaps://10.0.0.2", DC2],
      ["ldaps://10.0.0.1", "DC1.corp.example.com"],
    ]);
    assert.deepEqual(pdcTargets(DC1, urls, DC1, known), [
      { url: "ldaps://10.0.0.1", servername: DC1 },
      { url: "ldaps://10.0.0.3:636", servername: DC1 },
    ]);
    assert.deepEqual(pdcTargets(DC1, ["ldaps://10.0.0.2"], DC1, known), [], "only another DC configured: nowhere to write");
  });

  test("3. otherwise ldaps://<dNSHostName>, verified against that name", () => {
    assert.deepEqual(pdcTargets(DC1, ["ldaps://10.0.0.2"], DC2), [{ url: `ldaps://${DC1}`, servername: DC1 }]);
    assert.deepEqual(pdcTargets(DC1, ["ldaps://dc2.corp.example.com"], undefined), [{ url: `ldaps://${DC1}`, servername: DC1 }]);
  });
});

// ------------------------------------------------------------ a fake AD

interface FakeDc {
  /** What its rootDSE says (dnsHostName). */
  host: string;
  up: boolean;
}

interface Connect {
  url: string;
  tls: ConnectionOptions;
}

const refused = () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });

class FakeAd {
  /** The PDC emulator's dNSHostName (what the server object holds). */
  pdc = DC1;
  readonly dcs = new Map<string, FakeDc>();
  readonly connects: Connect[] = [];
  readonly modifies: { url: string; host: string; dn: string }[] = [];
  readonly reads: string[] = [];
  roleReads = 0;
  /** The next modify fails as a connection that broke before the answer. */
  breakNextModify = false;
  readonly account = { guid: randomUUID(), sam: "alice" };

  constructor(dcs: Record<string, FakeDc>) {
    for (const [url, dc] of Object.entries(dcs)) this.dcs.set(url, dc);
  }

  readonly factory: LdapClientFactory = ({ url, tlsOptions }) => {
    this.connects.push({ url, tls: tlsOptions });
    return new FakeClient(this, url);
  };

  ref(): AccountRef {
    return { domain: DOMAIN, distinguishedName: `CN=alice,OU=Users,${NC}`, objectGuid: this.account.guid };
  }
}

class FakeClient implements LdapClient {
  private bound = false;
  constructor(
    private readonly ad: FakeAd,
    private readonly url: string,
  ) {}

  get isBound(): boolean {
    return this.bound && this.dc().up;
  }

  private dc(): FakeDc {
    return this.ad.dcs.get(this.url) ?? { host: "nowhere", up: false };
  }

  private check(): FakeDc {
    const dc = this.dc();
    if (!dc.up || !this.bound) throw refused();
    return dc;
  }

  async bind(_dn: DN | SaslMechanism | string, _password?: string, _controls?: Control | Control[]): Promise<void> {
    if (!this.dc().up) throw refused();
    this.bound = true;
  }

  async search(baseDN: DN | string, options?: SearchOptions, _controls?: Control | Control[]): Promise<SearchResult> {
    const dc = this.check();
    const base = baseDN.toString();
    const attributes = options?.attributes ?? [];
    const entries = (e: Entry[]): SearchResult => ({ searchEntries: e, searchReferences: [] });
    this.ad.reads.push(this.url);
    if (base === "") return entries([{ dn: "", defaultNamingContext: NC, dnsHostName: dc.host, currentTime: "20260301080000.0Z" }]);
    if (base === NC && attributes.includes("fSMORoleOwner")) {
      this.ad.roleReads += 1;
      const server = this.ad.pdc.split(".")[0]!.toUpperCase();
      return entries([{ dn: NC, fSMORoleOwner: `CN=NTDS Settings,CN=${server},CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,${NC}` }]);
    }
    if (base.startsWith("CN=") && base.includes("CN=Servers") && attributes.includes("dNSHostName")) return entries([{ dn: base, dNSHostName: this.ad.pdc }]);
    // tokenGroups (constructed, base scope): Domain Users only, S-1-5-21-1-2-3-513.
    if (attributes.includes("tokenGroups")) return entries([{ dn: base, tokenGroups: [Buffer.from("010500000000000515000000010000000200000003000000" + "01020000", "hex")] }]);
    if (base === NC && attributes.includes("minPwdLength")) return entries([{ dn: NC, minPwdLength: "7", pwdProperties: "1", pwdHistoryLength: "24" }]);
    if (base === NC && options?.scope === "sub") {
      return entries([{ dn: `CN=alice,OU=Users,${NC}`, objectGUID: guidToAdBytes(this.ad.account.guid), sAMAccountName: this.ad.account.sam, userAccountControl: "512" }]);
    }
    return entries([]);
  }

  async *searchPaginated(_baseDN: DN | string, _options?: SearchOptions, _controls?: Control | Control[]): AsyncGenerator<SearchResult> {
    this.check();
    yield { searchEntries: [], searchReferences: [] };
  }

  async modify(dn: DN | string, _changes: Change | Change[], _controls?: Control | Control[]): Promise<void> {
    const dc = this.check();
    if (this.ad.breakNextModify) {
      this.ad.breakNextModify = false;
      this.bound = false;
      throw new Error("Connection closed before message response was received. Message type: ModifyRequest (0x66)");
    }
    this.ad.modifies.push({ url: this.url, host: dc.host, dn: dn.toString() });
  }

  async unbind(): Promise<void> {
    this.bound = false;
  }
}

class CapturingLogger implements Logger {
  readonly lines: { level: string; m: string; f: LogFields | undefined }[] = [];
  info = (m: string, f?: LogFields) => void this.lines.push({ level: "info", m, f });
  warn = (m: string, f?: LogFields) => void this.lines.push({ level: "warn", m, f });
  error = (m: string, f?: LogFields) => void this.lines.push({ level: "error", m, f });
}

function directory(ad: FakeAd, o: { urls: string[]; preferredDc?: string; servername?: string; logger?: Logger }): LdapDirectory {
  return new LdapDirectory(
    [{ domain: DOMAIN, urls: o.urls, preferredDc: o.preferredDc, bindDn: `CN=svc,${NC}`, bindPassword: "bind-secret", ca: CA, servername: o.servername, timeoutMs: 1000 }],
    { logger: o.logger ?? new CapturingLogger(), createClient: ad.factory },
  );
}

async function rejects(p: Promise<unknown>, code: string): Promise<AppError> {
  const e = await p.then(
    () => assert.fail(`expected ${code}`),
    (x: unknown) => x,
  );
  assert.ok(e instanceof AppError, String(e));
  assert.equal(e.code, code, e.message);
  assert.doesNotMatch(e.message, /\b(CN|OU|DC)=|bind-secret/);
  return e;
}

const noFlags = { unlockAccount: false, forceChangeAtNextLogon: false };
const URL1 = `ldaps://${DC1}`;
const URL2 = `ldaps://${DC2}`;

// ------------------------------------------------------------ routing

describe("PDC emulator: every write goes there", () => {
  test("reads on the preferred DC, reset/change/unlock on the PDC (verified TLS, same CA)", async () => {
    const ad = new FakeAd({ [URL2]: { host: DC2, up: true }, [URL1]: { host: DC1, up: true } });
    const dir = directory(ad, { urls: [URL1, URL2], preferredDc: DC2 });
    try {
      assert.equal((await dir.readAccount(ad.ref()))?.sAMAccountName, "alice");
      assert.deepEqual(ad.connects.map((c) => c.url), [URL2], "the preferred DC serves reads");
      assert.equal(await dir.pdcEmulator(DOMAIN), DC1);
      await dir.resetPassword(ad.ref(), pw("New-Pass-1"), { unlockAccount: true, forceChangeAtNextLogon: true });
      await dir.changePassword(ad.ref(), pw("New-Pass-1"), pw("New-Pass-2"));
      await dir.unlockAccount(ad.ref());
      assert.deepEqual(
        ad.modifies.map((m) => m.url),
        [URL1, URL1, URL1],
      );
      assert.deepEqual(ad.connects.map((c) => c.url), [URL2, URL1], "one session per DC, reused");
      assert.equal(ad.roleReads, 1, "discovered once, then cached");
      const pdcTls = ad.connects[1]!.tls;
      assert.equal(pdcTls.rejectUnauthorized, true);
      assert.equal(pdcTls.ca, CA);
      assert.equal(pdcTls.minVersion, "TLSv1.2");
    } finally {
      await dir.close();
    }
  });

  test("the read DC is the PDC: one session for both", async () => {
    const ad = new FakeAd({ [URL1]: { host: DC1, up: true }, [URL2]: { host: DC2, up: true } });
    const dir = directory(ad, { urls: [URL1, URL2] });
    await dir.resetPassword(ad.ref(), pw("New-Pass-1"), noFlags);
    assert.deepEqual(ad.modifies.map((m) => m.url), [URL1]);
    assert.deepEqual(ad.connects.map((c) => c.url), [URL1]);
    const [health] = await dir.health();
    assert.equal(health?.status, "healthy");
    assert.deepEqual(health?.pdcEmulator, { host: DC1, reachable: true });
    assert.match(health?.detail ?? "", /connected to dc1\.corp\.example\.com \(the PDC emulator\)/);
    await dir.close();
  });

  test("IP URLs with servername = the PDC's name: the write goes to the URL whose DC is the PDC, verified with that servername", async () => {
    const ad = new FakeAd({ "ldaps://10.0.0.2": { host: DC2, up: true }, "ldaps://10.0.0.1": { host: DC1, up: true } });
    const dir = directory(ad, { urls: ["ldaps://10.0.0.2", "ldaps://10.0.0.1"], servername: DC1 });
    await dir.resetPassword(ad.ref(), pw("New-Pass-1"), noFlags);
    assert.deepEqual(ad.modifies.map((m) => [m.url, m.host]), [["ldaps://10.0.0.1", DC1]]);
    assert.deepEqual(ad.connects.map((c) => [c.url, c.tls.servername]), [["ldaps://10.0.0.2", DC1], ["ldaps://10.0.0.1", DC1]]);
    await dir.close();
  });

  test("the PDC is not configured: ldaps://<dNSHostName>, its certificate verified against that name", async () => {
    const ad = new FakeAd({ "ldaps://10.0.0.2": { host: DC2, up: true }, [URL1]: { host: DC1, up: true } });
    const dir = directory(ad, { urls: ["ldaps://10.0.0.2"], servername: DC2 });
    await dir.unlockAccount(ad.ref());
    assert.deepEqual(ad.modifies.map((m) => m.url), [URL1]);
    assert.deepEqual(ad.connects.map((c) => [c.url, c.tls.servername, c.tls.rejectUnauthorized]), [["ldaps://10.0.0.2", DC2, true], [URL1, DC1, true]]);
    await dir.close();
  });

  test("a URL named like the PDC whose rootDSE names another DC gets no write", async () => {
    const ad = new FakeAd({ [URL2]: { host: DC2, up: true }, [URL1]: { host: "dc3.corp.example.com", up: true } });
    const logger = new CapturingLogger();
    const dir = directory(ad, { urls: [URL2, URL1], logger });
    await rejects(dir.resetPassword(ad.ref(), pw("New-Pass-1"), noFlags), "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.deepEqual(ad.modifies, []);
    assert.ok(logger.lines.some((l) => l.m.includes("not the PDC emulator") && l.f?.url === URL1 && l.f?.dc === "dc3.corp.example.com"));
    await dir.close();
  });
});

describe("PDC emulator unreachable", () => {
  test("ONPREM_DIRECTORY_UNAVAILABLE for reset, change and unlock; nothing written on the reachable DC; the DC tried is logged; the role is looked up again", async () => {
    const ad = new FakeAd({ [URL2]: { host: DC2, up: true }, [URL1]: { host: DC1, up: false } });
    const logger = new CapturingLogger();
    const dir = directory(ad, { urls: [URL2, URL1], logger });
    assert.equal((await dir.readAccount(ad.ref()))?.sAMAccountName, "alice", "reads still work");
    const e = await rejects(dir.resetPassword(ad.ref(), pw("New-Pass-1"), { unlockAccount: true, forceChangeAtNextLogon: false }), "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.match(e.message, /dc1\.corp\.example\.com/);
    assert.equal(ad.roleReads, 2, "discovered, then looked up again after the PDC did not answer");
    await rejects(dir.changePassword(ad.ref(), pw("Old-Pass-1"), pw("New-Pass-2")), "ONPREM_DIRECTORY_UNAVAILABLE");
    await rejects(dir.unlockAccount(ad.ref()), "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.deepEqual(ad.modifies, [], "no write sent anywhere");
    assert.ok(ad.connects.every((c) => c.url === URL2 || c.url === URL1));
    const tried = logger.lines.filter((l) => l.level === "warn" && l.m.startsWith("PDC emulator unreachable"));
    assert.ok(tried.length >= 3);
    assert.deepEqual(new Set(tried.map((l) => [l.f?.url, l.f?.pdc, l.f?.failure].join(" "))), new Set([`${URL1} ${DC1} ECONNREFUSED`]));
    assert.doesNotMatch(JSON.stringify(logger.lines), /bind-secret|New-Pass|Old-Pass/);

    const [health] = await dir.health();
    assert.equal(health?.status, "degraded");
    assert.deepEqual(health?.pdcEmulator, { host: DC1, reachable: false });
    assert.match(health?.detail ?? "", /connected to dc2\.corp\.example\.com; PDC emulator dc1\.corp\.example\.com unreachable/);
    await dir.close();
  });

  test("the role moved: the write goes to the new holder found by the second lookup", async () => {
    const ad = new FakeAd({ [URL2]: { host: DC2, up: true }, [URL1]: { host: DC1, up: true } });
    const dir = directory(ad, { urls: [URL2, URL1] });
    assert.equal(await dir.pdcEmulator(DOMAIN), DC1);
    ad.dcs.get(URL1)!.up = false;
    ad.pdc = DC2; // seized by dc2
    await dir.resetPassword(ad.ref(), pw("New-Pass-1"), noFlags);
    assert.deepEqual(ad.modifies.map((m) => m.url), [URL2]);
    assert.equal(await dir.pdcEmulator(DOMAIN), DC2);
    await dir.close();
  });

  test("the PDC session breaks during a reset: not retried, not sent elsewhere; the next write looks the PDC up again", async () => {
    const ad = new FakeAd({ [URL2]: { host: DC2, up: true }, [URL1]: { host: DC1, up: true } });
    const dir = directory(ad, { urls: [URL2, URL1] });
    ad.breakNextModify = true;
    await rejects(dir.resetPassword(ad.ref(), pw("New-Pass-1"), noFlags), "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.equal(ad.modifies.length, 0, "not retried on any session");
    assert.equal(ad.roleReads, 1);
    await dir.resetPassword(ad.ref(), pw("New-Pass-1"), noFlags);
    assert.deepEqual(ad.modifies.map((m) => m.url), [URL1]);
    assert.equal(ad.roleReads, 2);
    await dir.close();
  });
});

test("agent check shows the PDC emulator per domain and whether it is reachable", async () => {
  const ad = new FakeAd({ [URL2]: { host: DC2, up: true }, [URL1]: { host: DC1, up: false } });
  const dir = directory(ad, { urls: [URL2, URL1] });
  const receiver = { peekMessages: async () => [], close: async () => {} };
  const client = { createReceiver: () => receiver } as unknown as ServiceBusClient;
  const lines = await checkAgent({ client, tenantQueue: "q", directory: dir, sendTestEvent: async () => {} });
  const pdc = lines.find((l) => l.check === `PDC emulator of ${DOMAIN} (writes)`);
  assert.deepEqual(pdc, { check: `PDC emulator of ${DOMAIN} (writes)`, ok: false, detail: `${DC1}, not reachable over LDAPS: password writes are refused` });
  // Each configured DC on its own: the one that is down is named, with what to check.
  const perDc = lines.filter((l) => l.check.startsWith("LDAPS to "));
  assert.deepEqual(
    perDc.map((l) => [l.check, l.ok]),
    [
      [`LDAPS to ${URL2} (${DOMAIN})`, true],
      [`LDAPS to ${URL1} (${DOMAIN})`, false],
    ],
  );
  assert.match(perDc[1]!.detail, /port 636/);
  ad.dcs.get(URL1)!.up = true;
  const again = await checkAgent({ client, tenantQueue: "q", directory: dir, sendTestEvent: async () => {} });
  assert.deepEqual(again.find((l) => l.check.startsWith("PDC emulator")), { check: `PDC emulator of ${DOMAIN} (writes)`, ok: true, detail: `${DC1}, reachable over LDAPS` });
  await dir.close();
});
