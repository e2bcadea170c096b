import type { ServiceBusClient } from "@azure/service-bus";
import type { DirectoryService } from "../directory/directory.port.js";
import { errorCode } from "../../shared/errors/error-code.js";

export interface CheckLine {
  check: string;
  ok: boolean;
  detail: string;
}

/** What an AD directory adds to `agent check` (the embedded directory has neither). */
export interface DirectoryDiagnostics {
  probeDomainControllers(domain: string): Promise<{ url: string; ok: boolean; detail: string }[]>;
  checkRights(domain: string, sampleDn?: string): Promise<{ sample: string; sampleKind: "user" | "container"; rights: { right: string; ok: boolean; fix: string }[] }>;
}

function hasDiagnostics(d: DirectoryService): d is DirectoryService & DirectoryDiagnostics {
  return typeof (d as Partial<DirectoryDiagnostics>).checkRights === "function" && typeof (d as Partial<DirectoryDiagnostics>).probeDomainControllers === "function";
}

/**
 * `agent check`: can this agent do its job? Listen on its queue (a peek), send on
 * agent-events, and for each domain: LDAPS to each configured DC, the PDC emulator (discovered
 * from fSMORoleOwner; writes go there), the policy, and the service account's effective rights
 * (Reset Password, Change Password, write lockoutTime and pwdLastSet) on a sample user or OU.
 * Each line is ok or FAIL with what to fix.
 */
export async function checkAgent(o: {
  client: ServiceBusClient;
  tenantQueue: string;
  directory: DirectoryService;
  sendTestEvent: () => Promise<void>;
  /** Per domain: the user or OU whose rights to check (default: the first non-protected user found). */
  sampleDn?: (domain: string) => string | undefined;
}): Promise<CheckLine[]> {
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
    if (hasDiagnostics(o.directory)) {
      for (const dc of await o.directory.probeDomainControllers(h.domain)) {
        lines.push({ check: `LDAPS to ${dc.url} (${h.domain})`, ok: dc.ok, detail: dc.ok ? dc.detail : `${dc.detail}: check the DC is up, port 636 is open from this server, its certificate is issued by caFile's CA for the name used` });
      }
    }
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
      if (hasDiagnostics(o.directory)) {
        try {
          const r = await o.directory.checkRights(h.domain, o.sampleDn?.(h.domain));
          for (const right of r.rights) {
            lines.push({ check: `${right.right} (${h.domain}, ${r.sampleKind} ${r.sample})`, ok: right.ok, detail: right.ok ? "granted" : right.fix });
          }
        } catch (e) {
          lines.push({ check: `rights of the service account in ${h.domain}`, ok: false, detail: `${(e as { code?: string }).code ?? "error"}: ${e instanceof Error ? e.message : ""} (set directory.domains[].sampleDn to a user or OU the agent writes to)` });
        }
      }
    }
  }
  return lines;
}
