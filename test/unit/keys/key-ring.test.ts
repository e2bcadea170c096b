import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "vitest";
import { MemoryTenantKeyRing } from "../../../shared/adapters/memory/memory-tenant-key-ring.js";
import { CachedTenantKeyRing } from "../../../shared/keys/cached-tenant-key-ring.js";
import { addMonths } from "../../../shared/domain/key-rotation.js";
import { keyRingContract } from "../../support/contracts/key-ring.contract.js";

keyRingContract("memory", async () => new MemoryTenantKeyRing());
keyRingContract("cached over memory", async () => new CachedTenantKeyRing(new MemoryTenantKeyRing()));

test("the cache keeps reads flat: 1,000 lookups, one read; a write invalidates", async () => {
  const inner = new MemoryTenantKeyRing();
  const ring = new CachedTenantKeyRing(inner, { ttlMs: 60_000 });
  const tenantId = randomUUID();
  await ring.createKey(tenantId, new Date());
  await ring.markAcknowledged(tenantId, 1, new Date());
  const before = inner.reads;
  await Promise.all(Array.from({ length: 1000 }, () => ring.currentKey(tenantId)));
  assert.equal(inner.reads - before, 1);
  await ring.createKey(tenantId, new Date());
  await ring.currentKey(tenantId);
  assert.equal(inner.reads - before, 2);
});

test("six calendar months, clamped to the month's end", () => {
  assert.equal(addMonths(new Date("2026-01-15T10:00:00Z"), 6).toISOString(), "2026-07-15T10:00:00.000Z");
  assert.equal(addMonths(new Date("2026-08-31T00:00:00Z"), 6).toISOString(), "2027-02-28T00:00:00.000Z");
});
