import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "vitest";
import { MemoryTenantKeyRing } from "../../../shared/adapters/memory/memory-tenant-key-ring.js";
import { CachedTenantKeyRing } from "../../../shared/keys/cached-tenant-key-ring.js";

test("the key cache is bounded: past maxEntries the oldest entries go, and an evicted tenant is read again", async () => {
  const inner = new MemoryTenantKeyRing();
  const ring = new CachedTenantKeyRing(inner, { ttlMs: 60_000, maxEntries: 50 });
  const tenants = Array.from({ length: 200 }, () => randomUUID());
  for (const t of tenants) {
    await ring.createKey(t, new Date());
    await ring.markAcknowledged(t, 1, new Date());
  }
  for (const t of tenants) {
    await ring.currentKey(t);
    await ring.agentPublicKey(t);
    assert.ok(ring.size() <= 50, `${ring.size()} entries`);
  }
  assert.equal(ring.size(), 50);
  const before = inner.reads;
  await ring.currentKey(tenants[199] as string);
  assert.equal(inner.reads - before, 0, "the newest are kept");
  assert.equal((await ring.currentKey(tenants[0] as string))?.version, 1);
  assert.equal(inner.reads - before, 1, "the oldest was evicted and is read again");
});
