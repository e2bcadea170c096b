import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "vitest";
import type { AgentHeartbeatStore } from "../../../shared/ports/agent-heartbeat-store.port.js";
import type { AuditLog } from "../../../shared/ports/audit-log.port.js";
import type { OperationLedger } from "../../../shared/ports/operation-ledger.port.js";
import type { OperationRecord, OperationStore } from "../../../shared/ports/operation-store.port.js";
import type { RateLimiter } from "../../../shared/ports/rate-limiter.port.js";
import { ConcurrencyConflictError, type TenantSettingsStore } from "../../../shared/ports/tenant-settings-store.port.js";

export interface StoreSet {
  settings: TenantSettingsStore;
  heartbeats: AgentHeartbeatStore;
  operations: OperationStore;
  rateLimiter: RateLimiter;
  ledger: OperationLedger;
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

  test(`${name}: settings — banned-password mode and custom terms round-trip; old rows read as enforce with no terms`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const old = await a.settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, updatedAt: new Date() }, null);
    const defaults = await b.settings.get(tenantId);
    assert.equal(defaults?.bannedPasswordMode, "enforce");
    assert.deepEqual(defaults?.customBannedTerms, []);
    // The bound: 1,000 terms of 16 characters fit one settings row.
    const terms = Array.from({ length: 1000 }, (_, i) => `term${String(i).padStart(4, "0")}${"x".repeat(8)}`);
    assert.ok(terms.every((t) => t.length === 16));
    await b.settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, bannedPasswordMode: "audit", customBannedTerms: terms, updatedAt: new Date() }, old.etag);
    const read = await a.settings.get(tenantId);
    assert.equal(read?.bannedPasswordMode, "audit");
    assert.deepEqual(read?.customBannedTerms, terms);
    assert.deepEqual((await a.settings.list()).find((s) => s.tenantId === tenantId)?.customBannedTerms, terms);
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

  test(`${name}: operations — complete with the version begin returned; a stale version never overrides the first outcome`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const fresh = randomUUID();
    const started = await a.operations.begin(record(tenantId, fresh));
    assert.ok(started.created);
    const done = await a.operations.complete(tenantId, fresh, { outcome: "succeeded", completedAt: new Date() }, started.begun);
    assert.equal(done?.outcome, "succeeded");
    const stored = await b.operations.get(tenantId, fresh);
    assert.equal(stored?.status, "completed");
    assert.equal(stored?.outcome, "succeeded");
    assert.equal(stored?.cloudAnchor, "User_x", "the rest of the record is kept");

    // Another instance records an outcome between begin and complete: the begun version is stale.
    const raced = randomUUID();
    const begunRaced = await a.operations.begin(record(tenantId, raced));
    assert.ok(begunRaced.created);
    await b.operations.complete(tenantId, raced, { outcome: "AGENT_TIMEOUT", completedAt: new Date() });
    const late = await a.operations.complete(tenantId, raced, { outcome: "succeeded", completedAt: new Date() }, begunRaced.begun);
    assert.equal(late?.outcome, "AGENT_TIMEOUT", "the caller sees the outcome that won");
    assert.equal((await a.operations.get(tenantId, raced))?.outcome, "AGENT_TIMEOUT");
  });

  test(`${name}: rate limiter — snapshots read ahead, even stale ones, still allow exactly the maximum`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const now = new Date();
    // Every caller reads before anyone counts: 19 of the 20 snapshots go stale.
    const snapshots = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).rateLimiter.read(tenantId, "User/snap")));
    assert.ok(snapshots.every((s) => s.attempts.length === 0));
    const decisions = await Promise.all(snapshots.map((snap, i) => (i % 2 === 0 ? a : b).rateLimiter.consume(tenantId, "User/snap", now, snap)));
    assert.equal(decisions.filter((d) => d.allowed).length, 5);
    const full = await b.rateLimiter.read(tenantId, "User/snap");
    assert.equal(full.attempts.length, 5);
    assert.equal((await a.rateLimiter.consume(tenantId, "User/snap", now, full)).allowed, false);
    assert.equal((await a.rateLimiter.read(tenantId, "User/snap")).attempts.length, 5, "a denial writes nothing");
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

  test(`${name}: ledger — begin counts the attempt and stores the record together; a replay or a full window changes nothing`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const subject = "User/ledger";
    const first = { ...record(tenantId, randomUUID()), attempt: randomUUID() };
    const begun = await a.ledger.begin(first, { subject, snapshot: await a.rateLimiter.read(tenantId, subject) });
    assert.equal(begun.kind, "created");
    assert.equal((await b.operations.get(tenantId, first.requestId))?.status, "pending", "recorded before anything is sent");
    assert.equal((await b.rateLimiter.read(tenantId, subject)).attempts.length, 1, "counted once");
    // The record as begun completes on the version the ledger returned, with its audit row.
    assert.ok(begun.kind === "created");
    const row = { tenantId, requestId: first.requestId, operation: "reset", initiatorKind: "user", channel: "ssprPortal", cloudAnchor: "User_x", outcome: "succeeded", durationMs: 7, at: new Date() };
    const done = await a.ledger.complete(begun.begun, { outcome: "succeeded", completedAt: new Date() }, row);
    assert.equal(done.record.status === "fulfilled" ? done.record.value?.outcome : "rejected", "succeeded");
    assert.equal(done.audit.status, "fulfilled");
    assert.deepEqual((await b.audit.list(tenantId, 10)).map((r) => [r.requestId, r.outcome, r.durationMs]), [[first.requestId, "succeeded", 7]]);
    // A stale begun version (the outcome is already in): the first outcome stays, the audit row is still written.
    const late = await b.ledger.complete(begun.begun, { outcome: "AGENT_TIMEOUT", completedAt: new Date() }, { ...row, outcome: "AGENT_TIMEOUT", at: new Date(row.at.getTime() + 1000) });
    assert.equal(late.record.status === "fulfilled" ? late.record.value?.outcome : "rejected", "succeeded", "first outcome wins");
    assert.equal((await a.operations.get(tenantId, first.requestId))?.outcome, "succeeded");
    assert.deepEqual((await a.audit.list(tenantId, 10)).map((r) => r.outcome), ["AGENT_TIMEOUT", "succeeded"]);

    // The same requestId from another attempt: the stored record, and no count.
    const again = await b.ledger.begin({ ...first, attempt: randomUUID() }, { subject });
    assert.equal(again.kind, "exists");
    assert.equal(again.kind === "exists" ? again.existing.outcome : undefined, "succeeded");
    assert.equal((await a.rateLimiter.read(tenantId, subject)).attempts.length, 1, "a replay is not counted");

    // Fill the window (5), then one more: limited, and neither a record nor a count is written.
    for (let i = 0; i < 4; i++) assert.equal((await (i % 2 === 0 ? a : b).ledger.begin(record(tenantId, randomUUID()), { subject })).kind, "created");
    const refused = record(tenantId, randomUUID());
    const limited = await a.ledger.begin(refused, { subject, snapshot: await b.rateLimiter.read(tenantId, subject) });
    assert.equal(limited.kind, "limited");
    assert.ok(limited.kind === "limited" && !limited.decision.allowed && limited.decision.retryAfterSeconds > 3590);
    assert.equal(await a.operations.get(tenantId, refused.requestId), undefined, "a refused attempt leaves no record");
    assert.equal((await a.rateLimiter.read(tenantId, subject)).attempts.length, 5);
  });

  test(`${name}: ledger — across two instances with stale snapshots, exactly the maximum begins, each with its record`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const subject = "User/race";
    const snapshots = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).rateLimiter.read(tenantId, subject)));
    const records = snapshots.map(() => ({ ...record(tenantId, randomUUID()), attempt: randomUUID() }));
    const results = await Promise.all(records.map((r, i) => (i % 2 === 0 ? a : b).ledger.begin(r, { subject, snapshot: snapshots[i] })));
    assert.equal(results.filter((r) => r.kind === "created").length, 5);
    assert.equal(results.filter((r) => r.kind === "limited").length, 7);
    const stored = await Promise.all(records.map((r) => a.operations.get(tenantId, r.requestId)));
    assert.deepEqual(stored.map((s) => s !== undefined), results.map((r) => r.kind === "created"), "a record exactly for each counted attempt");
    assert.equal((await b.rateLimiter.read(tenantId, subject)).attempts.length, 5);
    // Two instances begin the same requestId at once: one creates, the other sees it.
    const same = record(tenantId, randomUUID());
    const pair = await Promise.all([a.ledger.begin({ ...same, attempt: randomUUID() }, { subject: "User/other" }), b.ledger.begin({ ...same, attempt: randomUUID() }, { subject: "User/other" })]);
    assert.deepEqual(pair.map((r) => r.kind).sort(), ["created", "exists"]);
    assert.equal((await a.rateLimiter.read(tenantId, "User/other")).attempts.length, 1, "the duplicate is not counted");
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

  test(`${name}: audit — the banned-password verdict is kept`, async () => {
    const [a, b] = await makeTwo();
    const tenantId = randomUUID();
    const row = { tenantId, operation: "reset", initiatorKind: "user", channel: "ssprPortal", cloudAnchor: "User_x", durationMs: 1 };
    await a.audit.append({ ...row, requestId: "refused", outcome: "PASSWORD_POLICY_VIOLATION", reason: "banned", bannedPasswordCheck: "refused", at: new Date(Date.now() - 2000) });
    await a.audit.append({ ...row, requestId: "audited", outcome: "succeeded", bannedPasswordCheck: "wouldRefuse", at: new Date(Date.now() - 1000) });
    await a.audit.append({ ...row, requestId: "clean", outcome: "succeeded", at: new Date() });
    const rows = await b.audit.list(tenantId, 10);
    assert.deepEqual(rows.map((r) => [r.requestId, r.bannedPasswordCheck, r.reason]), [["clean", undefined, undefined], ["audited", "wouldRefuse", undefined], ["refused", "refused", "banned"]]);
  });
}
