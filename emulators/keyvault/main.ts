// `npm run emulator:keyvault`: the local Key Vault peer (HTTPS, self-signed; default port 8443),
// usable by any client on the machine: it takes any well-formed, unexpired bearer token for
// Key Vault (as other Key Vault emulators do), e.g. Azure CLI's or the development token below.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startKeyVaultPeer } from "./peer.js";
import { developmentToken } from "./token.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8443" },
    "ca-file": { type: "string", default: ".local/keyvault-ca.pem" },
    "own-tokens-only": { type: "boolean", default: false },
  },
});
const peer = await startKeyVaultPeer({ port: Number(values.port), tokens: values["own-tokens-only"] === true ? "own" : "well-formed" });
const caFile = resolve(values["ca-file"] ?? ".local/keyvault-ca.pem");
mkdirSync(dirname(caFile), { recursive: true });
writeFileSync(caFile, peer.caPem);
console.log(`Key Vault peer at ${peer.url}
  CA certificate: ${caFile} (trust it: NODE_EXTRA_CA_CERTS=${caFile}, KEYVAULT_CA_FILE for the function app, connection_verify in Python)
  Tokens: ${
    values["own-tokens-only"] === true
      ? "only those minted by this process (--own-tokens-only)"
      : `any well-formed, unexpired JWT for https://vault.azure.net (signature not checked), e.g. az account get-access-token --resource https://vault.azure.net
  A development token (valid 1 h): ${developmentToken().token}`
  }`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void peer.stop().then(() => process.exit(0)));
