import { loadConfig } from "../config/config.js";
import { jsonLogger } from "../adapters/logging/json-logger.js";
import { configureDefaultServices } from "./services.js";

// The Azure SDKs are most of a cold start (~400 ms of module loading here): they load on the
// first invocation that needs services, not while the host imports and indexes the functions
// (health, for one, never needs them).
const loadWiring = () => import("./build-services.js");

/**
 * Installed by every function module (unless a host such as the local stack installed its
 * own first): the first invocation validates the settings (failing with the names of the
 * bad ones) and wires the Azure adapters; later ones reuse them.
 */
configureDefaultServices(async () => {
  const logger = jsonLogger();
  const config = loadConfig(process.env);
  const { buildServices, startTelemetry } = await loadWiring();
  const telemetry = await startTelemetry(config, logger);
  const built = await buildServices(config, logger, undefined, { telemetry });
  // Opening the reply session early spares the first caller the wait.
  built.relay.start().catch(() => logger.warn("reply receiver not started yet; the first request retries"));
  return built.services;
});
