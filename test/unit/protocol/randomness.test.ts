import assert from "node:assert/strict";
import { test } from "vitest";
import { AES_KEY_BYTES, GCM_IV_BYTES, randomIv, randomKey } from "../../../shared/protocol/primitives.js";

test("keys and IVs from the pooled CSPRNG are the right size, never repeat and share no memory", () => {
  const seen = new Set<string>();
  const all: Buffer[] = [];
  // 3,000 of each crosses the 4 KiB pool boundary many times, at odd offsets.
  for (let i = 0; i < 3000; i++) {
    const key = randomKey();
    const iv = randomIv();
    assert.equal(key.length, AES_KEY_BYTES);
    assert.equal(iv.length, GCM_IV_BYTES);
    for (const b of [key, iv]) {
      const hex = b.toString("hex");
      assert.ok(!seen.has(hex), "a value came out twice");
      seen.add(hex);
      all.push(b);
    }
  }
  // Each value owns its bytes: wiping one (as callers do with keys) changes no other.
  const before = all.map((b) => b.toString("hex"));
  all[0]?.fill(0);
  all[1]?.fill(0);
  assert.deepEqual(all.slice(2).map((b) => b.toString("hex")), before.slice(2));
  // Not all zero: the pool is wiped behind the cursor, never ahead of it.
  assert.ok(all.slice(2).every((b) => b.some((x) => x !== 0)));
});
