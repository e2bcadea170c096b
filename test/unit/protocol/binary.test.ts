import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { BinaryReader, BinaryWriter, TruncatedError } from "../../../shared/protocol/binary.js";

describe("BinaryWriter / BinaryReader", () => {
  test("fields round-trip, big-endian and length-prefixed, in one buffer of the exact size", () => {
    const when = new Date(Date.UTC(2026, 11, 1, 3, 21, 57, 123));
    const out = new BinaryWriter().u8(7).u16(0x1234).u32(0xdeadbeef).time(when).bytes8(Buffer.from("ab")).bytes16(Buffer.from("xyz")).text8("é").raw(Buffer.from([9])).toBuffer();
    assert.equal(out.toString("hex"), "07" + "1234" + "deadbeef" + when.getTime().toString(16).padStart(12, "0") + "02" + "6162" + "0003" + "78797a" + "02" + "c3a9" + "09");
    const r = new BinaryReader(out);
    assert.deepEqual([r.u8(), r.u16(), r.u32(), r.time().getTime(), r.bytes8().toString(), r.bytes16().toString(), r.text8(), r.raw(1)[0]], [7, 0x1234, 0xdeadbeef, when.getTime(), "ab", "xyz", "é", 9]);
    r.expectEnd();
  });

  test("a secret written into it is not copied anywhere but the output (which the caller zeroes)", () => {
    // The writer keeps a reference until toBuffer(): what the output holds is the caller's
    // buffer at that moment, so no intermediate copy of a password is left on the heap.
    const secret = Buffer.from("Pa55word!");
    const w = new BinaryWriter().bytes16(secret);
    secret.fill(0x2a);
    assert.equal(w.toBuffer().subarray(2).toString(), "*".repeat(9));
  });

  test("values that do not fit are refused, and a short buffer reads as truncated", () => {
    assert.throws(() => new BinaryWriter().u8(256), RangeError);
    assert.throws(() => new BinaryWriter().u16(-1), RangeError);
    assert.throws(() => new BinaryWriter().bytes8(Buffer.alloc(256)), RangeError);
    assert.throws(() => new BinaryWriter().time(new Date(Number.NaN)), RangeError);
    assert.throws(() => new BinaryReader(Buffer.from([0x00])).u16(), TruncatedError);
    assert.throws(() => new BinaryReader(Buffer.from([0x05, 0x61])).bytes8(), TruncatedError);
    assert.throws(() => new BinaryReader(Buffer.from([1, 2])).expectEnd(), TruncatedError);
  });
});
