import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { startServiceBusPeer } from "../emulators/servicebus/peer.js";
import type { PeerConfig } from "../emulators/servicebus/config.js";
import { createServiceBusClient } from "../shared/adapters/servicebus/connection.js";
import { tenantQueueName } from "../shared/adapters/servicebus/queue-names.js";
import { ServiceBusRelayClient } from "../shared/adapters/servicebus/relay-client.js";
import { silentLogger } from "../shared/ports/logger.port.js";
import { cpuProbe, measureLevel, type LatencyLevel } from "./measure-end-to-end.js";

/**
 * The relay alone, laid out like the resets (relay client and peer in this process, the
 * agent's transport in another) but with an agent that answers at once: what
 * two Service Bus hops through the real SDK and the local peer cost on this machine. The
 * password resets cannot go faster than this, whatever the product does.
 */
export async function measureRelayCeiling(levels: [number, number][], warmUp: number, sizes: { requestBytes: number; replyBytes: number }): Promise<LatencyLevel[]> {
  const config = JSON.parse(readFileSync(new URL("../emulators/servicebus/config.json", import.meta.url), "utf8")) as PeerConfig;
  const peer = await startServiceBusPeer({ port: 0, config });
  const tenantId = randomUUID();
  const queue = tenantQueueName(tenantId);
  peer.addQueue({ name: queue, requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT1M", maxDeliveryCount: 5 });
  const connectionString = peer.connectionString("RootManageSharedAccessKey");
  const echo = spawn(process.execPath, ["--import", "tsx", new URL("./echo-agent.ts", import.meta.url).pathname, connectionString, queue, String(sizes.replyBytes)], { stdio: ["ignore", "inherit", "inherit"] });
  const client = createServiceBusClient({ connectionString });
  const relay = new ServiceBusRelayClient<number>({ client, repliesQueue: "replies", instanceId: `ceiling-${randomUUID()}`, openReply: async (m) => m.body.length, isUntrusted: () => false, logger: silentLogger });
  const body = randomBytes(sizes.requestBytes);
  const call = async () => {
    const t0 = performance.now();
    try {
      await relay.request({ tenantId, requestId: randomUUID(), body, expiresAt: new Date(Date.now() + 60_000) }, { timeoutMs: 30_000 });
      return { ms: performance.now() - t0, code: "ok" };
    } catch (e) {
      return { ms: performance.now() - t0, code: (e as { code?: string }).code ?? "error" };
    }
  };
  try {
    await measureLevel(call, 4, 100); // the first calls also wait for the echo agent to connect
    await measureLevel(call, 50, warmUp);
    const out: LatencyLevel[] = [];
    for (const [concurrency, requests] of levels) {
      const cpu = cpuProbe(() => echo.pid, "relay client + Service Bus peer + load generator", "echo agent");
      const level = await measureLevel(call, concurrency, requests);
      level.cpuPercent = cpu();
      out.push(level);
    }
    return out;
  } finally {
    await relay.close();
    await client.close();
    const exited = new Promise((r) => echo.once("exit", r));
    echo.kill("SIGTERM");
    await exited;
    await peer.stop();
  }
}
