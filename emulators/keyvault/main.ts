// `npm run emulator:keyvault`: the local Key Vault peer (HTTPS, self-signed; default port 8443).
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { startKeyVaultPeer } from "./peer.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "8443" }, "ca-file": { type: "string", default: ".local/keyvault-ca.pem" } } });
const peer = await startKeyVaultPeer({ port: Number(values.port) });
const caFile = resolve(values["ca-file"] ?? ".local/keyvault-ca.pem");
writeFileSync(caFile, peer.caPem);
console.log(`Key Vault peer at ${peer.url}
  CA certificate: ${caFile} (trust it: NODE_EXTRA_CA_CERTS=${caFile}, or KEYVAULT_CA_FILE for the function app)
  Tokens: requests need a bearer token minted by this process (LocalKeyVaultCredential); the local stack wires it.`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void peer.stop().then(() => process.exit(0)));
