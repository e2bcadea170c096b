/**
 * The load generator as a process of its own (fork, IPC): the clients of a real deployment
 * are not on the function app's machine, and here they would otherwise take the function
 * app's event loop. Each message asks for one closed-loop level and gets its figures back.
 */
import { measureLevel, resetCaller } from "./measure-end-to-end.js";

export interface LoadTarget {
  apiBase: string;
  tenantId: string;
  operateToken: string;
  users: number;
}

type Ask = { target: LoadTarget } | { id: number; concurrency: number; requests: number };

let call: ReturnType<typeof resetCaller> | undefined;
process.on("message", (m: Ask) => {
  if ("target" in m) {
    call = resetCaller(m.target, m.target.users);
    return;
  }
  if (call === undefined) throw new Error("no target yet");
  void measureLevel(call, m.concurrency, m.requests).then((level) => process.send?.({ id: m.id, level }));
});
process.on("disconnect", () => process.exit(0));
