import { readdirSync, readFileSync } from "node:fs";
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { loadUsers, userRef } from "../dev/demo-tenant.js";
import type { LocalStackHandle } from "../dev/local-stack-handle.js";
import { KeepAliveClient } from "./keep-alive-client.js";

export interface LatencyLevel {
  concurrency: number;
  requests: number;
  failures: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  throughputPerSecond: number;
  /** CPU used per process during the level, in % of one core (Linux /proc; empty elsewhere). */
  cpuPercent?: Record<string, number>;
  /** Runs on Table storage: Table calls per reset during the level, and rounds (calls started while none was in flight) per reset. */
  tableCallsPerReset?: number;
  tableRoundsPerReset?: number;
}

export interface MemorySample {
  afterRequests: number;
  functionAppRssMb: number;
  functionAppHeapMb: number;
  agentRssMb: number | undefined;
}

function poster(base: string) {
  const url = new URL(base);
  const client = new KeepAliveClient(url.hostname, Number(url.port));
  const prefix = url.pathname.replace(/\/$/, "");
  return (path: string, headers: Record<string, string>, body: string) => client.post(`${prefix}${path}`, headers, body);
}

/** One password reset through the public API of the running stack; returns its latency and outcome. */
export function resetCaller(stack: Pick<LocalStackHandle, "apiBase" | "tenantId" | "operateToken">, userCount: number) {
  const users = loadUsers(userCount);
  const post = poster(stack.apiBase);
  let n = 0;
  return async (): Promise<{ ms: number; code: string }> => {
    n += 1;
    const u = users[n % users.length];
    if (u === undefined) throw new Error("no users");
    const body = JSON.stringify({
      requestId: randomUUID(),
      user: userRef(u),
      newPassword: `Bench-${n}-${randomUUID().slice(0, 6)}-aA1!`,
      initiator: { kind: "user", channel: "ssprPortal" },
    });
    const t0 = performance.now();
    const res = await post(`/v1/tenants/${stack.tenantId}/password-resets`, { Authorization: `Bearer ${stack.operateToken}`, "Content-Type": "application/json" }, body);
    const ms = performance.now() - t0;
    if (res.status >= 200 && res.status < 300) return { ms, code: "ok" };
    let code = `HTTP_${res.status}`;
    try {
      code = (JSON.parse(res.text) as { error?: { code?: string } }).error?.code ?? code;
    } catch {
      // not JSON: keep the status
    }
    return { ms, code };
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] ?? NaN) * 100) / 100;
}

const TICKS_PER_SECOND = 100;

function cpuTicks(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** Who uses the CPU: this process (function app, peers, load generator), the agent, Azurite. */
export function cpuProbe(agentPid: () => number | undefined, selfLabel = "function app + Service Bus/Key Vault peers + load generator", agentLabel = "agent", others: Record<number, string> = {}): () => Record<string, number> {
  const named = (): Record<string, number> => {
    const out: Record<string, number> = {};
    const self = cpuTicks(process.pid);
    if (self !== undefined) out[selfLabel] = self;
    const agent = agentPid();
    for (const child of childPids(process.pid)) {
      const t = cpuTicks(child);
      if (t === undefined) continue;
      if (child === agent) out[agentLabel] = t;
      else if (others[child] !== undefined) out[others[child]] = t;
      else if (/azurite/.test(cmdline(child))) out["Azurite (table emulator)"] = t;
      else if (/servicebus\/peer-process/.test(cmdline(child))) out["Service Bus peer"] = t;
    }
    return out;
  };
  let last = named();
  let lastAt = performance.now();
  return () => {
    const now = named();
    const at = performance.now();
    const seconds = (at - lastAt) / 1000;
    const out: Record<string, number> = {};
    // One decimal: at a few resets per second (a loaded machine, Azurite) whole percents are too coarse for CPU per reset.
    for (const [k, v] of Object.entries(now)) out[k] = Math.round(((v - (last[k] ?? v)) / TICKS_PER_SECOND / seconds) * 1000) / 10;
    last = now;
    lastAt = at;
    return out;
  };
}

/** `requests` resets with `concurrency` callers in flight at all times (closed loop). */
export async function measureLevel(call: () => Promise<{ ms: number; code: string }>, concurrency: number, requests: number): Promise<LatencyLevel> {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let issued = 0;
  const start = performance.now();
  const worker = async () => {
    while (issued < requests) {
      issued += 1;
      const r = await call();
      if (r.code === "ok") latencies.push(r.ms);
      else failures[r.code] = (failures[r.code] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    requests,
    failures,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    meanMs: Math.round((latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)) * 100) / 100,
    throughputPerSecond: Math.round(latencies.length / seconds),
  };
}

/** Resident memory of a process from /proc (Linux); undefined elsewhere or when it is gone. */
export function rssMbOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1] === undefined ? undefined : Math.round(Number(m[1]) / 102.4) / 10;
  } catch {
    return undefined;
  }
}

export function memorySample(stack: LocalStackHandle, afterRequests: number): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m = process.memoryUsage();
  return {
    afterRequests,
    functionAppRssMb: Math.round(m.rss / 104857.6) / 10,
    functionAppHeapMb: Math.round(m.heapUsed / 104857.6) / 10,
    agentRssMb: rssMbOf(stack.agent.pid()),
  };
}

/** Runs levels in a load generator process of its own (load-generator.ts); its CPU is reported under its name. */
export function remoteLoad(target: { apiBase: string; tenantId: string; operateToken: string; users: number }) {
  const child = fork(new URL("./load-generator.ts", import.meta.url), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  child.send({ target });
  let next = 0;
  const waiting = new Map<number, (level: LatencyLevel) => void>();
  child.on("message", (m: { id: number; level: LatencyLevel }) => waiting.get(m.id)?.(m.level));
  return {
    pid: child.pid,
    level(concurrency: number, requests: number): Promise<LatencyLevel> {
      const id = ++next;
      return new Promise((resolve, reject) => {
        const gone = () => reject(new Error("the load generator exited"));
        child.once("exit", gone);
        waiting.set(id, (level) => {
          waiting.delete(id);
          child.off("exit", gone);
          resolve(level);
        });
        child.send({ id, concurrency, requests });
      });
    },
    close(): Promise<void> {
      if (child.exitCode !== null) return Promise.resolve();
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.disconnect();
      return exited;
    },
  };
}
