// Password writeback backend: everything `azd up` provisions, at subscription scope.
// Identity-based connections only: the function app's system-assigned identity reaches Storage,
// Service Bus, Key Vault and Application Insights through RBAC (infra/app/rbac.bicep); no keys or
// connection strings are stored in app settings. Per-tenant queues are added later with
// infra/modules/tenant-queue.bicep (see infra/README.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: seeds the resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region of every resource. Must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

// Optional names; empty means derived from abbreviations.json and a unique token.
param resourceGroupName string = ''
param functionAppName string = ''
param storageAccountName string = ''
param serviceBusNamespaceName string = ''
param keyVaultName string = ''
param applicationInsightsName string = ''
param logAnalyticsName string = ''

@allowed([
  '20'
  '22'
])
@description('Node.js version of the Flex Consumption runtime (22 LTS; 20 left support on 2026-04-30 and stays only for existing apps).')
param nodeVersion string = '22'

@minValue(0)
@description('Always-ready instances for the HTTP functions (Flex Consumption). 1 in production: a user waiting on a reset should not wait for a cold start; 0 scales to zero (development, lowest cost).')
param alwaysReady int = 1

@description('Operator who onboards tenants (Azure Service Bus Data Owner on the namespace); azd passes the signed-in principal. Empty = none.')
param operatorPrincipalId string = ''

@description('Entra ID tenant whose tokens the API accepts (the callers\' tenant, usually this one).')
param authTenantId string = tenant().tenantId

@minLength(1)
@description('Audience (Application ID URI or client id) the API expects in bearer tokens.')
param authAudience string

@description('Multi-tenant mode: the customer tenants onboarded in this deployment, comma-separated GUIDs. Non-empty means each token\'s issuer is https://login.microsoftonline.com/{its tid}/v2.0, checked against the common keys, and only these tenants are accepted; empty means single-tenant (authTenantId).')
param authTenantIds string = ''

@description('Token issuer; empty means the Entra v2.0 issuer of authTenantId (or the {tenantid} template in multi-tenant mode).')
param authIssuer string = ''

@description('JWKS endpoint; empty means the Entra v2.0 keys of authTenantId.')
param authJwksUrl string = ''

@minValue(1)
@description('Longest bearer-token lifetime (exp − iat) the API accepts, seconds.')
param authMaxTokenLifetimeSeconds int = 86400

// Behaviour. Defaults equal the code's defaults (shared/config/config.ts); a unit test keeps them in step.
@minValue(1)
param keyCacheTtlSeconds int = 60
@minValue(1)
param agentHeartbeatWindowSeconds int = 660
@minValue(1)
param relayReplyTimeoutMs int = 30000
@minValue(1)
param relayMessageTtlSeconds int = 120
@minValue(1)
param rateLimitMaxOperations int = 5
@minValue(1)
param rateLimitWindowSeconds int = 3600
@minValue(1)
param keyRotationMonths int = 6

@description('Put Key Vault and Storage behind private endpoints in a virtual network the app is integrated with, and switch their public endpoints off. No agent needs them; Service Bus stays public for the agents. azd deploy must then run from a network that reaches the storage account (see infra/README.md).')
param privateNetworking bool = false

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var loginEndpoint = environment().authentication.loginEndpoint
var multiTenant = !empty(authTenantIds)
// Entra's common discovery document names the issuer with the literal {tenantid} placeholder.
var effectiveAuthIssuer = !empty(authIssuer) ? authIssuer : (multiTenant ? '${loginEndpoint}{tenantid}/v2.0' : '${loginEndpoint}${authTenantId}/v2.0')
var effectiveAuthJwksUrl = !empty(authJwksUrl) ? authJwksUrl : '${loginEndpoint}${multiTenant ? 'common' : authTenantId}/discovery/v2.0/keys'

var names = {
  functionApp: !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}writeback-${resourceToken}'
  plan: '${abbrs.webServerFarms}writeback-${resourceToken}'
  storage: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
  serviceBus: !empty(serviceBusNamespaceName) ? serviceBusNamespaceName : '${abbrs.serviceBusNamespaces}writeback-${resourceToken}'
  keyVault: !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${resourceToken}'
  appInsights: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}writeback-${resourceToken}'
  logAnalytics: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}writeback-${resourceToken}'
}

// The Flex Consumption plan pulls the app package from this blob container with the app's identity.
var deploymentContainerName = 'app-package-${take(names.functionApp, 32)}-${take(resourceToken, 7)}'

// The queues the app uses; tenant queues (tenant-<id>) come from modules/tenant-queue.bicep.
var repliesQueueName = 'replies'
var agentEventsQueueName = 'agent-events'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.appInsights
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: names.storage
    deploymentContainerName: deploymentContainerName
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    location: location
    tags: tags
    name: names.serviceBus
    repliesQueueName: repliesQueueName
    agentEventsQueueName: agentEventsQueueName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: names.keyVault
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module network 'app/network.bicep' = if (privateNetworking) {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.networkVirtualNetworks}writeback-${resourceToken}'
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

// Every setting the app reads (shared/config/config.ts CONFIG_SETTING_NAMES) plus the host's own.
// test/unit/infra/settings-consistency.test.ts compares this object with the code and
// local.settings.sample.json. Empty strings mean "not used in Azure" (the code treats them as unset).
var appSettings = {
  // Functions host storage, identity-based (no AzureWebJobsStorage connection string).
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  // The Service Bus trigger's connection "ServiceBusConnection" (functions/agent-events.ts), identity-based.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  // Application Insights with local auth disabled: the identity needs Monitoring Metrics Publisher.
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // Table storage through the managed identity.
  TABLES_CONNECTION_STRING: ''
  TABLES_ENDPOINT: storage.outputs.tableEndpoint
  // Service Bus through the managed identity.
  SERVICEBUS_CONNECTION_STRING: ''
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: serviceBus.outputs.fullyQualifiedNamespace
  SERVICEBUS_REPLIES_QUEUE: repliesQueueName
  SERVICEBUS_AGENT_EVENTS_QUEUE: agentEventsQueueName
  // Key Vault through the managed identity; the CA file is only for the local peer.
  KEYVAULT_URL: keyVault.outputs.uri
  KEYVAULT_CA_FILE: ''
  KEY_CACHE_TTL_SECONDS: string(keyCacheTtlSeconds)
  // Caller authentication: Entra ID tokens checked against the tenant's published keys.
  AUTH_ISSUER: effectiveAuthIssuer
  AUTH_TENANTS: authTenantIds
  AUTH_AUDIENCE: authAudience
  AUTH_JWKS_URL: effectiveAuthJwksUrl
  AUTH_PUBLIC_KEY_PEM: ''
  AUTH_MAX_TOKEN_LIFETIME_SECONDS: string(authMaxTokenLifetimeSeconds)
  // Behaviour.
  AGENT_HEARTBEAT_WINDOW_SECONDS: string(agentHeartbeatWindowSeconds)
  RELAY_REPLY_TIMEOUT_MS: string(relayReplyTimeoutMs)
  RELAY_MESSAGE_TTL_SECONDS: string(relayMessageTtlSeconds)
  RATE_LIMIT_MAX_OPERATIONS: string(rateLimitMaxOperations)
  RATE_LIMIT_WINDOW_SECONDS: string(rateLimitWindowSeconds)
  KEY_ROTATION_MONTHS: string(keyRotationMonths)
}

module functionApp 'app/function-app.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: tags
    name: names.functionApp
    planName: names.plan
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    nodeVersion: nodeVersion
    alwaysReady: alwaysReady
    appSettings: appSettings
    virtualNetworkSubnetId: privateNetworking ? network.outputs.appSubnetId : ''
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    repliesQueueName: repliesQueueName
    agentEventsQueueName: agentEventsQueueName
    operatorPrincipalId: operatorPrincipalId
  }
}

// Read by azd (written to .azure/<env>/.env) and by the operator tooling.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output AZURE_FUNCTION_APP_PRINCIPAL_ID string = functionApp.outputs.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output SERVICEBUS_NAMESPACE_NAME string = serviceBus.outputs.name
output SERVICEBUS_FULLY_QUALIFIED_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output SERVICEBUS_REPLIES_QUEUE string = repliesQueueName
output SERVICEBUS_AGENT_EVENTS_QUEUE string = agentEventsQueueName
output KEYVAULT_NAME string = keyVault.outputs.name
output KEYVAULT_URL string = keyVault.outputs.uri
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AUTH_ISSUER string = effectiveAuthIssuer
output AUTH_TENANTS string = authTenantIds
output AUTH_AUDIENCE string = authAudience
