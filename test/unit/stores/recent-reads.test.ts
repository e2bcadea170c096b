import assert from "node:assert/strict";
import { test } from "vitest";
import { CachedAgentHeartbeatStore } from "../../../shared/adapters/caching/cached-agent-heartbeat-store.js";
import { CachedTenantSettingsStore } from "../../../shared/adapters/caching/cached-tenant-settings-store.js";
import { RecentReads } from "../../../shared/adapters/caching/recent-reads.js";
import { MemoryAgentHeartbeatStore } from "../../../shared/adapters/memory/memory-agent-heartbeat-store.js";
import { MemoryTenantSettingsStore } from "../../../shared/adapters/memory/memory-tenant-settings-store.js";

test("recent reads: an answer is reused up to the stated age, concurrent misses share one read, a failed read is not kept", async () => {
  let now = 1_000;
  let loads = 0;
  const recent = new RecentReads<number>(10, () => now);
  const load = () => Promise.resolve(++loads);
  assert.deepEqual(await Promise.all([recent.read("t", 5000, load), recent.read("t", 5000, load)]), [1, 1]);
  now += 5000;
  assert.equal(await recent.read("t", 5000, load), 1, "exactly the stated age is still accepted");
  now += 1;
  assert.equal(await recent.read("t", 5000, load), 2, "older than the stated age: read again");
  assert.equal(await recent.read("t", -1, load), 3, "no age accepted: always read");
  await assert.rejects(recent.read("u", 5000, () => Promise.reject(new Error("down"))));
  assert.equal(await recent.read("u", 5000, load), 4, "the failure was not remembered");
  recent.forget("t");
  assert.equal(await recent.read("t", 5000, load), 5);
  assert.throws(() => new RecentReads(0), RangeError);
});

test("recent reads: the number of keys is bounded; the oldest read is evicted first", async () => {
  const recent = new RecentReads<string>(100);
  for (let i = 0; i < 1000; i++) await recent.read(`tenant-${i}`, 60_000, () => Promise.resolve(`v${i}`));
  assert.equal(recent.size, 100);
  let reads = 0;
  assert.equal(await recent.read("tenant-999", 60_000, () => Promise.resolve(`again${++reads}`)), "v999", "the newest are kept");
  assert.equal(await recent.read("tenant-0", 60_000, () => Promise.resolve(`again${++reads}`)), "again1", "the oldest was evicted");
  assert.equal(recent.size, 100);
});

test("cached settings: callers that state an age get the cached answer; a write through this process is seen at once; admin reads are fresh", async () => {
  const inner = new MemoryTenantSettingsStore();
  const settings = new CachedTenantSettingsStore(inner, { maxTenants: 2 });
  const other = inner; // another instance writing to the same storage
  const tenantId = "t1";
  const first = await other.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, updatedAt: new Date() }, null);
  assert.equal((await settings.get(tenantId, { maxAgeMs: 15_000 }))?.enabled, true);
  await other.put({ tenantId, enabled: false, allowUnlockWithoutReset: false, updatedAt: new Date() }, first.etag);
  assert.equal((await settings.get(tenantId, { maxAgeMs: 15_000 }))?.enabled, true, "another instance's write: seen within the stated age");
  assert.equal((await settings.get(tenantId))?.enabled, false, "no age stated: fresh");
  const current = await settings.get(tenantId);
  await settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: true, updatedAt: new Date() }, current?.etag);
  assert.equal((await settings.get(tenantId, { maxAgeMs: 15_000 }))?.allowUnlockWithoutReset, true, "this process's write: at once");
  for (const t of ["t2", "t3", "t4"]) await settings.get(t, { maxAgeMs: 15_000 });
  assert.equal(settings.cachedTenants, 2, "bounded");
});

test("cached heartbeat: a heartbeat recorded through this process is seen at once, another instance's within the stated age; bounded", async () => {
  const inner = new MemoryAgentHeartbeatStore();
  const heartbeats = new CachedAgentHeartbeatStore(inner, { maxTenants: 3 });
  const policy = { minLength: 8, complexity: true, historyLength: 5, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 5, lockoutDurationSeconds: 1800 };
  const hb = (tenantId: string, at: number, agentVersion: string) => ({ tenantId, agentId: "a", agentVersion, sentAt: new Date(at), receivedAt: new Date(at), policy, connectors: [], keyVersions: [1] });
  assert.equal(await heartbeats.latest("t1", { maxAgeMs: 30_000 }), undefined);
  await heartbeats.record(hb("t1", 1000, "first"));
  assert.equal((await heartbeats.latest("t1", { maxAgeMs: 30_000 }))?.agentVersion, "first", "the cached absence was forgotten");
  await inner.record(hb("t1", 2000, "elsewhere"));
  assert.equal((await heartbeats.latest("t1", { maxAgeMs: 30_000 }))?.agentVersion, "first");
  assert.equal((await heartbeats.latest("t1"))?.agentVersion, "elsewhere");
  for (let i = 0; i < 50; i++) await heartbeats.latest(`x${i}`, { maxAgeMs: 30_000 });
  assert.equal(heartbeats.cachedTenants, 3);
});
