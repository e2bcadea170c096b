import { transcode } from "node:buffer";

const QUOTE_UTF16LE = [0x22, 0x00] as const;

/**
 * AD's unicodePwd value: the password in double quotes, UTF-16LE. The caller owns the result
 * and zeroes it (`fill(0)`) when the LDAP request is sent; the intermediate copy is zeroed here.
 * The UTF-8 input is left untouched (its owner zeroes it).
 */
export function encodeUnicodePwd(utf8: Uint8Array): Buffer {
  const inner = transcode(Buffer.from(utf8.buffer, utf8.byteOffset, utf8.byteLength), "utf8", "utf16le");
  try {
    const out = Buffer.alloc(inner.length + 4);
    out[0] = QUOTE_UTF16LE[0];
    out[1] = QUOTE_UTF16LE[1];
    inner.copy(out, 2);
    out[out.length - 2] = QUOTE_UTF16LE[0];
    out[out.length - 1] = QUOTE_UTF16LE[1];
    return out;
  } finally {
    inner.fill(0);
  }
}

/** Runs `work` with the encoded values and zeroes them afterwards, whatever happens. */
export async function withUnicodePwds<T>(passwords: readonly Uint8Array[], work: (encoded: Buffer[]) => Promise<T>): Promise<T> {
  const encoded: Buffer[] = [];
  try {
    for (const p of passwords) encoded.push(encodeUnicodePwd(p));
    return await work(encoded);
  } finally {
    for (const e of encoded) e.fill(0);
  }
}
