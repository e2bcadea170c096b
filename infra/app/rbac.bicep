// Role assignments: one resource per (scope, principal, role), named guid(scope, principal, role)
// so a redeployment finds and keeps the same assignment. Scopes are the single resources, never
// the resource group or subscription.
param principalId string
param storageAccountName string
param serviceBusNamespaceName string
param keyVaultName string
param applicationInsightsName string
param repliesQueueName string
param agentEventsQueueName string

@description('Optional operator (user or group) who onboards tenants with `writeback onboard-tenant`; empty = none.')
param operatorPrincipalId string = ''

// Built-in role definition ids (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419' // Azure Service Bus Data Owner
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39' // Azure Service Bus Data Sender
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' // Azure Service Bus Data Receiver
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher
}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource repliesQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: repliesQueueName
}

resource agentEventsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: agentEventsQueueName
}

resource keyVault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Host storage (AzureWebJobsStorage: blob leases, timer schedule state) and the Flex Consumption
// deployment container. The host needs Owner, not Contributor, for identity-based AzureWebJobsStorage.
// No Storage Queue Data Contributor: the app has no queue-storage triggers or Durable Functions.
resource appStorageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The app's tables (settings, heartbeats, operations, rate limits, audit log).
resource appStorageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Only what the app does on Service Bus, and no Manage right: it sends requests to tenant-<id>
// queues, which onboarding creates after this deployment (Service Bus RBAC has no name patterns,
// so Data Sender is on the namespace), and receives from replies (its own session) and
// agent-events (the trigger). It never creates queues or rules: onboarding is the operator's,
// separately, below.
resource appServiceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, principalId, roles.serviceBusDataSender)
  scope: serviceBus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource appRepliesDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(repliesQueue.id, principalId, roles.serviceBusDataReceiver)
  scope: repliesQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource appAgentEventsDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(agentEventsQueue.id, principalId, roles.serviceBusDataReceiver)
  scope: agentEventsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Reads and writes the tenants' package keys and agent public keys (set, get, list versions),
// on this vault only. No key or certificate rights, no vault management.
resource appKeyVaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, principalId, roles.keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights has local auth disabled: telemetry is sent with an Entra ID token.
resource appMonitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The operator's onboarding creates tenant queues and their SAS rules through the Service Bus
// management endpoint with an Entra ID token, which needs the Manage right (Data Owner).
resource operatorServiceBusDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(serviceBus.id, operatorPrincipalId, roles.serviceBusDataOwner)
  scope: serviceBus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: operatorPrincipalId
  }
}
