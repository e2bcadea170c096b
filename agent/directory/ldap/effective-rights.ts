import { adBytesToGuid } from "../../sync/source-anchor.js";

/**
 * Windows security descriptors (self-relative, as nTSecurityDescriptor is read with the SD
 * flags control asking for the DACL only) and the access check the agent's writes need:
 * which of its rights the service account's token holds on a user, or on users created in an OU.
 */

export interface Ace {
  allow: boolean;
  /** AceFlags: OBJECT_INHERIT 0x1, CONTAINER_INHERIT 0x2, NO_PROPAGATE 0x4, INHERIT_ONLY 0x8, INHERITED 0x10. */
  flags: number;
  mask: number;
  objectType?: string | undefined;
  inheritedObjectType?: string | undefined;
  sid: string;
}

const CONTAINER_INHERIT = 0x2;
const INHERIT_ONLY = 0x8;

export const RIGHT = {
  controlAccess: 0x100,
  writeProperty: 0x20,
  genericAll: 0x10000000,
  genericWrite: 0x40000000,
} as const;

/** Reset Password (User-Force-Change-Password) and Change Password (User-Change-Password) extended rights. */
export const RESET_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529";
export const CHANGE_PASSWORD = "ab721a53-1e2f-11d0-9819-00aa0040529b";
export const USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2";

/** S-1-<authority>-<sub>… from its binary form. */
export function sidToString(b: Buffer, at = 0): string {
  const count = b[at + 1] ?? 0;
  const authority = b.readUIntBE(at + 2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(b.readUInt32LE(at + 8 + 4 * i));
  return `S-${b[at]}-${authority}${subs.map((s) => `-${s}`).join("")}`;
}

function sidLength(b: Buffer, at: number): number {
  return 8 + 4 * (b[at + 1] ?? 0);
}

/** The DACL's ACEs in order (a descriptor without a DACL yields none: nothing is granted by this check). */
export function parseDacl(sd: Buffer): Ace[] {
  if (sd.length < 20) throw new RangeError("security descriptor too short");
  const daclOffset = sd.readUInt32LE(16);
  if (daclOffset === 0) return [];
  const count = sd.readUInt16LE(daclOffset + 4);
  const aces: Ace[] = [];
  let at = daclOffset + 8;
  for (let i = 0; i < count; i++) {
    const type = sd[at]!;
    const flags = sd[at + 1]!;
    const size = sd.readUInt16LE(at + 2);
    const mask = sd.readUInt32LE(at + 4);
    if (type === 0 || type === 1) {
      aces.push({ allow: type === 0, flags, mask, sid: sidToString(sd, at + 8) });
    } else if (type === 5 || type === 6) {
      const objectFlags = sd.readUInt32LE(at + 8);
      let p = at + 12;
      let objectType: string | undefined;
      let inheritedObjectType: string | undefined;
      if ((objectFlags & 1) !== 0) {
        objectType = adBytesToGuid(sd.subarray(p, p + 16));
        p += 16;
      }
      if ((objectFlags & 2) !== 0) {
        inheritedObjectType = adBytesToGuid(sd.subarray(p, p + 16));
        p += 16;
      }
      if (p + sidLength(sd, p) <= at + size) aces.push({ allow: type === 5, flags, mask, objectType, inheritedObjectType, sid: sidToString(sd, p) });
    }
    // Other ACE types (audit, callback) grant nothing here.
    at += size;
  }
  return aces;
}

export interface RightWanted {
  /** RIGHT.controlAccess with an extended right's GUID, or RIGHT.writeProperty with attribute / property-set GUIDs. */
  access: number;
  /** Any of these object types satisfies it (an attribute and its property set); an ACE without one covers them all. */
  objectTypes: readonly string[];
}

/**
 * The access check for one right: ACEs in DACL order (explicit deny, explicit allow, then
 * inherited ones, as AD orders them), the first that applies to a SID of the token decides.
 * `on`: "object" for the ACEs that apply to the object itself; "childUser" for those a user
 * object created in this container would inherit.
 */
export function holdsRight(aces: readonly Ace[], token: ReadonlySet<string>, wanted: RightWanted, on: "object" | "childUser"): boolean {
  const generic = wanted.access === RIGHT.writeProperty ? RIGHT.genericAll | RIGHT.genericWrite : RIGHT.genericAll;
  for (const ace of aces) {
    if (!token.has(ace.sid)) continue;
    if (on === "object" && (ace.flags & INHERIT_ONLY) !== 0) continue;
    if (on === "childUser") {
      if ((ace.flags & CONTAINER_INHERIT) === 0) continue;
      if (ace.inheritedObjectType !== undefined && ace.inheritedObjectType !== USER_CLASS) continue;
    }
    const covers = (ace.mask & generic) !== 0 || ((ace.mask & wanted.access) !== 0 && (ace.objectType === undefined || wanted.objectTypes.includes(ace.objectType)));
    if (covers) return ace.allow;
  }
  return false;
}
