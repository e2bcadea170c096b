/**
 * Stopping the agent (SIGTERM, as systemd and `docker stop` do): it takes no new request,
 * finishes those in hand (reply sent, message completed) and exits cleanly; a request that
 * arrives while it drains stays on the queue and is served by the next start.
 * The embedded directory takes 1.5 s per write here, so a request is in hand when the signal comes.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, test } from "vitest";
import { DEMO_TENANT_ID, demoUser, userRef } from "../../dev/demo-tenant.js";
import type { LocalStackHandle } from "../../dev/local-stack-handle.js";
import { startLocalStack } from "../../dev/local-stack.js";
import { waitFor } from "../../dev/processes.js";

const WRITE_MS = 1500;
let stack: LocalStackHandle;

beforeAll(async () => {
  stack = await startLocalStack({ ports: "free", quiet: true, agentWriteLatencyMs: WRITE_MS, replyTimeoutMs: 20_000, messageTtlSeconds: 60, rateLimitMaxOperations: 1000 });
});
afterAll(async () => {
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reset(sAMAccountName: string, requestId: string) {
  const res = await fetch(`${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}/password-resets`, {
    method: "POST",
    headers: { Authorization: `Bearer ${stack.operateToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ requestId, user: userRef(demoUser(sAMAccountName)), newPassword: `Drain-${randomUUID().slice(0, 8)}-aA1!`, initiator: { kind: "user", channel: "ssprPortal" } }),
  });
  return { requestId, status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

test("SIGTERM: the request in hand completes, a new one waits for the next start, the agent exits cleanly", async () => {
  const pid = stack.agent.pid();
  assert.ok(pid !== undefined);
  const firstId = randomUUID();
  const duringId = randomUUID();
  const inHand = reset("alice", firstId);
  // The agent has it once it is in the directory's (slow) write.
  await sleep(WRITE_MS / 3);
  const signalledAt = Date.now();
  process.kill(pid, "SIGTERM");
  await sleep(100);
  const during = reset("bob", duringId);

  const first = await inHand;
  assert.equal(first.status, 200, JSON.stringify(first.body));
  await waitFor(async () => !stack.agent.running(), 20_000, "the agent's exit");
  const stoppedMs = Date.now() - signalledAt;
  const log = stack.agent.output();
  const handled = log.indexOf(`"requestId":"${firstId}"`);
  const stopped = log.indexOf('"message":"agent stopped"');
  assert.ok(log.includes('"message":"stopping: draining requests in hand"'), "the drain is logged");
  assert.ok(handled >= 0 && stopped > handled, "the request was answered before the agent stopped");
  assert.ok(!log.includes(`"requestId":"${duringId}"`), "the draining agent did not handle the later request");
  assert.ok(stoppedMs < WRITE_MS + 10_000, `stopped ${stoppedMs} ms after the signal`);

  // The request that came during the drain was not taken: the next start serves it.
  await stack.agent.start();
  const second = await during;
  assert.equal(second.status, 200, JSON.stringify(second.body));
  const afterRestart = stack.agent.output().slice(stopped);
  assert.ok(afterRestart.includes(`"requestId":"${duringId}"`), "served by the restarted agent");
  console.log(`[drain] in-hand request answered, agent exited ${stoppedMs} ms after SIGTERM; the request sent during the drain was served after the restart`);
});
