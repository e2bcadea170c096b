/**
 * Membership in AD's protected groups, read from the account's tokenGroups (every group it is in,
 * directly or nested, and its primary group, as the PDC computes them now). adminCount=1 is only
 * stamped by SDProp up to an hour after someone is added to such a group; tokenGroups is current.
 *
 * Protected (AdminSDHolder, Windows Server 2012 and later): Account Operators, Administrators,
 * Backup Operators, Print Operators, Replicator, Server Operators (builtin), and in any domain
 * of the forest Domain Admins, Domain Controllers, Schema Admins, Enterprise Admins, Read-only
 * Domain Controllers, Key Admins, Enterprise Key Admins; the Administrator and krbtgt accounts.
 */
const BUILTIN_PROTECTED = new Map([
  ["S-1-5-32-544", "Administrators"],
  ["S-1-5-32-548", "Account Operators"],
  ["S-1-5-32-549", "Server Operators"],
  ["S-1-5-32-550", "Print Operators"],
  ["S-1-5-32-551", "Backup Operators"],
  ["S-1-5-32-552", "Replicator"],
]);
/** Well-known relative ids, the same in every domain: a member of another domain's Domain Admins is refused too. */
const DOMAIN_PROTECTED_RIDS = new Map([
  [512, "Domain Admins"],
  [516, "Domain Controllers"],
  [518, "Schema Admins"],
  [519, "Enterprise Admins"],
  [521, "Read-only Domain Controllers"],
  [526, "Key Admins"],
  [527, "Enterprise Key Admins"],
]);
const PROTECTED_ACCOUNT_RIDS = new Map([
  [500, "Administrator"],
  [502, "krbtgt"],
]);

/** The S-1-… text of a binary SID; undefined when the bytes are not one. */
export function sidText(bytes: Uint8Array): string | undefined {
  const b = Buffer.from(bytes);
  if (b.length < 8) return undefined;
  const count = b[1] ?? 0;
  if (b[0] !== 1 || b.length !== 8 + 4 * count) return undefined;
  const authority = b.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-1-${authority}${subs.map((s) => `-${s}`).join("")}`;
}

function domainRid(sid: string): number | undefined {
  // A domain SID is S-1-5-21-a-b-c; its accounts and groups add one relative id.
  const m = /^S-1-5-21-\d+-\d+-\d+-(\d+)$/.exec(sid);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Why the account is protected, or undefined: its own SID and its tokenGroups (binary SIDs). */
export function protectedBy(accountSid: Uint8Array | undefined, tokenGroups: readonly Uint8Array[]): string | undefined {
  const own = accountSid === undefined ? undefined : sidText(accountSid);
  const ownRid = own === undefined ? undefined : domainRid(own);
  if (ownRid !== undefined && PROTECTED_ACCOUNT_RIDS.has(ownRid)) return `the ${PROTECTED_ACCOUNT_RIDS.get(ownRid)} account`;
  for (const group of tokenGroups) {
    const sid = sidText(group);
    if (sid === undefined) continue;
    const builtin = BUILTIN_PROTECTED.get(sid);
    if (builtin !== undefined) return `member of ${builtin}`;
    const rid = domainRid(sid);
    if (rid !== undefined && DOMAIN_PROTECTED_RIDS.has(rid)) return `member of ${DOMAIN_PROTECTED_RIDS.get(rid)}`;
  }
  return undefined;
}
