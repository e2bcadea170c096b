import assert from "node:assert/strict";
import { test } from "vitest";
import { isServiceBusError } from "@azure/service-bus";
import { startServiceBusPeerProcess } from "../../../emulators/servicebus/peer-control.js";
import { createServiceBusClient } from "../../../shared/adapters/servicebus/connection.js";
import { localPeerConfig, ROOT_POLICY } from "../../support/servicebus.js";

// The peer in a process of its own (what the benchmark uses), controlled over IPC and driven
// by the real SDK: queues and policies added at run time work, stats count, restart and stop
// behave, and the child never outlives its control.

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("a peer process serves the SDK with queues and policies added at run time, restarts, and stops for good", async () => {
  const peer = await startServiceBusPeerProcess({ port: 0, config: localPeerConfig() });
  assert.ok(alive(peer.pid));
  assert.ok(peer.port > 0);
  await peer.addQueue({ name: "process-q" });
  await peer.addPolicy({ name: "process-q-only", key: "cHJvY2Vzcy1xLW9ubHktbG9jYWwtdGVzdC1rZXk=", rights: ["Send", "Listen"], queue: "process-q" });
  const scoped = createServiceBusClient({ connectionString: peer.connectionString("process-q-only") }, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
  const root = createServiceBusClient({ connectionString: peer.connectionString(ROOT_POLICY) });
  let ok = false;
  try {
    await scoped.createSender("process-q").sendMessages({ body: Buffer.from("over ipc"), messageId: "m-1" });
    const receiver = scoped.createReceiver("process-q", { skipParsingBodyAsJson: true });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.equal(Buffer.from(m?.body as Buffer).toString(), "over ipc");
    await receiver.completeMessage(m!);
    // The scoped policy is refused elsewhere: the policy reached the child with its scope.
    await assert.rejects(scoped.createSender("agent-events").sendMessages({ body: "x" }), (e: unknown) => isServiceBusError(e) && e.code === "UnauthorizedAccess");
    const stats = await peer.stats();
    assert.ok(stats.messagesSent >= 1 && stats.messagesDelivered >= 1);

    await peer.restart();
    await root.createSender("process-q").sendMessages({ body: Buffer.from("after restart") });
    const again = root.createReceiver("process-q", { receiveMode: "receiveAndDelete", skipParsingBodyAsJson: true });
    const [n] = await again.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    assert.equal(Buffer.from(n?.body as Buffer).toString(), "after restart");
    ok = true;
  } finally {
    await scoped.close();
    await root.close();
    if (!ok) await peer.stop();
  }
  const pid = peer.pid;
  await peer.stop();
  assert.equal(alive(pid), false);
  await assert.rejects(peer.stats(), /exited/);
  await peer.stop(); // idempotent
});
