// Function app on the Flex Consumption plan (FC1, Linux), Node.js, system-assigned identity.
// The platform pulls the deployment package from a blob container with that identity, so the
// storage account keeps shared keys off. Flex Consumption sets the runtime in functionAppConfig:
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are not allowed as app settings there.
// AVM alternative: br/public:avm/res/web/serverfarm + br/public:avm/res/web/site (functionAppConfig).
param name string
param location string
param tags object
param planName string
param storageAccountName string
param deploymentContainerName string
param nodeVersion string
@description('App settings as name/value pairs (built in main.bicep).')
param appSettings object
param instanceMemoryMB int = 2048
@description('Subnet (delegated to Microsoft.App/environments) for virtual network integration; empty = none.')
param virtualNetworkSubnetId string = ''
param maximumInstanceCount int = 40
@description('Instances kept warm for the HTTP functions (0 = scale from zero, with cold starts).')
param alwaysReady int = 1

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  // azd finds the resource to deploy the `api` service to by this tag.
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        // Users wait on these calls synchronously: the "http" group (every HTTP function) keeps
        // warm instances so a request does not pay a cold start.
        alwaysReady: alwaysReady > 0 ? [
          {
            name: 'http'
            instanceCount: alwaysReady
          }
        ] : []
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

// Basic-auth publishing (FTP and SCM) off: deployments go through Entra ID (azd uses OneDeploy).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName
