import type { AgentConfig } from "../config/agent-config.js";
import type { Logger } from "../../shared/ports/logger.port.js";
import type { DirectoryService } from "./directory.port.js";
import { directoryFromSeedFile } from "./embedded/seed.js";
import { LdapDirectory } from "./ldap/ldap-directory.js";

/** The directory the configuration names: the embedded one (local stack, tests) or AD over LDAPS. */
export async function createDirectory(config: AgentConfig["directory"], options: { logger?: Logger } = {}): Promise<DirectoryService> {
  if (config.kind === "embedded") return directoryFromSeedFile(config.seedFile, config.writeLatencyMs === undefined ? {} : { writeLatencyMs: config.writeLatencyMs });
  return LdapDirectory.fromConfig(config.domains, options.logger === undefined ? {} : { logger: options.logger });
}
