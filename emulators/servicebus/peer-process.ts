// The Service Bus peer as a child process controlled over IPC (see peer-control.ts).
import type { PeerConfig } from "./config.js";
import type { PeerAnswer, PeerCommand } from "./peer-control.js";
import { startServiceBusPeer, type ServiceBusPeer } from "./peer.js";

const send = (m: PeerAnswer) => process.send?.(m);
let peer: ServiceBusPeer | undefined;

process.on("message", (m: { config: PeerConfig } | PeerCommand) => {
  if ("config" in m) {
    startServiceBusPeer({ port: Number(process.argv[2] ?? 0), config: m.config }).then(
      (p) => {
        peer = p;
        send({ ready: { port: p.port, host: p.host } });
      },
      (e: unknown) => {
        console.error(`Service Bus peer could not start: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
    return;
  }
  void answer(m);
});
// The parent is gone: no orphan peer holding a port.
process.on("disconnect", () => void (peer?.stop() ?? Promise.resolve()).finally(() => process.exit(0)));

async function answer(c: PeerCommand): Promise<void> {
  try {
    if (peer === undefined) throw new Error("not started");
    switch (c.op) {
      case "addQueue":
        peer.addQueue(c.def);
        return void send({ id: c.id, ok: true });
      case "addPolicy":
        peer.addPolicy(c.def);
        return void send({ id: c.id, ok: true });
      case "stats":
        return void send({ id: c.id, ok: true, value: peer.stats() });
      case "restart":
        await peer.restart();
        return void send({ id: c.id, ok: true });
      case "stop":
        await peer.stop();
        send({ id: c.id, ok: true });
        process.disconnect();
        return;
    }
  } catch (e) {
    send({ id: c.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
}
