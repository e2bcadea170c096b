import { createRequire } from "node:module";
import pkg from "@azure/functions";
import type { HttpHandler } from "../../http/pipeline.js";

const { app } = pkg;

/**
 * The Functions host's Node worker provides `@azure/functions-core` to the app it loads;
 * outside the host (tests, the local runner) the module does not exist. Registering there
 * only prints a "test mode" warning per function, so the definitions are just kept.
 */
function runningUnderFunctionsHost(): boolean {
  try {
    createRequire(import.meta.url)("@azure/functions-core");
    return true;
  } catch {
    return false;
  }
}

const underHost = runningUnderFunctionsHost();

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

/** Delivers a queue's messages to a queue-triggered function, as the host does (a local runner's input). */
export interface QueueTriggerSource {
  subscribe(queueName: string, handler: ServiceBusQueueFunctionDefinition["handler"]): Promise<{ close(): Promise<void> }>;
}

const definitions: FunctionDefinition[] = [];

/**
 * Keeps the definition, so the local runner serves exactly the same handlers, and registers
 * it with the Functions host when running under one.
 */
export function registerFunction(definition: FunctionDefinition): void {
  definitions.push(definition);
  if (!underHost) return;
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
