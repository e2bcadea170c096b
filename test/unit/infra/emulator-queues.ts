import assert from "node:assert/strict";

/** Queue properties compared between infra/ and the local Service Bus peer's configuration. */
export interface QueueSpec {
  requiresSession: boolean;
  defaultMessageTimeToLive: string;
  lockDuration: string;
  maxDeliveryCount: number;
  deadLetteringOnMessageExpiration: boolean;
}

/** ISO-8601 durations as Service Bus uses them (PT2M, PT10M, PT1M, PT120S). */
export function seconds(duration: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(duration);
  if (m === null) throw new Error(`not a duration: ${duration}`);
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

/** Queues from the peer's config, tolerant of layout and casing ({queues:[...]}, the official emulator's UserConfig, Properties sub-objects). */
export function emulatorQueues(config: unknown): Map<string, Record<string, unknown>> {
  const found = new Map<string, Record<string, unknown>>();
  const lower = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
  const visit = (v: unknown, underQueues: boolean): void => {
    if (Array.isArray(v)) return v.forEach((x) => visit(x, underQueues));
    if (typeof v !== "object" || v === null) return;
    const o = lower(v as Record<string, unknown>);
    if (underQueues && typeof o.name === "string") {
      const props = typeof o.properties === "object" && o.properties !== null ? lower(o.properties as Record<string, unknown>) : {};
      found.set(o.name, { ...o, ...props });
      return;
    }
    for (const [k, child] of Object.entries(o)) visit(child, k === "queues");
  };
  visit(config, false);
  return found;
}

export function assertSameQueue(name: string, local: Record<string, unknown>, infra: QueueSpec): void {
  const checks: Array<[string, unknown, unknown]> = [
    ["requiresSession", local.requiressession, infra.requiresSession],
    ["defaultMessageTimeToLive", local.defaultmessagetimetolive, infra.defaultMessageTimeToLive],
    ["lockDuration", local.lockduration, infra.lockDuration],
    ["maxDeliveryCount", local.maxdeliverycount, infra.maxDeliveryCount],
  ];
  for (const [key, localValue, infraValue] of checks) {
    if (localValue === undefined) continue; // the peer's default
    const same = typeof infraValue === "string" && typeof localValue === "string" ? seconds(localValue) === seconds(infraValue) : localValue === infraValue;
    assert.ok(same, `${name}.${key}: local peer ${String(localValue)}, infra ${String(infraValue)}`);
  }
}
