/**
 * Test-only preload (NODE_OPTIONS=--import <this file>): shifts the wall clock of the agent
 * process (argv names agent/main.ts) by the milliseconds written in the file named by
 * WB_TEST_AGENT_CLOCK_SKEW_FILE, read once at start. Other processes are untouched. Timers and
 * performance.now() are not affected: only what the agent believes the time of day is.
 */
import { readFileSync } from "node:fs";

const file = process.env.WB_TEST_AGENT_CLOCK_SKEW_FILE;
if (file !== undefined && process.argv.some((a) => /agent[\\/]main\.ts$/.test(a))) {
  const skew = Number(readFileSync(file, "utf8").trim()) || 0;
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + skew);
      else super(...args);
    }
    static now() {
      return realNow() + skew;
    }
  }
  globalThis.Date = SkewedDate;
}
