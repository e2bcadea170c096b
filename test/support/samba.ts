/**
 * A throwaway Samba AD DC for the LDAP integration tests: provisioned into a private temp
 * directory (never /etc/samba), serving LDAPS on 127.0.0.1:636, torn down afterwards.
 * Ports 389/636 are fixed, so one instance per machine: a lock file serialises concurrent runs.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Attribute, Client } from "ldapts";

export const SAMBA_ENV = {
  url: "WRITEBACK_TEST_SAMBA_URL",
  caFile: "WRITEBACK_TEST_SAMBA_CA_FILE",
  servername: "WRITEBACK_TEST_SAMBA_SERVERNAME",
  domain: "WRITEBACK_TEST_SAMBA_DOMAIN",
  baseDn: "WRITEBACK_TEST_SAMBA_BASE_DN",
  adminDn: "WRITEBACK_TEST_SAMBA_ADMIN_DN",
  adminPassword: "WRITEBACK_TEST_SAMBA_ADMIN_PASSWORD",
  bindDn: "WRITEBACK_TEST_SAMBA_BIND_DN",
  bindPassword: "WRITEBACK_TEST_SAMBA_BIND_PASSWORD",
  plainDn: "WRITEBACK_TEST_SAMBA_PLAIN_DN",
  plainPassword: "WRITEBACK_TEST_SAMBA_PLAIN_PASSWORD",
  usersOu: "WRITEBACK_TEST_SAMBA_USERS_OU",
  bulkOu: "WRITEBACK_TEST_SAMBA_BULK_OU",
  bulkUsers: "WRITEBACK_TEST_SAMBA_BULK_USERS",
  /** Set instead of the others when the suite must skip: the reason. */
  unavailable: "WRITEBACK_TEST_SAMBA_UNAVAILABLE",
  /** Set instead of the others when Samba is installed but did not start: the suite fails with it. */
  startError: "WRITEBACK_TEST_SAMBA_START_ERROR",
} as const;

export type SambaEnv = Record<Exclude<keyof typeof SAMBA_ENV, "unavailable" | "startError">, string>;

export interface SambaHandle {
  env: Record<string, string>;
  stop(): Promise<void>;
}

const REALM = "WRITEBACK.TEST";
const DOMAIN = "writeback.test";
const BASE_DN = "DC=writeback,DC=test";
const HOST = "dc1";
const LOCK_FILE = join(tmpdir(), "writeback-samba-ad.lock");
/** More than AD's and Samba's MaxPageSize (1000): only a paged search sees them all. */
const BULK_USERS = 1010;

// Rights the README asks for, inherited by user objects under the managed OU.
const USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2";
const RESET_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529";
const CHANGE_PASSWORD = "ab721a53-1e2f-11d0-9819-00aa0040529b";
const LOCKOUT_TIME = "28630ebf-41d5-11d1-a9c1-0000f80367c1";
const PWD_LAST_SET = "bf967a0a-0de6-11d0-a285-00aa003049e2";

function onPath(command: string): boolean {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}

/** Why a Samba AD DC cannot be started here, or undefined when it can. */
export function sambaUnavailableReason(): string | undefined {
  if (!onPath("samba-tool")) return "samba-tool is not installed (apt-get install --no-install-recommends samba samba-dsdb-modules samba-ad-provision samba-vfs-modules)";
  if (!onPath("samba")) return "the samba daemon is not installed";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "Samba AD needs root (ports 389/636)";
  return undefined;
}

export const strongPassword = (): string => `Wb-${randomBytes(9).toString("base64url")}-9a`;
export const unicodePwd = (password: string): Buffer => Buffer.from(`"${password}"`, "utf16le");

function run(command: string, args: string[]): void {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${command} ${args[0] ?? ""} ${args[1] ?? ""} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).slice(-800)}`);
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

/** One Samba per machine: waits for another run's instance; takes over the lock of a dead run (stopping its leftover Samba). */
async function acquireLock(waitMs: number): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(LOCK_FILE, "wx");
      writeFileSync(fd, JSON.stringify({ runner: process.pid }));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(LOCK_FILE);
        } catch {
          // already gone
        }
      };
    } catch {
      let holder: { runner?: number; samba?: number } = {};
      try {
        holder = JSON.parse(readFileSync(LOCK_FILE, "utf8")) as typeof holder;
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
        rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error("another test run holds the Samba AD instance (ports 389/636)");
      await sleep(500);
    }
  }
}

async function adminClient(ca: Buffer, adminPassword: string): Promise<Client> {
  const c = new Client({ url: "ldaps://127.0.0.1:636", tlsOptions: { ca, servername: `${HOST}.${DOMAIN}` }, timeout: 30_000, connectTimeout: 5_000 });
  try {
    await c.bind(`CN=Administrator,CN=Users,${BASE_DN}`, adminPassword);
    return c;
  } catch (e) {
    await c.unbind().catch(() => {});
    throw e;
  }
}

function sidText(b: Buffer): string {
  const subs: number[] = [];
  for (let i = 0; i < (b[1] ?? 0); i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-${b[0] ?? 1}-${b.readUIntBE(2, 6)}-${subs.join("-")}`;
}

export async function addUser(c: Client, dn: string, sam: string, password: string | undefined, extra: Record<string, string> = {}): Promise<void> {
  const attributes = [
    new Attribute({ type: "objectClass", values: ["top", "person", "organizationalPerson", "user"] }),
    new Attribute({ type: "sAMAccountName", values: [sam] }),
    new Attribute({ type: "userPrincipalName", values: [`${sam}@${DOMAIN}`] }),
    ...(password === undefined ? [] : [new Attribute({ type: "unicodePwd", values: [unicodePwd(password)] }), new Attribute({ type: "userAccountControl", values: ["512"] })]),
    ...Object.entries(extra).map(([type, value]) => new Attribute({ type, values: [value] })),
  ];
  await c.add(dn, attributes);
}

/** Provisions, starts and populates a Samba AD DC. Throws when it cannot (the caller decides to skip or fail). */
export async function startSambaAd(o: { lockWaitMs?: number; log?: (line: string) => void } = {}): Promise<SambaHandle> {
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
  const stop = async () => {
    process.removeListener("exit", killGroup);
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child!.once("exit", () => r()));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(killGroup, 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    release();
  };
  try {
    if (await portOpen(636)) throw new Error("port 636 is already in use by another process");
    const started = Date.now();
    const adminPassword = strongPassword();
    const emptyConf = join(dir, "empty.conf");
    writeFileSync(emptyConf, "");
    for (const d of ["pid", "ncalrpc", "winbindd"]) mkdirSync(join(dir, d));
    run("samba-tool", [
      "domain", "provision", "-s", emptyConf,
      "--server-role=dc", "--dns-backend=NONE", `--realm=${REALM}`, "--domain=WRITEBACK", `--host-name=${HOST}`,
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
    run("samba-tool", ["domain", "passwordsettings", "set", "-s", conf, "--min-pwd-age=0", "--complexity=on", "--history-length=3", "--min-pwd-length=7", "--account-lockout-threshold=3", "--account-lockout-duration=30", "--reset-account-lockout-after=30"]);
    const provisioned = Date.now();

    const out = openSync(join(dir, "samba.out"), "a");
    child = spawn("samba", ["-s", conf, "-F"], { stdio: ["ignore", out, out], detached: true });
    closeSync(out);
    writeFileSync(LOCK_FILE, JSON.stringify({ runner: process.pid, samba: child.pid }));
    const ca = join(dir, "private", "tls", "ca.pem");
    let admin: Client | undefined;
    const deadline = Date.now() + 60_000;
    while (admin === undefined) {
      if (child.exitCode !== null) throw new Error(`samba exited (${child.exitCode}): ${readFileSync(join(dir, "samba.out"), "utf8").slice(-800)}`);
      if (existsSync(ca) && (await portOpen(636))) admin = await adminClient(readFileSync(ca), adminPassword).catch(() => undefined);
      if (admin === undefined) {
        if (Date.now() > deadline) throw new Error("samba did not serve LDAPS within 60 s");
        await sleep(200);
      }
    }
    const serving = Date.now();

    const usersOu = `OU=Writeback,${BASE_DN}`;
    const bulkOu = `OU=Bulk,${BASE_DN}`;
    const bindDn = `CN=svc-writeback,CN=Users,${BASE_DN}`;
    const plainDn = `CN=wb-plain,CN=Users,${BASE_DN}`;
    const bindPassword = strongPassword();
    const plainPassword = strongPassword();
    try {
      await admin.add(usersOu, { objectClass: ["top", "organizationalUnit"] });
      await admin.add(bulkOu, { objectClass: ["top", "organizationalUnit"] });
      await addUser(admin, bindDn, "svc-writeback", bindPassword);
      await addUser(admin, plainDn, "wb-plain", plainPassword);
      const sid = sidText((await admin.search(bindDn, { scope: "base", attributes: ["objectSid"], explicitBufferAttributes: ["objectSid"] })).searchEntries[0]!.objectSid as Buffer);
      const aces = [`(OA;CIIO;CR;${RESET_PASSWORD};${USER_CLASS};${sid})`, `(OA;CIIO;CR;${CHANGE_PASSWORD};${USER_CLASS};${sid})`, `(OA;CIIO;WP;${LOCKOUT_TIME};${USER_CLASS};${sid})`, `(OA;CIIO;WP;${PWD_LAST_SET};${USER_CLASS};${sid})`];
      run("samba-tool", ["dsacl", "set", "-s", conf, "-H", join(dir, "private", "sam.ldb"), `--objectdn=${usersOu}`, `--sddl=${aces.join("")}`, "--action=allow"]);
      // Bulk users without passwords (cheap: ~4 ms each), over a few parallel sessions.
      const extra = await Promise.all([0, 1, 2].map(() => adminClient(readFileSync(ca), adminPassword)));
      let next = 0;
      await Promise.all(
        [admin, ...extra].flatMap((c) =>
          [0, 1].map(async () => {
            for (let i = next++; i < BULK_USERS; i = next++) await addUser(c, `CN=bulk${i},${bulkOu}`, `bulk${i}`, undefined);
          }),
        ),
      );
      await Promise.all(extra.map((c) => c.unbind()));
    } finally {
      await admin.unbind().catch(() => {});
    }
    log(`Samba AD DC ${DOMAIN} on ldaps://127.0.0.1:636: provisioned in ${provisioned - started} ms, serving after ${serving - provisioned} ms, fixtures (${BULK_USERS} bulk users) in ${Date.now() - serving} ms`);
    const env: SambaEnv = {
      url: "ldaps://127.0.0.1:636",
      caFile: ca,
      servername: `${HOST}.${DOMAIN}`,
      domain: DOMAIN,
      baseDn: BASE_DN,
      adminDn: `CN=Administrator,CN=Users,${BASE_DN}`,
      adminPassword,
      bindDn,
      bindPassword,
      plainDn,
      plainPassword,
      usersOu,
      bulkOu,
      bulkUsers: String(BULK_USERS),
    };
    return { env: Object.fromEntries(Object.entries(env).map(([k, v]) => [SAMBA_ENV[k as keyof SambaEnv], v])), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The running instance's settings from the environment (set by samba.global.ts), if any. */
export function sambaEnvFrom(env: NodeJS.ProcessEnv): SambaEnv | undefined {
  const out: Partial<SambaEnv> = {};
  for (const [k, name] of Object.entries(SAMBA_ENV)) {
    if (k === "unavailable" || k === "startError") continue;
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    out[k as keyof SambaEnv] = v;
  }
  return out as SambaEnv;
}
