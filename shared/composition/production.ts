import { loadConfig } from "../config/config.js";
import { jsonLogger } from "../adapters/logging/json-logger.js";
import { configureDefaultServices } from "./services.js";

// The Azure SDKs are most of a cold start. Load them beside the host's start-up (function
// indexing, its first gRPC exchanges) instead of inside every function module's import.
const wiring = import("./build-services.js");
wiring.catch(() => {}); // surfaced on the first invocation, with the rest of the start-up errors

/**
 * Installed by every function module (unless a host such as the local stack installed its
 * own first): the first invocation validates the settings (failing with the names of the
 * bad ones) and wires the Azure adapters; later ones reuse them.
 */
configureDefaultServices(async () => {
  const logger = jsonLogger();
  const { buildServices } = await wiring;
  const built = await buildServices(loadConfig(process.env), logger);
  // Opening the reply session early spares the first caller the wait.
  built.relay.start().catch(() => logger.warn("reply receiver not started yet; the first request retries"));
  return built.services;
});
