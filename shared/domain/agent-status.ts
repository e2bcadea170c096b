export type AgentStatus = "online" | "offline" | "never";

/** The agent is online while its last heartbeat is younger than the window. */
export function agentStatus(lastHeartbeatAt: Date | undefined, now: Date, windowSeconds: number): AgentStatus {
  if (lastHeartbeatAt === undefined) return "never";
  return now.getTime() - lastHeartbeatAt.getTime() <= windowSeconds * 1000 ? "online" : "offline";
}
