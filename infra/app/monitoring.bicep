// Log Analytics workspace + workspace-based Application Insights with local (instrumentation key)
// auth disabled: telemetry is accepted only with an Entra ID token, so the app's identity gets
// "Monitoring Metrics Publisher" (infra/app/rbac.bicep) and APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
// AVM alternative: br/public:avm/res/operational-insights/workspace + br/public:avm/res/insights/component.
param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = appInsights.name
output workspaceId string = workspace.id
output connectionString string = appInsights.properties.ConnectionString
