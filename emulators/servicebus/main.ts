// `npm run emulator:servicebus`: the local Service Bus peer on 127.0.0.1 — AMQP over plain TCP
// (default 5672, for UseDevelopmentEmulator=true) and AMQPS (default 5671, as Azure), whose CA
// certificate it writes to a file for clients to trust.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { PeerConfig } from "./config.js";
import { startServiceBusPeer } from "./peer.js";

const { values } = parseArgs({
  options: {
    config: { type: "string", default: new URL("./config.json", import.meta.url).pathname },
    port: { type: "string", default: "5672" },
    "tls-port": { type: "string", default: "5671" },
    "ca-file": { type: "string", default: ".local/servicebus-ca.pem" },
  },
});
const config = JSON.parse(readFileSync(values.config ?? "", "utf8")) as PeerConfig;
const peer = await startServiceBusPeer({ port: Number(values.port), tls: { port: Number(values["tls-port"]) }, config });
const caFile = resolve(values["ca-file"] ?? ".local/servicebus-ca.pem");
mkdirSync(dirname(caFile), { recursive: true });
writeFileSync(caFile, peer.tls?.caPem ?? "");
console.log(`Service Bus peer on 127.0.0.1 (AMQP 1.0; queues: ${config.queues.map((q) => q.name).join(", ")})
  plain TCP ${peer.port} (UseDevelopmentEmulator=true), AMQPS ${peer.tls?.port ?? "-"} (CA certificate: ${caFile})`);
for (const name of new Set(config.policies.map((p) => p.name))) {
  console.log(`  ${name}:\n    ${peer.connectionString(name)}\n    ${peer.connectionString(name, { tls: true })}`);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void peer.stop().then(() => process.exit(0)));
