import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "vitest";
import { MemoryTenantKeyRing } from "../../../shared/adapters/memory/memory-tenant-key-ring.js";
import { CachedTenantKeyRing } from "../../../shared/keys/cached-tenant-key-ring.js";
import { addMonths } from "../../../shared/domain/key-rotation.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { CONCURRENT_ROTATIONS, keyRingContract } from "../../support/contracts/key-ring.contract.js";
import { MemoryKeyVersionAllocator } from "../../../shared/adapters/memory/memory-key-version-allocator.js";
import type { KeyVersionAllocator } from "../../../shared/ports/key-version-allocator.port.js";

keyRingContract("memory", async () => new MemoryTenantKeyRing());
keyRingContract("cached over memory", async () => new CachedTenantKeyRing(new MemoryTenantKeyRing()));

test("the contract can fail: versions allocated by read-then-write (latest + 1) collide under concurrent rotations", async () => {
  const readThenWrite: KeyVersionAllocator = { next: async (_tenantId, _series, floor) => floor + 1 };
  const ring = new MemoryTenantKeyRing(readThenWrite);
  const tenantId = randomUUID();
  await ring.createKey(tenantId, new Date());
  const created = await Promise.all(Array.from({ length: CONCURRENT_ROTATIONS }, () => ring.createKey(tenantId, new Date())));
  assert.ok(new Set(created.map((k) => k.version)).size < CONCURRENT_ROTATIONS, "two keys under one version: what issue 17 reproduced on a vault");
});

test("the memory allocator retries on a moved etag, as the table one does", async () => {
  const allocator = new MemoryKeyVersionAllocator();
  const tenantId = randomUUID();
  const got = await Promise.all(Array.from({ length: 20 }, () => allocator.next(tenantId, "package", 3)));
  assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 4));
  assert.ok(allocator.conflicts > 0, "the callers interleaved");
  assert.equal(await allocator.next(tenantId, "signing", 0), 1, "series are separate");
});


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

test("unknown versions are cached as unknown for a while: 1,000 lookups of one, one read; a local write forgets it", async () => {
  let now = 1_000_000;
  const inner = new MemoryTenantKeyRing();
  const ring = new CachedTenantKeyRing(inner, { ttlMs: 60_000, negativeTtlMs: 10_000, now: () => now });
  const tenantId = randomUUID();
  const before = inner.reads;
  for (let i = 0; i < 1000; i++) assert.equal(await ring.keyVersion(tenantId, 42), undefined);
  assert.equal(inner.reads - before, 1);
  now += 10_001;
  await ring.keyVersion(tenantId, 42);
  assert.equal(inner.reads - before, 2, "the absence is read again after negativeTtlMs");
  await ring.createKey(tenantId, new Date());
  assert.equal((await ring.keyVersion(tenantId, 1))?.version, 1, "a version created here is found at once");
});

test("a failed read is answered from memory for failureTtlMs, so an outage is not one vault call per lookup", async () => {
  let now = 1_000_000;
  let calls = 0;
  let down = true;
  const inner = new MemoryTenantKeyRing();
  const flaky = Object.assign(Object.create(inner) as MemoryTenantKeyRing, {
    keyVersion: async (t: string, v: number) => {
      calls += 1;
      if (down) throw new AppError("KEY_STORE_UNAVAILABLE");
      return inner.keyVersion(t, v);
    },
  });
  const ring = new CachedTenantKeyRing(flaky, { failureTtlMs: 1000, now: () => now });
  const tenantId = randomUUID();
  for (let i = 0; i < 500; i++) await assert.rejects(ring.keyVersion(tenantId, 1), (e: unknown) => e instanceof AppError && e.code === "KEY_STORE_UNAVAILABLE");
  assert.equal(calls, 1);
  now += 1001;
  down = false;
  assert.equal(await ring.keyVersion(tenantId, 1), undefined);
  assert.equal(calls, 2, "read again once the failure window has passed");
});

test("the cache holds at most maxEntries; expired entries leave as new ones arrive", async () => {
  let now = 1_000_000;
  const ring = new CachedTenantKeyRing(new MemoryTenantKeyRing(), { maxEntries: 100, ttlMs: 60_000, negativeTtlMs: 5_000, now: () => now });
  for (let i = 0; i < 5000; i++) await ring.keyVersion(randomUUID(), i);
  assert.ok(ring.size() <= 100, `${ring.size()} entries`);
  now += 5_001;
  await ring.keyVersion(randomUUID(), 1);
  assert.equal(ring.size(), 1, "every expired entry left");
});

test("agent public keys for unauthenticated claims: tenants without an agent cost no read and leave no entry; the list is read at most once per refresh interval", async () => {
  let now = 1_000_000;
  const inner = new MemoryTenantKeyRing();
  const registered = randomUUID();
  await inner.setAgentPublicKey(registered, "-----BEGIN PUBLIC KEY-----\nregistered\n-----END PUBLIC KEY-----\n");
  const ring = new CachedTenantKeyRing(inner, { agentDirectoryRefreshMs: 10_000, agentDirectoryMaxAgeMs: 300_000, now: () => now });
  const before = inner.reads;
  for (let i = 0; i < 1000; i++) assert.equal(await ring.agentPublicKey(randomUUID(), { unverifiedClaim: true }), undefined);
  assert.equal(inner.reads - before, 1, "one listing for 1,000 claims of unknown tenants");
  assert.equal(ring.size(), 0, "no entry per claimed tenant");
  assert.match((await ring.agentPublicKey(registered, { unverifiedClaim: true })) ?? "", /registered/);
  assert.equal(inner.reads - before, 2, "the registered tenant's key: one read");
  for (let i = 0; i < 100; i++) await ring.agentPublicKey(registered, { unverifiedClaim: true });
  assert.equal(inner.reads - before, 2);
  // An agent registered through another instance is found once the list may be read again.
  const later = randomUUID();
  await inner.setAgentPublicKey(later, "-----BEGIN PUBLIC KEY-----\nlater\n-----END PUBLIC KEY-----\n");
  assert.equal(await ring.agentPublicKey(later, { unverifiedClaim: true }), undefined, "inside the refresh interval: the list in hand answers");
  now += 10_001;
  assert.match((await ring.agentPublicKey(later, { unverifiedClaim: true })) ?? "", /later/);
  // Registered through this instance: known at once.
  const local = randomUUID();
  await ring.setAgentPublicKey(local, "-----BEGIN PUBLIC KEY-----\nlocal\n-----END PUBLIC KEY-----\n");
  assert.match((await ring.agentPublicKey(local, { unverifiedClaim: true })) ?? "", /local/);
  // Trusted callers (an authenticated admin of that tenant) still read directly.
  const direct = randomUUID();
  await inner.setAgentPublicKey(direct, "-----BEGIN PUBLIC KEY-----\ndirect\n-----END PUBLIC KEY-----\n");
  assert.match((await ring.agentPublicKey(direct)) ?? "", /direct/);
});

test("a current-key read also answers its version, for as long as replies to it can come", async () => {
  let now = 1_000_000;
  const inner = new MemoryTenantKeyRing();
  const ring = new CachedTenantKeyRing(inner, { ttlMs: 60_000, versionTtlMs: 300_000, now: () => now });
  const tenantId = randomUUID();
  await inner.createKey(tenantId, new Date());
  await inner.markAcknowledged(tenantId, 1, new Date());
  await ring.currentKey(tenantId);
  const before = inner.reads;
  now += 240_000;
  assert.equal((await ring.keyVersion(tenantId, 1))?.version, 1);
  assert.equal(inner.reads - before, 0);
});
