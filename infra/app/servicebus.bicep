// Service Bus namespace with the two shared queues. Tenant queues (tenant-<id>) and the agents'
// SAS rules are added per tenant by infra/modules/tenant-queue.bicep.
// Standard tier: sessions (the replies queue) need Standard or Premium.
// Local (SAS) auth stays enabled: on-premises agents run outside Azure, have no managed identity,
// and authenticate with queue-scoped SAS rules (Listen on their own queue, Send on the shared ones).
// The function app never uses SAS: it connects with its managed identity (infra/app/rbac.bicep).
// No namespace-level rule is created besides the platform's RootManageSharedAccessKey.
// AVM alternative: br/public:avm/res/service-bus/namespace (queues + authorizationRules).
param name string
param location string
param tags object
param repliesQueueName string
param agentEventsQueueName string
@description('Log Analytics workspace receiving the namespace\'s logs and metrics.')
param logAnalyticsWorkspaceId string

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    minimumTlsVersion: '1.2'
    disableLocalAuth: false
    publicNetworkAccess: 'Enabled'
  }
}

// Agents' replies, one session per function instance (replyToSessionId). A reply is useless after
// the caller's timeout, so it expires quickly.
resource repliesQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: repliesQueueName
  properties: {
    requiresSession: true
    defaultMessageTimeToLive: 'PT2M'
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: false
    enablePartitioning: false
  }
}

// Heartbeats and acknowledgements from agents, consumed by the agentEvents Service Bus trigger.
resource agentEventsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: agentEventsQueueName
  properties: {
    requiresSession: false
    defaultMessageTimeToLive: 'PT10M'
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: false
    enablePartitioning: false
  }
}

// Audit and operational logs plus metrics to the Log Analytics workspace: who read or wrote
// which secret (Key Vault's AuditEvent), queue operations and throttling (Service Bus).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output name string = namespace.name
// '<name>.servicebus.windows.net' (or the sovereign cloud's suffix), taken from the endpoint URL
// 'https://<name>.servicebus.windows.net:443/': drop the scheme and slashes, then the port.
output fullyQualifiedNamespace string = split(replace(replace(namespace.properties.serviceBusEndpoint, 'https:', ''), '/', ''), ':')[0]
