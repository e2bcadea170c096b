// Private networking for what no agent needs to reach: Key Vault and Storage get private
// endpoints in a virtual network the function app is integrated with, and their public endpoints
// are switched off (keyvault.bicep / storage.bicep, publicNetworkAccess). Service Bus stays public:
// the on-premises agents reach it over the internet (AMQP over TLS, their own SAS rule).
// Deployed only when main.bicep's privateNetworking is true.
// AVM alternative: br/public:avm/res/network/virtual-network, .../private-endpoint, .../private-dns-zone.
param name string
param location string
param tags object
param storageAccountName string
param keyVaultName string
param addressPrefix string = '10.40.0.0/16'
param appSubnetPrefix string = '10.40.1.0/24'
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource keyVault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [addressPrefix]
    }
    subnets: [
      {
        // Flex Consumption's virtual network integration: a subnet delegated to Microsoft.App/environments.
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

// One endpoint per service the app reaches: the vault, and the storage account's blob (host
// storage, deployment package) and table (the app's tables) services.
var endpoints = [
  { name: 'vault', target: keyVault.id, groupId: 'vault', zone: 'privatelink.vaultcore.azure.net' }
  { name: 'blob', target: storage.id, groupId: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'table', target: storage.id, groupId: 'table', zone: 'privatelink.table.${environment().suffixes.storage}' }
]

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for e in endpoints: {
  name: e.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (e, i) in endpoints: {
  parent: zones[i]
  name: '${name}-link'
  location: 'global'
  properties: {
    virtualNetwork: {
      id: vnet.id
    }
    registrationEnabled: false
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for e in endpoints: {
  name: '${name}-${e.name}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet.properties.subnets[1].id
    }
    privateLinkServiceConnections: [
      {
        name: e.name
        properties: {
          privateLinkServiceId: e.target
          groupIds: [e.groupId]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (e, i) in endpoints: {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: e.name
        properties: {
          privateDnsZoneId: zones[i].id
        }
      }
    ]
  }
}]

output appSubnetId string = vnet.properties.subnets[0].id
