import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Time to import the compiled function app (dist/, as the host loads it) in a fresh process:
 * what a cold instance pays before its first request (the host's own start is not ours).
 * Median of `runs`. Requires `npm run build` first.
 */
export function measureColdImport(runs: number): { medianMs: number; samplesMs: number[] } {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const script = `
    const t0 = performance.now();
    const { loadFunctions } = await import("./dist/shared/adapters/functions/load-functions.js");
    await loadFunctions();
    process.stdout.write(String(performance.now() - t0));
  `;
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
    const ms = Number(r.stdout.trim().split("\n").pop());
    if (Number.isFinite(ms)) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: Math.round((samples[Math.floor(samples.length / 2)] ?? NaN) * 10) / 10, samplesMs: samples.map((s) => Math.round(s)) };
}
