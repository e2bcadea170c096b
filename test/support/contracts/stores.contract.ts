import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import type { AgentHeartbeatStore } from "../../../shared/ports/agent-heartbeat-store.port.js";
import type { AuditLog } from "../../../shared/ports/audit-log.port.js";
import type { OperationRecord, OperationStore } from "../../../shared/ports/operation-store.port.js";
import type { RateLimiter } from "../../../shared/ports/rate-limiter.port.js";
import { ConcurrencyConflictError, type TenantSettingsStore } from "../../../shared/ports/tenant-settings-store.port.js";

export interface StoreSet {
  settings: TenantSettingsStore;
  heartbeats: AgentHeartbeatStore;
  operations: OperationStore;
  rateLimiter: RateLimiter;
  audit: AuditLog;
}

/** One behaviour for every implementation. `makeTwo` gives two instances over the same storage (two function instances). */
export function storeContract(name: string, makeTwo: () => Promise<[StoreSet, StoreSet]>): void {
  const record = (tenantId: string, requestId: string): OperationRecord => ({
    tenantId,
    requestId,
    operation: "reset",
    fingerprint: "f",
    cloudAnchor: "User_x",
    initiatorKind: "user",
    channel: "ssprPortal",
    status: "pending",
    startedAt: new Date(),
    expiresAt: new Date(Date.now() + 120_000),
  });

  test(`${name}: settings — create-only, etag conflicts`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    assert.equal(await a.settings.get(tenantId), undefined);
    const first = await a.settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, updatedAt: new Date() }, null);
    await assert.rejects(b.settings.put({ tenantId, enabled: false, allowUnlockWithoutReset: false, updatedAt: new Date() }, null), ConcurrencyConflictError);
    const second = await b.settings.put({ tenantId, enabled: false, allowUnlockWithoutReset: true, updatedAt: new Date() }, first.etag);
    await assert.rejects(a.settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, updatedAt: new Date() }, first.etag), ConcurrencyConflictError);
    const read = await a.settings.get(tenantId);
    assert.equal(read?.enabled, false);
    assert.equal(read?.allowUnlockWithoutReset, true);
    assert.equal(read?.etag, second.etag);
  });

  test(`${name}: operations — one begin wins a race, first outcome wins`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const requestId = randomUUID();
    const results = await Promise.all([a.operations.begin(record(tenantId, requestId)), b.operations.begin(record(tenantId, requestId)), a.operations.begin(record(tenantId, requestId))]);
    assert.equal(results.filter((r) => r.created).length, 1);
    const outcomes = await Promise.all([a.operations.complete(tenantId, requestId, { outcome: "succeeded", completedAt: new Date() }), b.operations.complete(tenantId, requestId, { outcome: "PASSWORD_POLICY_VIOLATION", reason: "history", completedAt: new Date() })]);
    const final = await a.operations.get(tenantId, requestId);
    assert.equal(final?.status, "completed");
    assert.ok(outcomes.every((o) => o?.outcome === final?.outcome), "both callers see the one outcome that won");
    await b.operations.complete(tenantId, requestId, { outcome: "AGENT_TIMEOUT", completedAt: new Date() });
    assert.equal((await a.operations.get(tenantId, requestId))?.outcome, final?.outcome);
    assert.equal(await a.operations.complete(tenantId, randomUUID(), { outcome: "succeeded", completedAt: new Date() }), undefined);
  });

  test(`${name}: rate limiter — exactly the maximum under concurrency, per user`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const now = new Date();
    const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).rateLimiter.consume(tenantId, "User/1#?", now)));
    assert.equal(decisions.filter((d) => d.allowed).length, 5);
    const denied = decisions.find((d) => !d.allowed);
    assert.ok(denied !== undefined && denied.retryAfterSeconds > 3590 && denied.retryAfterSeconds <= 3600);
    assert.equal((await a.rateLimiter.consume(tenantId, "User_2", now)).allowed, true);
    assert.equal((await a.rateLimiter.consume(tenantId, "User/1#?", new Date(now.getTime() + 3601_000))).allowed, true, "the window rolls");
  });

  test(`${name}: heartbeats — the newest received wins; the agent's clock does not decide`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const policy = { minLength: 8, complexity: true, historyLength: 5, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 5, lockoutDurationSeconds: 1800 };
    const hb = (sentAt: Date, receivedAt: Date, agentVersion: string) => ({ tenantId, agentId: "a", agentVersion, sentAt, receivedAt, policy, connectors: [{ domain: "x", status: "healthy" as const }], keyVersions: [1] });
    const t = Date.now();
    await a.heartbeats.record(hb(new Date(t), new Date(t + 2000), "new"));
    // Processed late (say, a retried message): received earlier than the stored one, ignored.
    await b.heartbeats.record(hb(new Date(t - 1000), new Date(t + 1000), "old"));
    let latest = await a.heartbeats.latest(tenantId);
    assert.equal(latest?.agentVersion, "new");
    assert.deepEqual(latest?.policy, policy);
    assert.deepEqual(latest?.keyVersions, [1]);
    // The agent's clock was set back two minutes: its next heartbeat still counts.
    await b.heartbeats.record(hb(new Date(t - 120_000), new Date(t + 3000), "after-clock-fix"));
    latest = await a.heartbeats.latest(tenantId);
    assert.equal(latest?.agentVersion, "after-clock-fix");
    assert.equal(latest?.receivedAt.getTime(), t + 3000);
  });

  test(`${name}: audit — newest first, per tenant`, async () => {
    const [a] = await makeTwo();
    const tenantId = randomUUID();
    for (let i = 0; i < 3; i++) {
      await a.audit.append({ tenantId, requestId: `r${i}`, operation: "reset", initiatorKind: "user", channel: "ssprPortal", cloudAnchor: "User_x", outcome: "succeeded", durationMs: i, at: new Date(Date.now() + i * 1000) });
    }
    const rows = await a.audit.list(tenantId, 2);
    assert.deepEqual(rows.map((r) => r.requestId), ["r2", "r1"]);
    assert.deepEqual(await a.audit.list(randomUUID(), 10), []);
  });
}
