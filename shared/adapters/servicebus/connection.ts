import { ServiceBusClient, type ServiceBusClientOptions } from "@azure/service-bus";
import type { TokenCredential } from "@azure/core-auth";
import { enableTcpNoDelayForServiceBus } from "./tcp-no-delay.js";

export type ServiceBusConnection =
  | { connectionString: string }
  | { fullyQualifiedNamespace: string; credential: TokenCredential };

/** Explicit retry policy: a relay send must fail fast enough to leave time for the reply. */
export const RELAY_RETRY_OPTIONS: NonNullable<ServiceBusClientOptions["retryOptions"]> = {
  maxRetries: 3,
  retryDelayInMs: 200,
  maxRetryDelayInMs: 2000,
  timeoutInMs: 10_000,
};

export function createServiceBusClient(connection: ServiceBusConnection, options: ServiceBusClientOptions = {}): ServiceBusClient {
  enableTcpNoDelayForServiceBus();
  const merged: ServiceBusClientOptions = { retryOptions: RELAY_RETRY_OPTIONS, ...options };
  return "connectionString" in connection
    ? new ServiceBusClient(connection.connectionString, merged)
    : new ServiceBusClient(connection.fullyQualifiedNamespace, connection.credential, merged);
}
