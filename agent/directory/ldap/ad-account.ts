import type { Entry } from "ldapts";
import { adBytesToGuid } from "../../sync/source-anchor.js";
import type { DirectoryUserEntry } from "../../sync/directory-source.port.js";
import type { AccountState } from "../directory.port.js";
import { protectedBy } from "./protected-groups.js";

/** What readAccount asks for. msDS-User-Account-Control-Computed is AD's own lockout verdict. */
export const ACCOUNT_ATTRIBUTES = ["objectGUID", "objectSid", "sAMAccountName", "userPrincipalName", "adminCount", "userAccountControl", "lockoutTime", "msDS-User-Account-Control-Computed"] as const;
export const LISTING_ATTRIBUTES = ["objectGUID", "mS-DS-ConsistencyGuid", "sAMAccountName", "userPrincipalName", "userAccountControl"] as const;
export const BINARY_ATTRIBUTES = ["objectGUID", "objectSid", "mS-DS-ConsistencyGuid", "tokenGroups"];

/** userAccountControl ACCOUNTDISABLE. */
const UF_ACCOUNTDISABLE = 0x2;
/** msDS-User-Account-Control-Computed UF_LOCKOUT. */
const UF_LOCKOUT = 0x10;

type EntryValue = Entry[string];

/** ldapts keys attributes by the server's spelling: look them up case-insensitively. */
function get(entry: Entry, name: string): EntryValue | undefined {
  const direct = entry[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(entry)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function first(v: EntryValue | undefined): string | Buffer | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function textOf(entry: Entry, name: string): string | undefined {
  const v = first(get(entry, name));
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : v.toString("utf8");
}

export function bytesOf(entry: Entry, name: string): Buffer | undefined {
  const v = first(get(entry, name));
  if (v === undefined) return undefined;
  return typeof v === "string" ? Buffer.from(v, "latin1") : v;
}

function numberOf(entry: Entry, name: string): number | undefined {
  const t = textOf(entry, name);
  if (t === undefined || !/^-?\d+$/.test(t.trim())) return undefined;
  return Number(t.trim());
}

export function guidOf(entry: Entry): string {
  const bytes = bytesOf(entry, "objectGUID");
  if (bytes === undefined || bytes.length !== 16) throw new RangeError("entry without a 16-byte objectGUID");
  return adBytesToGuid(bytes);
}

/** Every value of a binary attribute (tokenGroups is multi-valued). */
export function allBytesOf(entry: Entry, name: string): Buffer[] {
  const v = get(entry, name);
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (typeof x === "string" ? Buffer.from(x, "latin1") : x));
}

/** `groups`: the account's tokenGroups; a member of a protected group is protected before SDProp stamps adminCount. */
export function accountStateOf(entry: Entry, domain: string, groups: readonly Uint8Array[] = []): AccountState {
  const uac = numberOf(entry, "userAccountControl") ?? 0;
  const computed = numberOf(entry, "msDS-User-Account-Control-Computed");
  const lockoutTime = textOf(entry, "lockoutTime");
  // AD's computed flag knows whether the lockout duration has run out; lockoutTime alone does not.
  const lockedOut = computed !== undefined ? (computed & UF_LOCKOUT) !== 0 : lockoutTime !== undefined && /^[1-9]\d*$/.test(lockoutTime.trim());
  return {
    ref: { domain, distinguishedName: entry.dn, objectGuid: guidOf(entry) },
    sAMAccountName: textOf(entry, "sAMAccountName") ?? "",
    userPrincipalName: textOf(entry, "userPrincipalName"),
    protected: numberOf(entry, "adminCount") === 1 || protectedBy(bytesOf(entry, "objectSid"), groups) !== undefined,
    disabled: (uac & UF_ACCOUNTDISABLE) !== 0,
    lockedOut,
  };
}

export function userEntryOf(entry: Entry): DirectoryUserEntry {
  const consistency = bytesOf(entry, "mS-DS-ConsistencyGuid");
  return {
    objectGuid: guidOf(entry),
    msDsConsistencyGuid: consistency === undefined || consistency.length === 0 ? undefined : Uint8Array.from(consistency),
    distinguishedName: entry.dn,
    userPrincipalName: textOf(entry, "userPrincipalName"),
    sAMAccountName: textOf(entry, "sAMAccountName") ?? "",
    disabled: ((numberOf(entry, "userAccountControl") ?? 0) & UF_ACCOUNTDISABLE) !== 0,
  };
}
