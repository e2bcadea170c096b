// Key Vault for the tenants' package keys and agents' public keys. RBAC authorization only (no
// access policies); soft delete with purge protection so a deleted key can always be recovered.
// The app gets "Key Vault Secrets Officer" on this vault alone (infra/app/rbac.bicep).
// AVM alternative: br/public:avm/res/key-vault/vault (enableRbacAuthorization: true).
param name string
param location string
param tags object

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
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
