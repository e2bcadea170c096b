import assert from "node:assert/strict";
import { Socket } from "node:net";
import { afterAll, beforeAll, test } from "vitest";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { startServiceBusPeerForTests, type TestPeer } from "../../support/servicebus.js";

// Nagle on the SDK's socket costs ~40 ms per reply (delayed ACK); the SDK offers no option, so
// this proves our switch reaches the sockets the real SDK opens.
let peer: TestPeer;
beforeAll(async () => {
  peer = await startServiceBusPeerForTests();
});
afterAll(async () => {
  await peer?.stop();
});

test("the Service Bus SDK's client sockets are opened with TCP_NODELAY", async () => {
  const noDelaySockets: Socket[] = [];
  const original = Socket.prototype.setNoDelay;
  Socket.prototype.setNoDelay = function (this: Socket, noDelay?: boolean) {
    if (noDelay !== false) noDelaySockets.push(this);
    return original.call(this, noDelay);
  };
  const client = createServiceBusClient({ connectionString: peer.connectionString });
  try {
    const sender = client.createSender("agent-events");
    await sender.sendMessages({ body: "ping" });
    // Sockets the client connected to the peer (the peer's own accepted sockets have it as localPort).
    const clientSockets = noDelaySockets.filter((s) => s.remotePort === peer.peer.port);
    assert.ok(clientSockets.length >= 1, `no client socket to port ${peer.peer.port} had TCP_NODELAY`);
    await sender.close();
  } finally {
    Socket.prototype.setNoDelay = original;
    await client.close();
  }
});
