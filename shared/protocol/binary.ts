type Field = { kind: "uint"; value: number; width: 1 | 2 | 4 | 6 } | { kind: "bytes"; value: Uint8Array };

/**
 * A tiny length-prefixed binary codec: the envelope must stay under 1 KiB, so no JSON.
 *
 * Fields are written into one buffer of the exact size at `toBuffer()`: the writer keeps
 * references, not copies, so a password written into it exists only in the caller's buffer
 * and in the output, which the caller zeroes. (Do not change a referenced buffer before
 * `toBuffer()`.)
 */
export class BinaryWriter {
  private readonly fields: Field[] = [];
  private length = 0;

  private uint(value: number, width: 1 | 2 | 4 | 6): this {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * width)) throw new RangeError(`value out of range for ${width} bytes`);
    this.fields.push({ kind: "uint", value, width });
    this.length += width;
    return this;
  }
  u8(value: number): this {
    return this.uint(value, 1);
  }
  u16(value: number): this {
    return this.uint(value, 2);
  }
  u32(value: number): this {
    return this.uint(value, 4);
  }
  /** Milliseconds since the epoch; 48 bits last until the year 10889. */
  time(value: Date): this {
    return this.uint(value.getTime(), 6);
  }
  raw(bytes: Uint8Array): this {
    this.fields.push({ kind: "bytes", value: bytes });
    this.length += bytes.length;
    return this;
  }
  bytes8(bytes: Uint8Array): this {
    if (bytes.length > 0xff) throw new RangeError("field longer than 255 bytes");
    return this.u8(bytes.length).raw(bytes);
  }
  bytes16(bytes: Uint8Array): this {
    if (bytes.length > 0xffff) throw new RangeError("field longer than 65535 bytes");
    return this.u16(bytes.length).raw(bytes);
  }
  text8(value: string): this {
    return this.bytes8(Buffer.from(value, "utf8"));
  }
  toBuffer(): Buffer {
    const out = Buffer.alloc(this.length);
    let at = 0;
    for (const f of this.fields) {
      if (f.kind === "bytes") {
        out.set(f.value, at);
        at += f.value.length;
      } else {
        out.writeUIntBE(f.value, at, f.width);
        at += f.width;
      }
    }
    return out;
  }
}

export class TruncatedError extends Error {
  override readonly name = "TruncatedError";
}

export class BinaryReader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  private take(length: number): Buffer {
    if (this.offset + length > this.buffer.length) throw new TruncatedError("message truncated");
    const slice = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }
  private uint(width: 1 | 2 | 4 | 6): number {
    if (this.offset + width > this.buffer.length) throw new TruncatedError("message truncated");
    const value = this.buffer.readUIntBE(this.offset, width);
    this.offset += width;
    return value;
  }
  u8(): number {
    return this.uint(1);
  }
  u16(): number {
    return this.uint(2);
  }
  u32(): number {
    return this.uint(4);
  }
  time(): Date {
    return new Date(this.uint(6));
  }
  raw(length: number): Buffer {
    return this.take(length);
  }
  bytes8(): Buffer {
    return this.take(this.u8());
  }
  bytes16(): Buffer {
    return this.take(this.u16());
  }
  text8(): string {
    return this.bytes8().toString("utf8");
  }
  get position(): number {
    return this.offset;
  }
  rest(): Buffer {
    return this.take(this.buffer.length - this.offset);
  }
  expectEnd(): void {
    if (this.offset !== this.buffer.length) throw new TruncatedError("trailing bytes");
  }
}
