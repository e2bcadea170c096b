import { inject } from "vitest";
import { startAzurite } from "../../dev/azurite.js";

export { startAzurite, type AzuriteHandle } from "../../dev/azurite.js";

/** The run's Azurite (azurite.global.ts), or a new one when none was provided. */
export async function tableConnectionString(): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const shared = inject("tablesConnectionString");
  if (shared !== undefined) return { connectionString: shared, stop: async () => {} };
  return startAzurite();
}
