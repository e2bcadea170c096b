#!/usr/bin/env node
// `npx writeback …`: runs the compiled CLI when built, else the TypeScript source through tsx.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const compiled = fileURLToPath(new URL("../dist/cli/writeback-cli.js", import.meta.url));
let mod;
if (existsSync(compiled)) {
  mod = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  mod = await import(new URL("./writeback-cli.ts", import.meta.url).href);
}
process.exitCode = await mod.main(process.argv.slice(2), process.env, { out: (line) => console.log(line), err: (line) => console.error(line) });
