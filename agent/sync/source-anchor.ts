import { isUuid } from "../../shared/protocol/ids.js";
import type { DirectoryUserEntry } from "./directory-source.port.js";

/**
 * objectGUID's 16 bytes as AD stores them: the first three fields little-endian
 * ("b5e0e4ac-1c2d-…" is stored as ac e4 e0 b5 2d 1c …), as Windows' GUID structure.
 */
export function guidToAdBytes(guid: string): Buffer {
  if (!isUuid(guid)) throw new RangeError("not a GUID");
  const hex = Buffer.from(guid.replace(/-/g, ""), "hex");
  const out = Buffer.from(hex);
  out.writeUInt32LE(hex.readUInt32BE(0), 0);
  out.writeUInt16LE(hex.readUInt16BE(4), 4);
  out.writeUInt16LE(hex.readUInt16BE(6), 6);
  return out;
}

export function adBytesToGuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError("a GUID has 16 bytes");
  const b = Buffer.from(bytes);
  const be = Buffer.from(b);
  be.writeUInt32BE(b.readUInt32LE(0), 0);
  be.writeUInt16BE(b.readUInt16LE(4), 4);
  be.writeUInt16BE(b.readUInt16LE(6), 6);
  const hex = be.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Entra Connect's sourceAnchor: base64 of ms-DS-ConsistencyGuid when set, else of the
 * objectGUID bytes as stored in AD (which is what Connect copies into ms-DS-ConsistencyGuid).
 */
export function sourceAnchorOf(user: Pick<DirectoryUserEntry, "objectGuid" | "msDsConsistencyGuid">): string {
  const bytes = user.msDsConsistencyGuid !== undefined && user.msDsConsistencyGuid.length > 0 ? Buffer.from(user.msDsConsistencyGuid) : guidToAdBytes(user.objectGuid);
  return bytes.toString("base64");
}
