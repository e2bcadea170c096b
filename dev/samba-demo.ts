/**
 * The local stack's `--directory samba`: the demo users in a Samba AD DC (one this module
 * provisions, or a running one handed in, such as the test run's), their objectGUIDs read back
 * for the agent's sync store, and the agent's `"kind": "ldap"` directory settings.
 */
import { copyFileSync } from "node:fs";
import { Attribute, Change, type Client, EqualityFilter, OrFilter } from "ldapts";
import { adBytesToGuid } from "../agent/sync/source-anchor.js";
import { DEMO_INITIAL_PASSWORD, type DemoAdAccount, type DemoUser } from "./demo-tenant.js";
import { addUser, sambaBind, sambaClient, sambaUnavailableReason, startSambaDc, type SambaDc } from "./samba-dc.js";

export interface SambaDemoDirectory {
  dc: SambaDc;
  /** True when this module provisioned the DC (and `stop()` stops it). */
  own: boolean;
  /** The demo users' AD accounts, by sAMAccountName (cloud-only users have none). */
  accounts: ReadonlyMap<string, DemoAdAccount>;
  /**
   * The agent configuration's `directory` section (the DC's CA copied to `caFile`) and the
   * environment variable carrying the bind password, for the agent process only.
   */
  agentDirectory(caFile: string): { config: { kind: "ldap"; domains: { domain: string; urls: string[]; bindDn: string; caFile: string; servername: string; timeoutMs: number }[] }; env: Record<string, string> };
  /** Stops the DC this module started; on a DC handed in, removes the demo users instead. */
  stop(): Promise<void>;
}

/** `WRITEBACK_AGENT_BIND_PASSWORD_<DOMAIN>`, as agent/config/agent-config.ts reads it. */
export function bindPasswordEnvName(domain: string): string {
  return `WRITEBACK_AGENT_BIND_PASSWORD_${domain.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

const SESSIONS = 4;

/** Replaces leftovers of an earlier stack on the same DC (same sAMAccountName or UPN). */
async function removeExisting(admin: Client, dc: SambaDc, u: DemoUser): Promise<void> {
  const filter = new OrFilter({ filters: [new EqualityFilter({ attribute: "sAMAccountName", value: u.sAMAccountName }), new EqualityFilter({ attribute: "userPrincipalName", value: u.userPrincipalName })] });
  const found = await admin.search(dc.baseDn, { scope: "sub", filter, attributes: ["distinguishedName"] });
  for (const e of found.searchEntries) await admin.del(e.dn);
}

/** Locks the account the way users do: bad passwords until the DC says 775 (threshold 3 here). */
async function lockOut(dc: SambaDc, dn: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const answer = await sambaBind(dc, dn, "Not-The-Password-0");
    if (answer === "775") return;
    if (answer !== "52e") throw new Error(`locking ${dn} out: unexpected bind answer ${answer}`);
  }
  throw new Error(`${dn} was not locked out after 20 bad passwords (is account lockout off?)`);
}

async function createUser(admin: Client, dc: SambaDc, u: DemoUser): Promise<DemoAdAccount> {
  await removeExisting(admin, dc, u);
  const dn = `CN=${u.displayName},${dc.usersOu}`;
  await addUser(admin, dn, u.sAMAccountName, DEMO_INITIAL_PASSWORD, {
    userPrincipalName: u.userPrincipalName,
    displayName: u.displayName,
    ...(u.adminCount === undefined ? {} : { adminCount: String(u.adminCount) }),
  });
  // 0x200 normal account + 0x10000 password never expires (as the embedded seed), + 0x2 disabled.
  const uac = 0x200 | 0x10000 | (u.disabled === true ? 0x2 : 0);
  await admin.modify(dn, new Change({ operation: "replace", modification: new Attribute({ type: "userAccountControl", values: [String(uac)] }) }));
  if (u.locked === true) await lockOut(dc, dn);
  const entry = (await admin.search(dn, { scope: "base", attributes: ["objectGUID"], explicitBufferAttributes: ["objectGUID"] })).searchEntries[0];
  const guid = entry?.objectGUID;
  if (!Buffer.isBuffer(guid)) throw new Error(`no objectGUID for ${dn}`);
  return { objectGuid: adBytesToGuid(guid), distinguishedName: dn };
}

/**
 * Creates the demo users (cloud-only ones excepted) with the demo initial password, the locked
 * one locked out, the disabled one disabled and the protected one with adminCount=1, in the
 * service account's OU. Provisions a DC first unless `dc` names a running one.
 */
export async function startSambaDemoDirectory(o: { users: readonly DemoUser[]; dc?: SambaDc; lockWaitMs?: number; log?: (line: string) => void }): Promise<SambaDemoDirectory> {
  let ownStop: (() => Promise<void>) | undefined;
  let dc: SambaDc;
  if (o.dc !== undefined) dc = o.dc;
  else {
    const reason = sambaUnavailableReason();
    if (reason !== undefined) throw new Error(`the Samba directory needs a local Samba AD DC, which cannot run here: ${reason}`);
    const started = await startSambaDc({ ...(o.lockWaitMs === undefined ? {} : { lockWaitMs: o.lockWaitMs }), ...(o.log === undefined ? {} : { log: o.log }) });
    dc = started.dc;
    ownStop = started.stop;
  }
  const accounts = new Map<string, DemoAdAccount>();
  const users = o.users.filter((u) => u.authType !== "cloudOnly");
  const removeUsers = async () => {
    const admin = await sambaClient(dc, dc.adminDn, dc.adminPassword);
    try {
      for (const a of accounts.values()) await admin.del(a.distinguishedName).catch(() => {});
    } finally {
      await admin.unbind().catch(() => {});
    }
  };
  try {
    const sessions = await Promise.all(Array.from({ length: Math.min(SESSIONS, Math.max(1, users.length)) }, () => sambaClient(dc, dc.adminDn, dc.adminPassword)));
    try {
      let next = 0;
      await Promise.all(
        sessions.map(async (admin) => {
          for (let i = next++; i < users.length; i = next++) {
            const u = users[i]!;
            accounts.set(u.sAMAccountName, await createUser(admin, dc, u));
          }
        }),
      );
    } finally {
      await Promise.all(sessions.map((s) => s.unbind().catch(() => {})));
    }
  } catch (e) {
    if (ownStop !== undefined) await ownStop();
    else await removeUsers().catch(() => {});
    throw e;
  }
  return {
    dc,
    own: ownStop !== undefined,
    accounts,
    agentDirectory(caFile) {
      copyFileSync(dc.caFile, caFile);
      return {
        config: { kind: "ldap", domains: [{ domain: dc.domain, urls: [dc.url], bindDn: dc.bindDn, caFile, servername: dc.servername, timeoutMs: 10_000 }] },
        env: { [bindPasswordEnvName(dc.domain)]: dc.bindPassword },
      };
    },
    stop: ownStop ?? removeUsers,
  };
}
