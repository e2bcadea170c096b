// pretest/prestart: install dependencies on a fresh clone, so `npm test` / `npm start` work alone.
import { existsSync } from "node:fs";
import { execSync } from "node:child_process";
if (!existsSync(new URL("../node_modules/.package-lock.json", import.meta.url))) {
  console.log("node_modules missing: running npm ci");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit", cwd: new URL("..", import.meta.url) });
}
