import type { TestProject } from "vitest/node";
import { startAzurite } from "./azurite.js";

/** One Azurite for the project's run; files reach it through inject("tablesConnectionString"). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azurite = await startAzurite();
  project.provide("tablesConnectionString", azurite.connectionString);
  return () => azurite.stop();
}
