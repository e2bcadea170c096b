/**
 * Writes local.settings.json for `func start` (Azure Functions Core Tools): the sample's values
 * with AUTH_PUBLIC_KEY_PEM set to the local dev issuer's public key (.local/dev-auth, the issuer
 * `npm start` and `dev/mint-token.ts` use), so tokens minted locally are accepted. An existing
 * local.settings.json keeps its other values. `npm run func:settings`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadDevTokenIssuer } from "./dev-token-issuer.js";

export interface LocalSettings {
  IsEncrypted: boolean;
  Values: Record<string, string>;
  Host?: Record<string, unknown>;
}

export function coreToolsSettings(base: LocalSettings, publicKeyPem: string): LocalSettings {
  return { ...base, Values: { ...base.Values, AUTH_PUBLIC_KEY_PEM: publicKeyPem, AUTH_JWKS_URL: "" } };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const root = resolve(import.meta.dirname, "..");
  const target = join(root, "local.settings.json");
  const base = JSON.parse(readFileSync(existsSync(target) ? target : join(root, "local.settings.sample.json"), "utf8")) as LocalSettings;
  const issuer = loadDevTokenIssuer(join(root, ".local", "dev-auth"));
  writeFileSync(target, `${JSON.stringify(coreToolsSettings(base, issuer.publicKeyPem), null, 2)}\n`, { mode: 0o600 });
  console.log(`wrote ${target} (AUTH_PUBLIC_KEY_PEM = the local dev issuer's key)`);
  console.log("tokens: npx tsx dev/mint-token.ts --tenant <tenantId> --role Writeback.Admin");
}
