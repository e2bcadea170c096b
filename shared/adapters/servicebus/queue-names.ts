/** One queue per tenant: the "tenant-specific relay". Tenant ids are GUIDs, always lower case here. */
export function tenantQueueName(tenantId: string): string {
  return `tenant-${tenantId.toLowerCase()}`;
}

export const DEFAULT_REPLIES_QUEUE = "replies";
export const DEFAULT_AGENT_EVENTS_QUEUE = "agent-events";
