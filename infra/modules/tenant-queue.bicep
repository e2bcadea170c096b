// One tenant's relay: its queue `tenant-<tenantId>` and the SAS rules its on-premises agent uses.
// Deploy into the backend's resource group, once per tenant (see infra/README.md):
//   az deployment group create -g <rg> -f infra/modules/tenant-queue.bicep \
//     -p serviceBusNamespaceName=<ns> tenantId=<tenant GUID>
//
// The agent gets exactly three rights, all under ONE rule name, agent-<tenantId>:
//   Listen on tenant-<tenantId>, Send on `replies`, Send on `agent-events`.
// SAS rules belong to one entity each, so the rule exists three times. ARM generates a different
// key for each; `writeback onboard-tenant` (or `az servicebus queue authorization-rule keys renew
// --key-value`) then sets one key on all three so a single connection string serves the agent.
// Quota: Service Bus allows 12 SAS rules per queue, so the shared queues hold the rules of at most
// 12 tenants per namespace (see infra/README.md, "Limits").
// AVM alternative: br/public:avm/res/service-bus/namespace/queue (authorizationRules).
@description('Existing Service Bus namespace (from the main deployment: SERVICEBUS_NAMESPACE_NAME).')
param serviceBusNamespaceName string

@description('The tenant (Entra directory) id, a GUID.')
@minLength(36)
@maxLength(36)
param tenantId string

param repliesQueueName string = 'replies'
param agentEventsQueueName string = 'agent-events'

@description('How long a request waits for the agent before it expires and is removed: the app\'s RELAY_MESSAGE_TTL_SECONDS.')
param messageTimeToLive string = 'PT2M'

var normalizedTenantId = toLower(tenantId)
var queueName = 'tenant-${normalizedTenantId}'
var agentRuleName = 'agent-${normalizedTenantId}'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource repliesQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: repliesQueueName
}

resource agentEventsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: agentEventsQueueName
}

// Password requests for this tenant's agent. An expired request is simply removed (no dead-letter
// copy): it holds an encrypted password that nobody may act on after the caller gave up.
resource tenantQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    requiresSession: false
    defaultMessageTimeToLive: messageTimeToLive
    lockDuration: 'PT1M'
    maxDeliveryCount: 5
    deadLetteringOnMessageExpiration: false
    enablePartitioning: false
  }
}

resource agentListen 'Microsoft.ServiceBus/namespaces/queues/authorizationRules@2024-01-01' = {
  parent: tenantQueue
  name: agentRuleName
  properties: {
    rights: [
      'Listen'
    ]
  }
}

resource agentSendReplies 'Microsoft.ServiceBus/namespaces/queues/authorizationRules@2024-01-01' = {
  parent: repliesQueue
  name: agentRuleName
  properties: {
    rights: [
      'Send'
    ]
  }
}

resource agentSendEvents 'Microsoft.ServiceBus/namespaces/queues/authorizationRules@2024-01-01' = {
  parent: agentEventsQueue
  name: agentRuleName
  properties: {
    rights: [
      'Send'
    ]
  }
}

output queueName string = tenantQueue.name
output agentRuleName string = agentRuleName
// No keys in outputs: deployment outputs are readable by anyone with read access to the deployment.
