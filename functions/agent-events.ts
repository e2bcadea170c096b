import "../shared/composition/production.js";
import { registerFunction } from "../shared/adapters/functions/registry.js";
import { AgentEvents, type AgentEventOutcome } from "../shared/app/agent-events.js";
import { getServices } from "../shared/composition/services.js";

/** Heartbeats and acknowledgements from on-premises agents (Service Bus queue trigger). */
export async function agentEvents(message: unknown): Promise<AgentEventOutcome> {
  return new AgentEvents(await getServices()).handle(message);
}

registerFunction({
  kind: "serviceBusQueue",
  name: "agentEvents",
  queueName: "%SERVICEBUS_AGENT_EVENTS_QUEUE%",
  connection: "ServiceBusConnection",
  handler: async (message) => {
    await agentEvents(message);
  },
});
