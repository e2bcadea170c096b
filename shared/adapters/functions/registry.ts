import pkg from "@azure/functions";
import type { HttpHandler } from "../../http/pipeline.js";

const { app } = pkg;

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

export interface HttpFunctionDefinition {
  kind: "http";
  name: string;
  methods: HttpMethod[];
  /** Relative to the host's route prefix ("api"). */
  route: string;
  handler: HttpHandler;
}

export interface TimerFunctionDefinition {
  kind: "timer";
  name: string;
  /** NCRONTAB, six fields (seconds first). */
  schedule: string;
  handler: () => Promise<void>;
}

export interface ServiceBusQueueFunctionDefinition {
  kind: "serviceBusQueue";
  name: string;
  /** App-setting name (or %EXPRESSION%) of the queue. */
  queueName: string;
  /** Prefix of the connection app settings (connection string, or __fullyQualifiedNamespace with identity). */
  connection: string;
  handler: (message: unknown, metadata: { messageId?: string | undefined; deliveryCount?: number | undefined }) => Promise<void>;
}

export type FunctionDefinition = HttpFunctionDefinition | TimerFunctionDefinition | ServiceBusQueueFunctionDefinition;

const definitions: FunctionDefinition[] = [];

/**
 * Registers with the Functions host and keeps the definition, so the local runner serves
 * exactly the same handlers (outside the host, the library's app.* registrations are no-ops).
 */
export function registerFunction(definition: FunctionDefinition): void {
  definitions.push(definition);
  switch (definition.kind) {
    case "http":
      app.http(definition.name, {
        methods: definition.methods,
        route: definition.route,
        authLevel: "anonymous",
        handler: (request, context) => definition.handler(request, context),
      });
      break;
    case "timer":
      app.timer(definition.name, { schedule: definition.schedule, runOnStartup: false, handler: () => definition.handler() });
      break;
    case "serviceBusQueue":
      app.serviceBusQueue(definition.name, {
        queueName: definition.queueName,
        connection: definition.connection,
        handler: (message, context) =>
          definition.handler(message, {
            messageId: typeof context.triggerMetadata?.messageId === "string" ? context.triggerMetadata.messageId : undefined,
            deliveryCount: typeof context.triggerMetadata?.deliveryCount === "number" ? context.triggerMetadata.deliveryCount : undefined,
          }),
      });
      break;
  }
}

export function registeredFunctions(): readonly FunctionDefinition[] {
  return definitions;
}
