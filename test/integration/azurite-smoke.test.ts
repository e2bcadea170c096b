import assert from "node:assert/strict";
import { afterAll, beforeAll, test } from "vitest";
import { TableClient } from "@azure/data-tables";
import { tableConnectionString } from "../support/azurite.js";

let peer: Awaited<ReturnType<typeof tableConnectionString>>;
beforeAll(async () => {
  peer = await tableConnectionString();
});
afterAll(async () => {
  await peer.stop();
});

test("Azurite answers the Table SDK", async () => {
  const client = TableClient.fromConnectionString(peer.connectionString, "smoke", { allowInsecureConnection: true });
  await client.createTable();
  await client.createEntity({ partitionKey: "p", rowKey: "r", value: 1 });
  const e = await client.getEntity<{ value: number }>("p", "r");
  assert.equal(e.value, 1);
});
