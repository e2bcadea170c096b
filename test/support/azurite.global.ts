import { startAzurite } from "./azurite.js";

export async function setup(): Promise<{ env: Record<string, string>; teardown(): Promise<void> }> {
  const azurite = await startAzurite();
  return { env: { TEST_TABLES_CONNECTION_STRING: azurite.connectionString }, teardown: () => azurite.stop() };
}
