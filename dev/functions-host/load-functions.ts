import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { registeredFunctions, type FunctionDefinition } from "../../shared/adapters/functions/registry.js";

/** Imports every function module (each registers itself), as the host does with package.json "main". */
export async function loadFunctions(): Promise<readonly FunctionDefinition[]> {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = resolve(here, "../../functions");
  const ext = here.includes(`${join("dist", "dev")}`) ? ".js" : ".ts";
  for (const file of readdirSync(dir).filter((f) => f.endsWith(ext) && !f.endsWith(".d.ts")).sort()) {
    await import(pathToFileURL(join(dir, file)).href);
  }
  return registeredFunctions();
}
