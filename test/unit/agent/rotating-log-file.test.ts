import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { RotatingLogFile } from "../../../agent/logging/rotating-log-file.js";

const line = (n: number) => `${JSON.stringify({ n, message: "x".repeat(80) })}\n`;

describe("rotating log file", () => {
  test("stays within maxBytes per file and keeps maxFiles rotated files, newest first, nothing lost in between", () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-log-"));
    const file = join(dir, "agent.log");
    const log = new RotatingLogFile({ file, maxBytes: 4096, maxFiles: 3 });
    const total = 400; // ~40 KiB: many rotations
    for (let n = 0; n < total; n++) log.write(line(n));
    log.close();
    const names = readdirSync(dir).sort();
    assert.deepEqual(names, ["agent.log", "agent.log.1", "agent.log.2", "agent.log.3"]);
    for (const name of names) assert.ok(statSync(join(dir, name)).size <= 4096, `${name} is ${statSync(join(dir, name)).size} bytes`);
    // Oldest to newest: .3, .2, .1, current — consecutive line numbers, ending with the last one.
    const kept = ["agent.log.3", "agent.log.2", "agent.log.1", "agent.log"].flatMap((n) =>
      readFileSync(join(dir, n), "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as { n: number }).n),
    );
    assert.equal(kept.at(-1), total - 1);
    for (let i = 1; i < kept.length; i++) assert.equal(kept[i], (kept[i - 1] ?? 0) + 1);
    assert.ok(kept.length < total, "older lines were dropped with the oldest file");
  });

  test("appends to an existing file and counts its size; files are not world-readable", () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-log-"));
    const file = join(dir, "logs", "agent.log");
    let log = new RotatingLogFile({ file, maxBytes: 2048, maxFiles: 1 });
    log.write("first\n");
    log.close();
    log = new RotatingLogFile({ file, maxBytes: 2048, maxFiles: 1 });
    log.write("second\n");
    assert.equal(readFileSync(file, "utf8"), "first\nsecond\n");
    for (let n = 0; n < 40; n++) log.write(line(n));
    log.close();
    assert.ok(existsSync(`${file}.1`));
    assert.ok(!existsSync(`${file}.2`), "maxFiles 1 keeps one rotated file");
    assert.equal(statSync(file).mode & 0o007, 0);
  });

  test("refuses bounds that would not bound anything", () => {
    const file = join(mkdtempSync(join(tmpdir(), "agent-log-")), "a.log");
    writeFileSync(file, "");
    assert.throws(() => new RotatingLogFile({ file, maxBytes: 10 }), RangeError);
    assert.throws(() => new RotatingLogFile({ file, maxFiles: 0 }), RangeError);
  });
});
