/**
 * A throwaway Samba AD DC on loopback, for the LDAP integration tests and `npm start --
 * --directory samba`: provisioned into a private temp directory (never /etc/samba), serving
 * LDAPS on 127.0.0.1:636, torn down by `stop()`. Ports 389/636 are fixed, so one instance per
 * network namespace: a lock file serialises concurrent runs (tests and local stacks alike).
 *
 * What it sets up: realm WRITEBACK.TEST (DC dc1), password policy (length 7, complexity,
 * history 3, no minimum age, lockout after 3 bad passwords for 30 minutes), an OU for
 * writeback users, a service account with exactly the four delegated rights the LDAPS adapter's
 * README asks for on that OU, and a plain user without rights.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Attribute, Client } from "ldapts";

/** How to reach a running Samba AD DC, and its fixtures. */
export interface SambaDc {
  url: string;
  caFile: string;
  /** The name in the DC's certificate (the URL uses 127.0.0.1). */
  servername: string;
  domain: string;
  baseDn: string;
  adminDn: string;
  adminPassword: string;
  /** The service account, with reset/change/lockoutTime/pwdLastSet rights on `usersOu`. */
  bindDn: string;
  bindPassword: string;
  /** A user without any delegated right. */
  plainDn: string;
  plainPassword: string;
  /** The OU the service account's rights apply to (inherited by user objects in it). */
  usersOu: string;
}

export interface SambaDcHandle {
  dc: SambaDc;
  stop(): Promise<void>;
}

export interface StartSambaDcOptions {
  /** How long to wait for another run's instance to go away (default 180 s). */
  lockWaitMs?: number;
  log?: (line: string) => void;
  /**
   * More fixtures, added before the handle is returned (the admin session is open). Answers
   * what it added, for the log line (e.g. "1010 bulk users").
   */
  populate?: (admin: Client, dc: SambaDc, openAdmin: () => Promise<Client>) => Promise<string>;
}

export const SAMBA_REALM = "WRITEBACK.TEST";
export const SAMBA_DOMAIN = "writeback.test";
export const SAMBA_BASE_DN = "DC=writeback,DC=test";
const HOST = "dc1";
const URL = "ldaps://127.0.0.1:636";
/**
 * Ports 389/636 are fixed per network namespace: runs in different namespaces (`unshare --net`)
 * do not compete, so the lock is per namespace.
 */
function networkNamespace(): string {
  try {
    return `-${readlinkSync("/proc/self/ns/net").replace(/\D/g, "")}`;
  } catch {
    return "";
  }
}

export const SAMBA_LOCK_FILE = join(tmpdir(), `writeback-samba-ad${networkNamespace()}.lock`);

// Rights the LDAPS adapter's README asks for, inherited by user objects under the managed OU.
const USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2";
const RESET_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529";
const CHANGE_PASSWORD = "ab721a53-1e2f-11d0-9819-00aa0040529b";
const LOCKOUT_TIME = "28630ebf-41d5-11d1-a9c1-0000f80367c1";
const PWD_LAST_SET = "bf967a0a-0de6-11d0-a285-00aa003049e2";

function onPath(command: string): boolean {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}

function unavailableReason(): string | undefined {
  if (!onPath("samba-tool")) return "samba-tool is not installed (apt-get install --no-install-recommends samba samba-dsdb-modules samba-ad-provision samba-vfs-modules)";
  if (!onPath("samba")) return "the samba daemon is not installed";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "Samba AD needs root (ports 389/636)";
  return undefined;
}

let checked: { reason: string | undefined } | undefined;
/** Why a Samba AD DC cannot be started here, or undefined when it can (checked once per process). */
export function sambaUnavailableReason(): string | undefined {
  checked ??= { reason: unavailableReason() };
  return checked.reason;
}

export const strongPassword = (): string => `Wb-${randomBytes(9).toString("base64url")}-9a`;
export const unicodePwd = (password: string): Buffer => Buffer.from(`"${password}"`, "utf16le");

/** Runs a command to completion without blocking the event loop (peers in this process keep serving). */
async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, sig) => resolve([code, sig]));
  }).finally(() => clearTimeout(timer));
  if (status !== 0) throw new Error(`${command} ${args[0] ?? ""} ${args[1] ?? ""} failed (${status ?? signal}): ${output.slice(-800)}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isSamba(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("samba");
  } catch {
    return false;
  }
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One Samba per network namespace: waits for another run's instance; takes over the lock of a dead run (stopping its leftover Samba). */
async function acquireLock(waitMs: number): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(SAMBA_LOCK_FILE, "wx");
      writeFileSync(fd, JSON.stringify({ runner: process.pid }));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(SAMBA_LOCK_FILE);
        } catch {
          // already gone
        }
      };
    } catch {
      let holder: { runner?: number; samba?: number } = {};
      try {
        holder = JSON.parse(readFileSync(SAMBA_LOCK_FILE, "utf8")) as typeof holder;
      } catch {
        // being written
      }
      if (holder.runner !== undefined && !alive(holder.runner)) {
        // A crashed run left its Samba behind: it is ours to stop (its own process group).
        if (holder.samba !== undefined && alive(holder.samba) && isSamba(holder.samba)) {
          try {
            process.kill(-holder.samba, "SIGKILL");
          } catch {
            // gone meanwhile
          }
        }
        rmSync(SAMBA_LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`another run (process ${holder.runner ?? "?"}: tests or a local stack) holds the Samba AD instance (ports 389/636, lock ${SAMBA_LOCK_FILE})`);
      }
      await sleep(500);
    }
  }
}

/** An LDAPS session to the DC (certificate verified against its CA), bound as `dn`. */
export async function sambaClient(dc: Pick<SambaDc, "url" | "caFile" | "servername">, dn: string, password: string): Promise<Client> {
  const c = new Client({ url: dc.url, tlsOptions: { ca: readFileSync(dc.caFile), servername: dc.servername }, timeout: 30_000, connectTimeout: 5_000 });
  try {
    await c.bind(dn, password);
    return c;
  } catch (e) {
    await c.unbind().catch(() => {});
    throw e;
  }
}

/** A simple bind over LDAPS: "ok", or AD's bind data code (52e bad password, 775 locked, 533 disabled, 773 must change). */
export async function sambaBind(dc: Pick<SambaDc, "url" | "caFile" | "servername">, dn: string, password: string): Promise<string> {
  try {
    const c = await sambaClient(dc, dn, password);
    await c.unbind().catch(() => {});
    return "ok";
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return /data ([0-9a-f]+)/i.exec(message)?.[1] ?? `error: ${message}`;
  }
}

function sidText(b: Buffer): string {
  const subs: number[] = [];
  for (let i = 0; i < (b[1] ?? 0); i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-${b[0] ?? 1}-${b.readUIntBE(2, 6)}-${subs.join("-")}`;
}

/**
 * Adds a user; with a password it is enabled (userAccountControl 512), without one it stays
 * disabled. The UPN is `<sam>@writeback.test` unless `extra.userPrincipalName` names another.
 */
export async function addUser(c: Client, dn: string, sam: string, password: string | undefined, extra: Record<string, string> = {}): Promise<void> {
  const attributes = [
    new Attribute({ type: "objectClass", values: ["top", "person", "organizationalPerson", "user"] }),
    new Attribute({ type: "sAMAccountName", values: [sam] }),
    ...(extra.userPrincipalName === undefined ? [new Attribute({ type: "userPrincipalName", values: [`${sam}@${SAMBA_DOMAIN}`] })] : []),
    ...(password === undefined ? [] : [new Attribute({ type: "unicodePwd", values: [unicodePwd(password)] }), new Attribute({ type: "userAccountControl", values: ["512"] })]),
    ...Object.entries(extra).map(([type, value]) => new Attribute({ type, values: [value] })),
  ];
  await c.add(dn, attributes);
}

/** Provisions, starts and populates a Samba AD DC. Throws when it cannot (the caller decides to skip or fail). */
export async function startSambaDc(o: StartSambaDcOptions = {}): Promise<SambaDcHandle> {
  const log = o.log ?? ((line: string) => console.log(`[samba] ${line}`));
  const release = await acquireLock(o.lockWaitMs ?? 180_000);
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "writeback-samba-"));
  const killGroup = () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  };
  process.once("exit", killGroup);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      process.removeListener("exit", killGroup);
      const c = child;
      if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise<void>((r) => c.once("exit", () => r()));
        try {
          process.kill(-c.pid, "SIGTERM");
        } catch {
          // gone
        }
        const timer = setTimeout(killGroup, 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      release();
    })());
  try {
    if (await portOpen(636)) throw new Error("port 636 is already in use by another process");
    const started = Date.now();
    const adminPassword = strongPassword();
    const emptyConf = join(dir, "empty.conf");
    writeFileSync(emptyConf, "");
    for (const d of ["pid", "ncalrpc", "winbindd"]) mkdirSync(join(dir, d));
    await run("samba-tool", [
      "domain", "provision", "-s", emptyConf,
      "--server-role=dc", "--dns-backend=NONE", `--realm=${SAMBA_REALM}`, "--domain=WRITEBACK", `--host-name=${HOST}`,
      `--adminpass=${adminPassword}`, `--targetdir=${dir}`,
      "--option=interfaces=127.0.0.1", "--option=bind interfaces only=yes", "--option=server services=ldap",
      `--option=pid directory=${join(dir, "pid")}`, `--option=ncalrpc dir=${join(dir, "ncalrpc")}`,
      `--option=winbindd socket directory=${join(dir, "winbindd")}`, `--option=log file=${join(dir, "log.samba")}`,
    ]);
    const conf = join(dir, "etc", "smb.conf");
    // Samba accepts the previous password for NTLM-style logons (simple binds included) for 60
    // minutes after a change, like AD's OldPasswordAllowedPeriod: off, so a test can see it go.
    writeFileSync(conf, readFileSync(conf, "utf8").replace("[global]\n", "[global]\n\told password allowed period = 0\n"));
    // Offline, before the start: effective at once. Lockout after 3 bad passwords for 30 minutes.
    await run("samba-tool", ["domain", "passwordsettings", "set", "-s", conf, "--min-pwd-age=0", "--complexity=on", "--history-length=3", "--min-pwd-length=7", "--account-lockout-threshold=3", "--account-lockout-duration=30", "--reset-account-lockout-after=30"]);
    const provisioned = Date.now();

    const out = openSync(join(dir, "samba.out"), "a");
    const samba = spawn("samba", ["-s", conf, "-F"], { stdio: ["ignore", out, out], detached: true });
    child = samba;
    closeSync(out);
    writeFileSync(SAMBA_LOCK_FILE, JSON.stringify({ runner: process.pid, samba: samba.pid }));
    const ca = join(dir, "private", "tls", "ca.pem");
    const where = { url: URL, caFile: ca, servername: `${HOST}.${SAMBA_DOMAIN}` };
    const adminDn = `CN=Administrator,CN=Users,${SAMBA_BASE_DN}`;
    const openAdmin = () => sambaClient(where, adminDn, adminPassword);
    let admin: Client | undefined;
    const deadline = Date.now() + 60_000;
    while (admin === undefined) {
      if (samba.exitCode !== null) throw new Error(`samba exited (${samba.exitCode}): ${readFileSync(join(dir, "samba.out"), "utf8").slice(-800)}`);
      if (existsSync(ca) && (await portOpen(636))) admin = await openAdmin().catch(() => undefined);
      if (admin === undefined) {
        if (Date.now() > deadline) throw new Error("samba did not serve LDAPS within 60 s");
        await sleep(200);
      }
    }
    const serving = Date.now();

    const dc: SambaDc = {
      ...where,
      domain: SAMBA_DOMAIN,
      baseDn: SAMBA_BASE_DN,
      adminDn,
      adminPassword,
      bindDn: `CN=svc-writeback,CN=Users,${SAMBA_BASE_DN}`,
      bindPassword: strongPassword(),
      plainDn: `CN=wb-plain,CN=Users,${SAMBA_BASE_DN}`,
      plainPassword: strongPassword(),
      usersOu: `OU=Writeback,${SAMBA_BASE_DN}`,
    };
    let fixtures = "service account and rights";
    try {
      await admin.add(dc.usersOu, { objectClass: ["top", "organizationalUnit"] });
      await addUser(admin, dc.bindDn, "svc-writeback", dc.bindPassword);
      await addUser(admin, dc.plainDn, "wb-plain", dc.plainPassword);
      const sid = sidText((await admin.search(dc.bindDn, { scope: "base", attributes: ["objectSid"], explicitBufferAttributes: ["objectSid"] })).searchEntries[0]!.objectSid as Buffer);
      const aces = [`(OA;CIIO;CR;${RESET_PASSWORD};${USER_CLASS};${sid})`, `(OA;CIIO;CR;${CHANGE_PASSWORD};${USER_CLASS};${sid})`, `(OA;CIIO;WP;${LOCKOUT_TIME};${USER_CLASS};${sid})`, `(OA;CIIO;WP;${PWD_LAST_SET};${USER_CLASS};${sid})`];
      await run("samba-tool", ["dsacl", "set", "-s", conf, "-H", join(dir, "private", "sam.ldb"), `--objectdn=${dc.usersOu}`, `--sddl=${aces.join("")}`, "--action=allow"]);
      if (o.populate !== undefined) fixtures = `fixtures (${await o.populate(admin, dc, openAdmin)})`;
    } finally {
      await admin.unbind().catch(() => {});
    }
    log(`Samba AD DC ${SAMBA_DOMAIN} on ${URL}: provisioned in ${provisioned - started} ms, serving after ${serving - provisioned} ms, ${fixtures} in ${Date.now() - serving} ms`);
    return { dc, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
