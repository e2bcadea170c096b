import { AgentConfigError, type AgentConfig } from "../config/agent-config.js";
import type { DirectoryService } from "./directory.port.js";
import { directoryFromSeedFile } from "./embedded/seed.js";

/** The directory the configuration names. This build writes to the embedded directory; LDAPS to AD is not included yet. */
export async function createDirectory(config: AgentConfig["directory"]): Promise<DirectoryService> {
  if (config.kind === "embedded") return directoryFromSeedFile(config.seedFile);
  throw new AgentConfigError('directory.kind "ldap": the LDAPS adapter for Active Directory is not part of this build yet; use "embedded".');
}
