import { transcode } from "node:buffer";

/**
 * A password as Unicode code points in a zeroable array. The policy checks work on this
 * instead of a JS string, which could never be wiped from memory.
 */
export class PasswordText {
  private constructor(
    /** UTF-16LE bytes: what AD hashes and what its length rule counts (UTF-16 code units). */
    readonly utf16le: Buffer,
    readonly codePoints: Uint32Array,
  ) {}

  static fromUtf8(password: Uint8Array): PasswordText {
    const utf16le = transcode(Buffer.from(password.buffer, password.byteOffset, password.byteLength), "utf8", "utf16le");
    const units = utf16le.length / 2;
    const points = new Uint32Array(units);
    let n = 0;
    for (let i = 0; i < units; i++) {
      const unit = utf16le.readUInt16LE(i * 2);
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < units) {
        const low = utf16le.readUInt16LE((i + 1) * 2);
        if (low >= 0xdc00 && low <= 0xdfff) {
          points[n++] = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
          i++;
          continue;
        }
      }
      points[n++] = unit;
    }
    return new PasswordText(utf16le, points.subarray(0, n));
  }

  /** Length as AD counts it: UTF-16 code units. */
  get length(): number {
    return this.utf16le.length / 2;
  }

  wipe(): void {
    this.utf16le.fill(0);
    this.codePoints.fill(0);
  }
}

/** Simple case folding of one code point (ASCII fast path); single-character strings only. */
export function foldCase(cp: number): number {
  if (cp >= 0x41 && cp <= 0x5a) return cp + 0x20;
  if (cp < 0x80) return cp;
  return String.fromCodePoint(cp).toLowerCase().codePointAt(0) ?? cp;
}
