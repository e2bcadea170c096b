// Key Vault for the tenants' package keys and agents' public keys. RBAC authorization only (no
// access policies); soft delete with purge protection so a deleted key can always be recovered.
// The app gets "Key Vault Secrets Officer" on this vault alone (infra/app/rbac.bicep).
// AVM alternative: br/public:avm/res/key-vault/vault (enableRbacAuthorization: true).
param name string
param location string
param tags object
@description('Log Analytics workspace receiving the vault\'s audit logs and metrics.')
param logAnalyticsWorkspaceId string

@description('Disabled when the app reaches this resource through a private endpoint (main.bicep privateNetworking).')
@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

// Audit and operational logs plus metrics to the Log Analytics workspace: who read or wrote
// which secret (Key Vault's AuditEvent), queue operations and throttling (Service Bus).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
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

output name string = vault.name
output uri string = vault.properties.vaultUri
