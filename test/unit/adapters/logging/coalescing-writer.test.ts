import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "vitest";
import { coalescingWriter } from "../../../../shared/adapters/logging/coalescing-writer.js";

const nextTurn = () => new Promise((r) => setImmediate(r));

describe("coalescing writer", () => {
  test("lines written in one turn reach the sink as one chunk, in order, by the next turn", async () => {
    const chunks: string[] = [];
    const w = coalescingWriter((c) => chunks.push(c));
    w.write("a\n");
    w.write("b\n");
    w.write("c\n");
    assert.deepEqual(chunks, []);
    await nextTurn();
    assert.deepEqual(chunks, ["a\nb\nc\n"]);
    w.write("d\n");
    await nextTurn();
    assert.deepEqual(chunks, ["a\nb\nc\n", "d\n"]);
  });

  test("a large turn is written as soon as the buffer is full, without losing or reordering lines", async () => {
    const chunks: string[] = [];
    const w = coalescingWriter((c) => chunks.push(c));
    const line = `${"x".repeat(1000)}\n`;
    for (let i = 0; i < 100; i++) w.write(`${i}:${line}`);
    assert.ok(chunks.length >= 1, "flushed before the turn ended");
    await nextTurn();
    const lines = chunks.join("").split("\n").filter(Boolean);
    assert.equal(lines.length, 100);
    lines.forEach((l, i) => assert.ok(l.startsWith(`${i}:`)));
  });

  test("what is buffered when the process exits is still written", () => {
    const script = `import { coalescingWriter } from ${JSON.stringify(new URL("../../../../shared/adapters/logging/coalescing-writer.ts", import.meta.url).href)};
const w = coalescingWriter((c) => process.stdout.write(c));
w.write("last words\\n");
process.exit(3);`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 3);
    assert.equal(r.stdout, "last words\n");
  });
});
