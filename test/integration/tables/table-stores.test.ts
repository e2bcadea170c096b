import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import { createTableStores } from "../../../shared/adapters/tables/create-table-stores.js";
import { startAzurite, tableConnectionString } from "../../support/azurite.js";
import { storeContract } from "../../support/contracts/stores.contract.js";

const suffix = randomUUID().replace(/-/g, "").slice(0, 8);
const names = { settings: `S${suffix}`, heartbeats: `H${suffix}`, operations: `O${suffix}`, rateLimits: `R${suffix}`, audit: `A${suffix}` };
const peer = await tableConnectionString();
after(() => peer.stop());

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
else test("Table storage against a real account", { skip: "set AZURE_TABLES_CONNECTION_STRING to run the contract against a real storage account" }, () => {});

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
