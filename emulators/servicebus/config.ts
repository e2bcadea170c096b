/** The peer's configuration: queues and shared access policies, mirroring infra/. */
export type Right = "Manage" | "Send" | "Listen";

export interface PolicyDef {
  name: string;
  /** The key string as Azure shows it (used as-is, UTF-8, for HMAC-SHA256). */
  key: string;
  rights: Right[];
  /** Scope the policy to one queue; namespace-wide when absent. */
  queue?: string;
}

export interface QueueDef {
  name: string;
  requiresSession?: boolean;
  /** ISO 8601 duration ("PT2M") or milliseconds. */
  defaultMessageTimeToLive?: string | number;
  lockDuration?: string | number;
  maxDeliveryCount?: number;
  deadLetteringOnMessageExpiration?: boolean;
}

export interface PeerConfig {
  policies: PolicyDef[];
  queues: QueueDef[];
}

/** ISO 8601 duration (days and time parts) or milliseconds → milliseconds. */
export function durationMs(value: string | number | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  if (typeof value === "number") return value;
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value);
  if (m === null) throw new Error(`not an ISO 8601 duration: ${value}`);
  const [, d, h, min, s] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Number(s ?? 0) * 1000;
}
