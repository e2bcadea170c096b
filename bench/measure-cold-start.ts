import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface ColdStart {
  /** Importing every function module, as the host does before indexing them. */
  medianMs: number;
  samplesMs: number[];
  /** Loading the Azure adapters (SDKs), which the first invocation needing services pays. */
  firstInvocationWiringMedianMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.floor(s.length / 2)] ?? NaN) * 10) / 10;
}

/**
 * Cold start of the compiled function app (dist/) in a fresh process, median of `runs`:
 * the entry import (what the host waits for before indexing) and, separately, the adapters'
 * module load the first service-using invocation adds. The host's own start is not ours.
 * Requires `npm run build` (the deployed package) first.
 */
export function measureColdImport(runs: number): ColdStart {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const script = `
    const t0 = performance.now();
    const { readdirSync } = await import("node:fs");
    for (const f of readdirSync("dist/functions").filter((f) => f.endsWith(".js")).sort()) await import("./dist/functions/" + f);
    const t1 = performance.now();
    await import("./dist/shared/composition/build-services.js");
    process.stdout.write(JSON.stringify([t1 - t0, performance.now() - t1]));
  `;
  const entry: number[] = [];
  const wiring: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
    try {
      const [a, b] = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as [number, number];
      entry.push(a);
      wiring.push(b);
    } catch {
      // a failed run is left out; the report shows how many samples there are
    }
  }
  return { medianMs: median(entry), samplesMs: [...entry].sort((a, b) => a - b).map((s) => Math.round(s)), firstInvocationWiringMedianMs: median(wiring) };
}
