/**
 * A stand-in agent for the relay ceiling: the real agent transport (SDK receiver, reply sender,
 * settlement) answering every request at once with a reply-sized body, no crypto and no
 * directory. Run by measure-relay-ceiling.ts as its own process, like the real agent.
 */
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { silentLogger } from "../shared/ports/logger.port.js";
import { AgentRelayTransport } from "../agent/transport/relay-transport.js";

const [connectionString, tenantQueue, replyBytes] = process.argv.slice(2);
if (connectionString === undefined || tenantQueue === undefined) throw new Error("usage: echo-agent <connection string> <queue> <reply bytes>");
const reply = Buffer.alloc(Number(replyBytes ?? 141), 7);
const client = createServiceBusClient({ connectionString });
const transport = new AgentRelayTransport({ client, tenantId: "echo", tenantQueue, eventsQueue: "agent-events", maxConcurrentRequests: 64, logger: silentLogger });
transport.start(async () => ({ reply }));
process.once("SIGTERM", () => void transport.close(1000).then(() => client.close()).finally(() => process.exit(0)));
