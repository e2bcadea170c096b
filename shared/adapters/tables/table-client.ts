import { RestError, TableClient } from "@azure/data-tables";
import type { TokenCredential } from "@azure/core-auth";
import { AppError } from "../../errors/app-error.js";
import { tableCallCounterPolicy } from "./table-call-counter.js";

export type TableConnection = { connectionString: string } | { endpoint: string; credential: TokenCredential };

/** The Table service's own error code (RestError.code is empty for data-tables; it sits in the OData body). */
export function tableErrorCode(e: unknown): string | undefined {
  if (!(e instanceof RestError)) return undefined;
  const details = e.details as { odataError?: { code?: string }; errorCode?: string } | undefined;
  return details?.odataError?.code ?? details?.errorCode ?? e.code;
}

export function statusOf(e: unknown): number | undefined {
  return e instanceof RestError ? e.statusCode : undefined;
}

/**
 * One table, created lazily (and again if it vanished, as after an Azurite restart). Outages
 * become STORAGE_UNAVAILABLE without any connection detail in the message.
 */
export class LazyTable {
  readonly client: TableClient;
  private ready: Promise<void> | undefined;

  constructor(connection: TableConnection, tableName: string) {
    const options = {
      retryOptions: { maxRetries: 3, retryDelayInMs: 100, maxRetryDelayInMs: 1000 },
      additionalPolicies: [{ policy: tableCallCounterPolicy, position: "perRetry" as const }],
    };
    if ("connectionString" in connection) {
      const insecure = /(TableEndpoint|DefaultEndpointsProtocol)=http(;|:)/i.test(connection.connectionString) || /UseDevelopmentStorage=true/i.test(connection.connectionString);
      this.client = TableClient.fromConnectionString(connection.connectionString, tableName, { ...options, allowInsecureConnection: insecure });
    } else {
      this.client = new TableClient(connection.endpoint, tableName, connection.credential, { ...options, allowInsecureConnection: connection.endpoint.startsWith("http://") });
    }
  }

  private ensure(): Promise<void> {
    this.ready ??= this.client.createTable().catch((e: unknown) => {
      this.ready = undefined;
      if (tableErrorCode(e) === "TableAlreadyExists" || statusOf(e) === 409) return;
      throw e;
    });
    return this.ready;
  }

  /** Runs an operation on the table, creating it first (once more if it disappeared). */
  async run<T>(operation: (client: TableClient) => Promise<T>): Promise<T> {
    try {
      await this.ensure();
      try {
        return await operation(this.client);
      } catch (e) {
        if (tableErrorCode(e) !== "TableNotFound") throw e;
        this.ready = undefined;
        await this.ensure();
        return await operation(this.client);
      }
    } catch (e) {
      throw translate(e);
    }
  }
}

/** Expected answers (404, 409, 412) pass through for the stores to interpret; the rest is an outage. */
function translate(e: unknown): unknown {
  if (e instanceof AppError) return e;
  const status = statusOf(e);
  if (status === 404 || status === 409 || status === 412) return e;
  return new AppError("STORAGE_UNAVAILABLE", { cause: e });
}


