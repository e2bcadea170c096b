import { readFileSync } from "node:fs";
import type { PeerConfig, PolicyDef, QueueDef } from "../../emulators/servicebus/config.js";
import { startServiceBusPeer, type ServiceBusPeer } from "../../emulators/servicebus/peer.js";

export const ROOT_POLICY = "RootManageSharedAccessKey";

export function localPeerConfig(): PeerConfig {
  return JSON.parse(readFileSync(new URL("../../emulators/servicebus/config.json", import.meta.url), "utf8")) as PeerConfig;
}

export interface TestPeer {
  peer: ServiceBusPeer;
  /** Namespace-wide Manage connection string. */
  connectionString: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A peer of its own on a free port: the local queues plus the test's. */
export async function startServiceBusPeerForTests(extra: { queues?: QueueDef[]; policies?: PolicyDef[] } = {}): Promise<TestPeer> {
  const base = localPeerConfig();
  const peer = await startServiceBusPeer({ port: 0, config: { policies: [...base.policies, ...(extra.policies ?? [])], queues: [...base.queues, ...(extra.queues ?? [])] } });
  return { peer, connectionString: peer.connectionString(ROOT_POLICY), restart: () => peer.restart(), stop: () => peer.stop() };
}
