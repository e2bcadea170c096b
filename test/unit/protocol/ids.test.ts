import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "vitest";
import { bytesToUuid, uuidToBytes } from "../../../shared/protocol/ids.js";

test("uuidToBytes reads any-case 8-4-4-4-12 hex ids exactly, and round-trips with bytesToUuid", () => {
  for (let k = 0; k < 2000; k++) {
    const id = randomUUID();
    const cased = k % 2 === 0 ? id : id.toUpperCase();
    assert.equal(uuidToBytes(cased).toString("hex"), id.replace(/-/g, ""));
    assert.equal(bytesToUuid(uuidToBytes(cased)), id);
  }
});

test("uuidToBytes refuses anything else with a RangeError", () => {
  const good = "5f0c7e2a-1d7b-4c2f-9a51-2c1e6c5d7a10";
  const bad = [
    "",
    good.slice(1),
    `${good}0`,
    good.replace(/-/g, "") + "0000", // right length, no dashes
    `${good.slice(0, 8)}_${good.slice(9)}`, // wrong separator
    `${good.slice(0, 35)}g`, // not hex
    `${good.slice(0, 35)}\u00e9`,
    `${good.slice(0, 9)}-${good.slice(10)}`, // dash where a digit belongs
    ` ${good.slice(1)}`,
  ];
  for (const b of bad) assert.throws(() => uuidToBytes(b), RangeError, JSON.stringify(b));
});
