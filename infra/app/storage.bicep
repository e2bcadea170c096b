// Storage account: the Functions host's storage (AzureWebJobsStorage, identity-based), the Flex
// Consumption deployment container, and the app's tables. Shared keys are off, so every access is
// an Entra ID token checked against RBAC (infra/app/rbac.bicep).
// AVM alternative: br/public:avm/res/storage/storage-account (blobServices.containers, tableServices.tables).
param name string
param location string
param tags object

@description('Disabled when the app reaches this resource through a private endpoint (main.bicep privateNetworking).')
@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'
param deploymentContainerName string

@description('Tables the app uses (rate-limit and audit rows share PasswordOperations, so one transaction writes a record with its count, another its outcome with its audit row). It creates them on first use too; pre-creating them keeps the first request fast.')
param tableNames array = [
  'WritebackSettings'
  'AgentHeartbeats'
  'PasswordOperations'
  'KeyVersions'
]

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

output name string = account.name
output tableEndpoint string = account.properties.primaryEndpoints.table
output blobEndpoint string = account.properties.primaryEndpoints.blob
