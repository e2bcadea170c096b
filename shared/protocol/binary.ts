/** A tiny length-prefixed binary codec: the envelope must stay under 1 KiB, so no JSON. */
export class BinaryWriter {
  private readonly chunks: Buffer[] = [];

  u8(value: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(value);
    this.chunks.push(b);
    return this;
  }
  u16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    this.chunks.push(b);
    return this;
  }
  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.chunks.push(b);
    return this;
  }
  /** Milliseconds since the epoch; 48 bits last until the year 10889. */
  time(value: Date): this {
    const b = Buffer.alloc(6);
    b.writeUIntBE(value.getTime(), 0, 6);
    this.chunks.push(b);
    return this;
  }
  raw(bytes: Uint8Array): this {
    this.chunks.push(Buffer.from(bytes));
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
    return Buffer.concat(this.chunks);
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
  u8(): number {
    return this.take(1).readUInt8(0);
  }
  u16(): number {
    return this.take(2).readUInt16BE(0);
  }
  u32(): number {
    return this.take(4).readUInt32BE(0);
  }
  time(): Date {
    return new Date(this.take(6).readUIntBE(0, 6));
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
