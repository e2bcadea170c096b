import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, test } from "vitest";
import { RestError, type TableClient } from "@azure/data-tables";
import { createTableStores } from "../../../shared/adapters/tables/create-table-stores.js";
import { LazyTable } from "../../../shared/adapters/tables/table-client.js";
import { TableOperationLedger } from "../../../shared/adapters/tables/table-operation-ledger.js";
import { rateLimitRowKey, TableAuditLog, TableOperationStore, TableRateLimiter } from "../../../shared/adapters/tables/table-stores.js";
import { startAzurite, tableConnectionString } from "../../support/azurite.js";
import { storeContract } from "../../support/contracts/stores.contract.js";

const suffix = randomUUID().replace(/-/g, "").slice(0, 8);
const names = { settings: `S${suffix}`, heartbeats: `H${suffix}`, operations: `O${suffix}` };
const peer = await tableConnectionString();
afterAll(() => peer.stop());

const twoInstances = async () => {
  const make = () => createTableStores({ connectionString: peer.connectionString }, { maxOperations: 5, windowSeconds: 3600 }, names);
  return [make(), make()] as [ReturnType<typeof make>, ReturnType<typeof make>];
};
storeContract("Table storage on Azurite", twoInstances);

const real = process.env.AZURE_TABLES_CONNECTION_STRING;
if (real !== undefined) storeContract("Table storage (AZURE_TABLES_CONNECTION_STRING)", async () => {
  const make = () => createTableStores({ connectionString: real }, { maxOperations: 5, windowSeconds: 3600 }, names);
  return [make(), make()];
});
else test.skip("Table storage against a real account (set AZURE_TABLES_CONNECTION_STRING to run the contract against a real storage account)", () => {});

test("an adapter survives an Azurite restart (tables recreated) and reports outages as STORAGE_UNAVAILABLE", async () => {
  const own = await startAzurite();
  try {
    const stores = createTableStores({ connectionString: own.connectionString }, { maxOperations: 5, windowSeconds: 3600 });
    const tenantId = randomUUID();
    await stores.settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, updatedAt: new Date() });
    await own.restart();
    assert.equal(await stores.settings.get(tenantId), undefined, "in-memory Azurite lost its data");
    await stores.settings.put({ tenantId, enabled: true, allowUnlockWithoutReset: false, updatedAt: new Date() });
    assert.equal((await stores.settings.get(tenantId))?.enabled, true);
    await own.stop();
    await assert.rejects(stores.operations.get(tenantId, randomUUID()), (e: unknown) => (e as { code?: string }).code === "STORAGE_UNAVAILABLE" && !String((e as Error).message).includes("AccountKey"));
  } finally {
    await own.stop();
  }
});

// What the SDK's retry does when Azure applied the write but the response never arrived: the
// retried insert meets the row (409), the retried conditional replace meets a new ETag (412).
class AnswerLostOnce extends LazyTable {
  lost = false;
  constructor(
    connection: ConstructorParameters<typeof LazyTable>[0],
    tableName: string,
    private readonly method: "createEntity" | "updateEntity" | "submitTransaction" = "createEntity",
  ) {
    super(connection, tableName);
  }

  override run<T>(operation: (client: TableClient) => Promise<T>): Promise<T> {
    return super.run((client) => {
      const view = new Proxy(client, {
        get: (target, key) => {
          if (key === this.method && !this.lost) {
            return async (...args: unknown[]) => {
              this.lost = true;
              await (target[this.method] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
              // A retried transaction fails on its first action, the insert that already landed.
              if (this.method === "createEntity" || this.method === "submitTransaction") throw new RestError("The specified entity already exists.", { statusCode: 409 });
              throw new RestError("The update condition specified in the request was not satisfied.", { statusCode: 412 });
            };
          }
          const value = Reflect.get(target, key) as unknown;
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      return operation(view);
    });
  }
}
test("an insert whose answer was lost, retried into 409, is recognised as this attempt's own record", async () => {
  const table = new AnswerLostOnce({ connectionString: peer.connectionString }, `L${suffix}`);
  const store = new TableOperationStore(table);
  const tenantId = randomUUID();
  const requestId = randomUUID();
  const record = { tenantId, requestId, operation: "reset" as const, fingerprint: "f", cloudAnchor: "User_x", initiatorKind: "user" as const, channel: "ssprPortal" as const, status: "pending" as const, startedAt: new Date(), expiresAt: new Date(Date.now() + 120_000), attempt: randomUUID() };
  const first = await store.begin(record);
  assert.equal(table.lost, true, "the insert's answer was lost");
  assert.ok(first.created, "the retried insert is this attempt's, not a replay to wait on");
  const done = await store.complete(tenantId, requestId, { outcome: "succeeded", completedAt: new Date() }, first.begun);
  assert.equal(done?.outcome, "succeeded");
  // Another attempt with the same requestId is a replay, as before.
  const other = await store.begin({ ...record, attempt: randomUUID() });
  assert.equal(other.created, false);
  assert.equal(other.created ? undefined : other.existing.outcome, "succeeded");
});

test("an audit row whose insert answer was lost is written once, without an error", async () => {
  const table = new AnswerLostOnce({ connectionString: peer.connectionString }, `M${suffix}`);
  const audit = new TableAuditLog(table);
  const tenantId = randomUUID();
  const requestId = randomUUID();
  await audit.append({ tenantId, requestId, operation: "reset", initiatorKind: "user", channel: "ssprPortal", cloudAnchor: "User_x", outcome: "succeeded", durationMs: 12, at: new Date() });
  assert.equal(table.lost, true);
  const rows = await audit.list(tenantId, 10);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.requestId, requestId);
});

test("a rate-limit attempt whose write answer was lost counts once, on a new row and on an existing one", async () => {
  const limits = { maxOperations: 5, windowSeconds: 3600 };
  const tenantId = randomUUID();
  const now = new Date();

  const inserting = new AnswerLostOnce({ connectionString: peer.connectionString }, `N${suffix}`, "createEntity");
  const first = await new TableRateLimiter(inserting, limits).consume(tenantId, "User/new", now);
  assert.equal(inserting.lost, true, "the insert's answer was lost");
  assert.deepEqual(first, { allowed: true, retryAfterSeconds: 0, remaining: 4 });
  assert.equal((await new TableRateLimiter(inserting, limits).read(tenantId, "User/new")).attempts.length, 1);

  const replacing = new AnswerLostOnce({ connectionString: peer.connectionString }, `N${suffix}`, "updateEntity");
  const limiter = new TableRateLimiter(replacing, limits);
  const second = await limiter.consume(tenantId, "User/new", now, await limiter.read(tenantId, "User/new"));
  assert.equal(replacing.lost, true, "the replace's answer was lost");
  assert.deepEqual(second, { allowed: true, retryAfterSeconds: 0, remaining: 3 });
  assert.equal((await limiter.read(tenantId, "User/new")).attempts.length, 2);
});

test("a rate-limit row written before write ids were kept still counts and limits", async () => {
  const table = new LazyTable({ connectionString: peer.connectionString }, `N${suffix}`);
  const limiter = new TableRateLimiter(table, { maxOperations: 2, windowSeconds: 3600 });
  const tenantId = randomUUID();
  const now = Date.now();
  await table.run((c) => c.createEntity({ partitionKey: tenantId, rowKey: rateLimitRowKey("User_old"), attempts: JSON.stringify([now - 1000]) }));
  assert.equal((await limiter.consume(tenantId, "User_old", new Date(now))).allowed, true);
  assert.equal((await limiter.consume(tenantId, "User_old", new Date(now))).allowed, false);
  assert.deepEqual((await limiter.read(tenantId, "User_old")).attempts, [now - 1000, now]);
});

test("a ledger transaction whose answer was lost, retried into 409, is this attempt's own: one record, counted once", async () => {
  const table = new AnswerLostOnce({ connectionString: peer.connectionString }, `T${suffix}`, "submitTransaction");
  const operations = new TableOperationStore(table);
  const limiter = new TableRateLimiter(table, { maxOperations: 5, windowSeconds: 3600 });
  const ledger = new TableOperationLedger(table, operations, limiter);
  const tenantId = randomUUID();
  const requestId = randomUUID();
  const record = { tenantId, requestId, operation: "reset" as const, fingerprint: "f", cloudAnchor: "User_x", initiatorKind: "user" as const, channel: "ssprPortal" as const, status: "pending" as const, startedAt: new Date(), expiresAt: new Date(Date.now() + 120_000), attempt: randomUUID() };
  const begun = await ledger.begin(record, { subject: "User_x", snapshot: await limiter.read(tenantId, "User_x") });
  assert.equal(table.lost, true, "the transaction's answer was lost");
  assert.equal(begun.kind, "created", "not a replay to wait on");
  assert.equal((await limiter.read(tenantId, "User_x")).attempts.length, 1, "counted once");
  const done = await operations.complete(tenantId, requestId, { outcome: "succeeded", completedAt: new Date() }, begun.kind === "created" ? begun.begun : undefined);
  assert.equal(done?.outcome, "succeeded");
  // The rate-limit row and the record share the tenant's partition of one table, apart by key.
  assert.equal((await operations.get(tenantId, requestId))?.cloudAnchor, "User_x");
  assert.equal(rateLimitRowKey("User_x").startsWith("rate|"), true);
});

test("a completion transaction whose answer was lost, retried and refused, leaves the outcome and exactly one audit row", async () => {
  const table = new AnswerLostOnce({ connectionString: peer.connectionString }, `U${suffix}`, "submitTransaction");
  const operations = new TableOperationStore(table);
  const ledger = new TableOperationLedger(table, operations, new TableRateLimiter(table, { maxOperations: 5, windowSeconds: 3600 }));
  const audit = new TableAuditLog(table);
  const tenantId = randomUUID();
  const requestId = randomUUID();
  const record = { tenantId, requestId, operation: "reset" as const, fingerprint: "f", cloudAnchor: "User_x", initiatorKind: "user" as const, channel: "ssprPortal" as const, status: "pending" as const, startedAt: new Date(), expiresAt: new Date(Date.now() + 120_000), attempt: randomUUID() };
  const begun = await operations.begin(record);
  assert.ok(begun.created);
  const row = { tenantId, requestId, operation: "reset", initiatorKind: "user", channel: "ssprPortal", cloudAnchor: "User_x", outcome: "succeeded", durationMs: 9, at: new Date() };
  const done = await ledger.complete(begun.begun, { outcome: "succeeded", completedAt: new Date() }, row);
  assert.equal(table.lost, true, "the transaction's answer was lost");
  assert.equal(done.record.status === "fulfilled" ? done.record.value?.outcome : "rejected", "succeeded");
  assert.equal(done.audit.status, "fulfilled");
  assert.equal((await operations.get(tenantId, requestId))?.status, "completed");
  const rows = await audit.list(tenantId, 10);
  assert.deepEqual(rows.map((r) => r.requestId), [requestId], "one audit row, not two");
  // Audit rows and operation rows share the partition; each list sees only its own kind.
  assert.equal((await operations.get(tenantId, requestId))?.cloudAnchor, "User_x");
});
