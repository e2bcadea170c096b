import type { TokenCredential } from "@azure/core-auth";

/**
 * Sends traces and metrics to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING
 * is set. The ingestion endpoint has local (key) authentication off, so the exporter signs in
 * with the app's identity (Monitoring Metrics Publisher on the component). The package and its
 * SDK load only here, and only then: a deployment without the setting, and every cold start
 * before the first invocation, pay nothing for them.
 */
export async function startAzureMonitor(connectionString: string, credential: TokenCredential): Promise<{ shutdown(): Promise<void> }> {
  const { useAzureMonitor, shutdownAzureMonitor } = await import("@azure/monitor-opentelemetry");
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, credential },
    // HTTP client instrumentation would record the Key Vault and Table URLs; the Azure SDK
    // instrumentation already records those dependencies with their own attributes.
    instrumentationOptions: { http: { enabled: false }, azureSdk: { enabled: true } },
    enableLiveMetrics: false,
  });
  return { shutdown: () => shutdownAzureMonitor() };
}
