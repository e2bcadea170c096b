import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { PeerConfig, PolicyDef, QueueDef } from "./config.js";
import { peerConnectionString, type PeerStats, type ServiceBusPeer } from "./peer.js";

/**
 * What a local stack needs of its Service Bus peer, wherever the peer runs: in the caller's
 * process, or in a process of its own (benchmarks: so the peer does not share the function
 * app's event loop, as Azure's Service Bus would not).
 */
export interface ServiceBusPeerControl {
  readonly port: number;
  readonly host: string;
  /** The peer's process id when it runs in its own process. */
  readonly pid: number | undefined;
  connectionString(policyName: string): string;
  addQueue(def: QueueDef): Promise<void>;
  addPolicy(def: PolicyDef): Promise<void>;
  stats(): Promise<PeerStats>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function controlInProcess(peer: ServiceBusPeer): ServiceBusPeerControl {
  return {
    get port() {
      return peer.port;
    },
    host: peer.host,
    pid: undefined,
    connectionString: (name) => peer.connectionString(name),
    addQueue: async (def) => peer.addQueue(def),
    addPolicy: async (def) => peer.addPolicy(def),
    stats: async () => peer.stats(),
    restart: () => peer.restart(),
    stop: () => peer.stop(),
  };
}

/** The IPC messages between the control and the peer process (peer-process.ts). */
export type PeerCommand = { id: string; op: "addQueue"; def: QueueDef } | { id: string; op: "addPolicy"; def: PolicyDef } | { id: string; op: "stats" | "restart" | "stop" };
export type PeerAnswer = { id: string; ok: true; value?: unknown } | { id: string; ok: false; error: string } | { ready: { port: number; host: string } };
type Command = PeerCommand extends infer C ? (C extends unknown ? Omit<C, "id"> : never) : never;

const START_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 15_000;

/** Starts the peer in a child Node process (with the caller's loader flags, e.g. tsx) and controls it over IPC. */
export async function startServiceBusPeerProcess(options: { port: number; config: PeerConfig }): Promise<ServiceBusPeerControl> {
  const entry = new URL(`./peer-process${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);
  // A TypeScript entry needs a loader: the caller's (tsx), or tsx when the caller transforms
  // its modules itself (vitest) and so has none on its command line.
  const execArgv = loaderFlags(process.execArgv);
  if (entry.pathname.endsWith(".ts") && !execArgv.some((f) => f.includes("tsx"))) execArgv.push("--import", "tsx");
  const child: ChildProcess = fork(entry, [String(options.port)], { execArgv, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const pending = new Map<string, { resolve(v: unknown): void; reject(e: Error): void }>();
  const policies: PolicyDef[] = [...options.config.policies];
  let exited = false;
  const ready = new Promise<{ port: number; host: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the Service Bus peer process did not start")), START_TIMEOUT_MS);
    child.on("message", (m: PeerAnswer) => {
      if ("ready" in m) {
        clearTimeout(timer);
        resolve(m.ready);
        return;
      }
      const waiter = pending.get(m.id);
      if (waiter === undefined) return;
      pending.delete(m.id);
      if (m.ok) waiter.resolve(m.value);
      else waiter.reject(new Error(m.error));
    });
    child.once("exit", (code, signal) => {
      exited = true;
      clearTimeout(timer);
      const gone = new Error(`the Service Bus peer process exited (${signal ?? code})`);
      reject(gone);
      for (const w of pending.values()) w.reject(gone);
      pending.clear();
    });
  });
  child.send({ config: options.config });
  const where = await ready.catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });

  const command = <T>(c: Command): Promise<T> => {
    if (exited) return Promise.reject(new Error("the Service Bus peer process has exited"));
    const id = randomUUID();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`the Service Bus peer process did not answer ${c.op}`));
      }, COMMAND_TIMEOUT_MS);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ ...c, id });
    });
  };

  return {
    port: where.port,
    host: where.host,
    pid: child.pid,
    connectionString(name) {
      const policy = policies.find((p) => p.name === name);
      if (policy === undefined) throw new Error(`no policy ${name}`);
      return peerConnectionString(where.host, where.port, policy);
    },
    addQueue: (def) => command({ op: "addQueue", def }),
    async addPolicy(def) {
      await command({ op: "addPolicy", def });
      policies.push(def);
    },
    stats: () => command<PeerStats>({ op: "stats" }),
    restart: () => command({ op: "restart" }),
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      await command({ op: "stop" }).catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** The caller's module-loader flags (tsx when running from source), nothing else (no test-runner or profiler flags). */
function loaderFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? "";
    if (/^--(import|require|loader|experimental-loader)=/.test(flag)) out.push(flag);
    else if (/^--(import|require|loader|experimental-loader)$/.test(flag) && argv[i + 1] !== undefined) out.push(flag, argv[++i] ?? "");
    else if (flag === "-r" && argv[i + 1] !== undefined) out.push(flag, argv[++i] ?? "");
  }
  return out;
}
