import type { ServiceBusClient } from "@azure/service-bus";
import type { DirectoryService } from "../directory/directory.port.js";
import { errorCode } from "../../shared/errors/error-code.js";

export interface CheckLine {
  check: string;
  ok: boolean;
  detail: string;
}

/**
 * `agent check`: can this agent do its job? Listen on its queue (a peek), send on
 * agent-events, and for each domain reach a DC and the PDC emulator (discovered from
 * fSMORoleOwner; writes go there) over LDAPS and read the policy.
 */
export async function checkAgent(o: { client: ServiceBusClient; tenantQueue: string; directory: DirectoryService; sendTestEvent: () => Promise<void> }): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const receiver = o.client.createReceiver(o.tenantQueue, { receiveMode: "peekLock" });
  try {
    await receiver.peekMessages(1);
    lines.push({ check: `listen on ${o.tenantQueue}`, ok: true, detail: "authorized" });
  } catch (e) {
    lines.push({ check: `listen on ${o.tenantQueue}`, ok: false, detail: errorCode(e) ?? "failed" });
  } finally {
    await receiver.close().catch(() => {});
  }
  try {
    await o.sendTestEvent();
    lines.push({ check: "send on agent-events", ok: true, detail: "heartbeat sent" });
  } catch (e) {
    lines.push({ check: "send on agent-events", ok: false, detail: errorCode(e) ?? "failed" });
  }
  const health = await o.directory.health().catch(() => []);
  if (health.length === 0) lines.push({ check: "directory", ok: false, detail: "no domain configured or reachable" });
  for (const h of health) {
    lines.push({ check: `domain ${h.domain} over LDAPS`, ok: h.status === "healthy", detail: h.detail ?? h.status });
    if (h.pdcEmulator !== undefined) {
      const { host, reachable } = h.pdcEmulator;
      lines.push({ check: `PDC emulator of ${h.domain} (writes)`, ok: reachable, detail: reachable ? `${host}, reachable over LDAPS` : `${host}, not reachable over LDAPS: password writes are refused` });
    }
    if (h.status !== "unreachable") {
      try {
        const p = await o.directory.passwordPolicy(h.domain);
        lines.push({ check: `password policy of ${h.domain}`, ok: true, detail: `min length ${p.minLength}, complexity ${p.complexity ? "on" : "off"}, history ${p.historyLength}` });
      } catch {
        lines.push({ check: `password policy of ${h.domain}`, ok: false, detail: "not readable with the agent's account" });
      }
    }
  }
  return lines;
}
