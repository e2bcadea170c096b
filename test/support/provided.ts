import type { SambaEnv } from "./samba.js";

/** What the run's Samba AD global setup found: a running DC, or why there is none. */
export type SambaState = { state: "running"; env: SambaEnv } | { state: "unavailable"; reason: string } | { state: "start-error"; message: string };

// Values the global setups (test/support/*.global.ts) hand to test files through provide/inject.
declare module "vitest" {
  export interface ProvidedContext {
    /** The run's Azurite (integration project). */
    tablesConnectionString: string | undefined;
    /** The run's Samba AD DC, when a selected file needs it. */
    samba: SambaState | undefined;
  }
}
