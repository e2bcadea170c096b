import { randomBytes } from "node:crypto";
import { ServiceBusAdministrationClient, type AuthorizationRule } from "@azure/service-bus";
import type { TokenCredential } from "@azure/core-auth";
import { tenantQueueName } from "./queue-names.js";

export interface OnboardingResult {
  queue: string;
  ruleName: string;
  /** The agent's connection string: Listen on its queue, Send on replies and agent-events. Shown once. */
  agentConnectionString: string;
  created: boolean;
}

export interface OnboardingOptions {
  tenantId: string;
  repliesQueue: string;
  eventsQueue: string;
  /** Seconds a request may wait on the relay before it is removed (never applied late). */
  messageTtlSeconds: number;
}

/**
 * Creates a tenant's relay on a real namespace: its own queue and one SAS rule name for its
 * agent, with the same random key on three entities — Listen on the tenant queue, Send on
 * the replies and agent-events queues — so one connection string serves the agent and it
 * can do nothing else.
 */
export async function onboardTenant(
  admin: ServiceBusAdministrationClient,
  fullyQualifiedNamespace: string,
  o: OnboardingOptions,
): Promise<OnboardingResult> {
  const queue = tenantQueueName(o.tenantId);
  const ruleName = `agent-${o.tenantId.toLowerCase()}`;
  const key = randomBytes(32).toString("base64");
  const rule = (rights: AuthorizationRule["accessRights"]): AuthorizationRule => ({ claimType: "SharedAccessKey", keyName: ruleName, accessRights: rights, primaryKey: key, secondaryKey: randomBytes(32).toString("base64") });

  let created = false;
  if (await admin.queueExists(queue)) {
    const existing = await admin.getQueue(queue);
    existing.authorizationRules = [...(existing.authorizationRules ?? []).filter((r) => r.keyName !== ruleName), rule(["Listen"])];
    await admin.updateQueue(existing);
  } else {
    await admin.createQueue(queue, {
      requiresSession: false,
      defaultMessageTimeToLive: `PT${o.messageTtlSeconds}S`,
      lockDuration: "PT1M",
      maxDeliveryCount: 5,
      deadLetteringOnMessageExpiration: false,
      authorizationRules: [rule(["Listen"])],
    });
    created = true;
  }
  for (const shared of [o.repliesQueue, o.eventsQueue]) {
    const q = await admin.getQueue(shared);
    q.authorizationRules = [...(q.authorizationRules ?? []).filter((r) => r.keyName !== ruleName), rule(["Send"])];
    await admin.updateQueue(q);
  }
  return { queue, ruleName, created, agentConnectionString: `Endpoint=sb://${fullyQualifiedNamespace}/;SharedAccessKeyName=${ruleName};SharedAccessKey=${key}` };
}

/** Whether the tenant's queue already carries its agent's SAS rule (onboarding again would replace the key). */
export async function agentRuleExists(admin: ServiceBusAdministrationClient, tenantId: string): Promise<boolean> {
  const queue = tenantQueueName(tenantId);
  if (!(await admin.queueExists(queue))) return false;
  const ruleName = `agent-${tenantId.toLowerCase()}`;
  return ((await admin.getQueue(queue)).authorizationRules ?? []).some((r) => r.keyName === ruleName);
}

export function createAdministrationClient(connection: { connectionString: string } | { fullyQualifiedNamespace: string; credential: TokenCredential }): ServiceBusAdministrationClient {
  return "connectionString" in connection
    ? new ServiceBusAdministrationClient(connection.connectionString)
    : new ServiceBusAdministrationClient(connection.fullyQualifiedNamespace, connection.credential);
}
