// `npm run emulator:servicebus`: the local Service Bus peer on 127.0.0.1 (default port 5672).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { PeerConfig } from "./config.js";
import { startServiceBusPeer } from "./peer.js";

const { values } = parseArgs({ options: { config: { type: "string", default: new URL("./config.json", import.meta.url).pathname }, port: { type: "string", default: "5672" } } });
const config = JSON.parse(readFileSync(values.config ?? "", "utf8")) as PeerConfig;
const peer = await startServiceBusPeer({ port: Number(values.port), config });
console.log(`Service Bus peer listening on 127.0.0.1:${peer.port} (AMQP 1.0, plain TCP; queues: ${config.queues.map((q) => q.name).join(", ")})`);
for (const name of new Set(config.policies.map((p) => p.name))) console.log(`  ${name}: ${peer.connectionString(name)}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void peer.stop().then(() => process.exit(0)));
