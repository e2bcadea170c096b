import type { Reporter, TestModule } from "vitest/node";

/**
 * Fails the run when no test ran (a wrong filter, a broken include glob, every file skipped):
 * a green run that checked nothing must not pass for a green suite.
 */
export default class RanNoTestGuard implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    let ran = 0;
    for (const m of testModules) for (const t of m.children.allTests()) if (t.result().state === "passed" || t.result().state === "failed") ran++;
    if (ran === 0) {
      console.error("\nno test ran: failing the run (check the file filter or -t pattern)");
      process.exitCode = 1;
    }
  }
}
