import assert from "node:assert/strict";
import { test } from "vitest";
import { medianCeiling } from "../../../bench/measure-crypto.js";

test("the decrypt ceiling is the median of the run's samples, so one sample from a slow or fast phase does not set it", () => {
  const s = (when: string, d: number, e: number) => ({ when, rsaDecryptsPerSecond: d, rsaEncryptsPerSecond: e });
  const odd = medianCeiling([s("start", 3158, 27000), s("before concurrency 50", 3790, 37000), s("after concurrency 50", 3810, 36000)]);
  assert.equal(odd.rsaDecryptsPerSecond, 3790);
  assert.equal(odd.rsaEncryptsPerSecond, 36000);
  assert.deepEqual(odd.samples.map((x) => x.when), ["start", "before concurrency 50", "after concurrency 50"]);
  assert.equal(medianCeiling([s("a", 3000, 10), s("b", 3801, 20)]).rsaDecryptsPerSecond, 3401);
});
