import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, test } from "vitest";
import { configSchema } from "../../../shared/config/config.js";
import { DEFAULT_AGENT_EVENTS_QUEUE, DEFAULT_REPLIES_QUEUE, tenantQueueName } from "../../../shared/adapters/servicebus/queue-names.js";
import {
  declaration,
  declaredValue,
  infraDir,
  literal,
  loadBicep,
  modules,
  objectProperties,
  params,
  property,
  repoRoot,
  resources,
  stringLiteral,
  type BicepFile,
  type Node,
  type ResourceDecl,
} from "./bicep-source.js";
import { assertSameQueue, emulatorQueues, seconds, type QueueSpec } from "./emulator-queues.js";

/**
 * Security and messaging properties of infra/ that must not drift: RBAC only, no shared keys,
 * the right built-in roles at the narrowest scope, and queues that match the code and the local
 * Service Bus peer's configuration.
 */

// Built-in role ids, checked against the role tables of Azure Verified Modules
// (avm/res/key-vault/vault, avm/res/service-bus/namespace, avm/res/storage/storage-account,
// avm/res/insights/component) and the Functions azd quickstart's rbac.bicep.
const BUILT_IN_ROLES: Record<string, string> = {
  "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  "Azure Service Bus Data Owner": "090c5cfd-751d-490a-894a-3ce6f1109419",
  "Azure Service Bus Data Sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
  "Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
  "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
  "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
};

const APP_TABLES = ["WritebackSettings", "AgentHeartbeats", "PasswordOperations", "KeyVersions"];

let rbac: BicepFile;
let keyVault: BicepFile;
let storage: BicepFile;
let serviceBus: BicepFile;
let tenantQueue: BicepFile;
let functionApp: BicepFile;
let monitoring: BicepFile;

beforeAll(async () => {
  [rbac, keyVault, storage, serviceBus, tenantQueue, functionApp, monitoring] = await Promise.all([
    loadBicep("app/rbac.bicep"),
    loadBicep("app/keyvault.bicep"),
    loadBicep("app/storage.bicep"),
    loadBicep("app/servicebus.bicep"),
    loadBicep("modules/tenant-queue.bicep"),
    loadBicep("app/function-app.bicep"),
    loadBicep("app/monitoring.bicep"),
  ]);
});

function only(file: BicepFile, type: string): ResourceDecl {
  const found = resources(file).filter((r) => r.type === type && !r.existing);
  assert.equal(found.length, 1, `${file.path}: expected one ${type}`);
  return found[0] as ResourceDecl;
}

function lit(body: Node, ...path: string[]): string | number | boolean | undefined {
  return literal(property(body, ...path));
}


describe("infra: role assignments", () => {
  test("role ids are the built-in ids of the roles their comments name", () => {
    const roles = declaredValue(declaration(rbac, "variable_declaration", "roles"));
    assert.ok(roles?.type === "object");
    const lines = rbac.text.split("\n");
    for (const { key, value, node } of objectProperties(roles)) {
      const comment = /\/\/\s*(.+?)\s*$/.exec(lines[node.startPosition.row] ?? "")?.[1];
      assert.ok(comment !== undefined, `role ${key} needs a comment naming the role`);
      assert.ok(comment in BUILT_IN_ROLES, `unknown role name in comment: ${comment}`);
      assert.equal(stringLiteral(value), BUILT_IN_ROLES[comment], `${key}: ${comment} has id ${BUILT_IN_ROLES[comment]}`);
    }
  });

  test("the app identity gets exactly its roles (no Service Bus Data Owner: send, and receive on its two queues), each on one resource, named by guid(scope, principal, role)", () => {
    const assignments = resources(rbac).filter((r) => r.type === "Microsoft.Authorization/roleAssignments");
    const app = assignments.filter((r) => property(r.body, "properties", "principalId")?.text === "principalId");
    const roleOf = (r: ResourceDecl): string => /roles\.(\w+)/.exec(property(r.body, "properties", "roleDefinitionId")?.text ?? "")?.[1] ?? "";
    assert.deepEqual(app.map(roleOf).sort(), ["keyVaultSecretsOfficer", "monitoringMetricsPublisher", "serviceBusDataReceiver", "serviceBusDataReceiver", "serviceBusDataSender", "storageBlobDataOwner", "storageTableDataContributor"]);
    assert.ok(!app.some((r) => roleOf(r) === "serviceBusDataOwner"), "the app never gets Manage on Service Bus");
    const existing = new Map(resources(rbac).filter((r) => r.existing).map((r) => [r.symbol, r.type]));
    for (const r of assignments) {
      const scope = property(r.body, "scope")?.text ?? "";
      assert.ok(existing.has(scope), `${r.symbol} must be scoped to one resource, not ${scope || "the resource group"}`);
      const principal = property(r.body, "properties", "principalId")?.text ?? "";
      assert.equal(property(r.body, "name")?.text, `guid(${scope}.id, ${principal}, roles.${roleOf(r)})`, `${r.symbol} name`);
      assert.equal(r.apiVersion, "2022-04-01");
    }
    const scopeOf = (role: string): string | undefined => existing.get(property(app.find((r) => roleOf(r) === role)?.body as Node, "scope")?.text ?? "");
    assert.equal(scopeOf("keyVaultSecretsOfficer"), "Microsoft.KeyVault/vaults", "Key Vault Secrets Officer on the vault and nothing broader");
    assert.equal(scopeOf("serviceBusDataSender"), "Microsoft.ServiceBus/namespaces", "tenant queues are created after the deployment");
    const receiverScopes = app.filter((r) => roleOf(r) === "serviceBusDataReceiver").map((r) => property(r.body, "scope")?.text ?? "");
    assert.deepEqual(receiverScopes.map((s) => existing.get(s)), ["Microsoft.ServiceBus/namespaces/queues", "Microsoft.ServiceBus/namespaces/queues"], "Data Receiver on queues only");
    const queueNames = receiverScopes.map((s) => property(resources(rbac).find((r) => r.symbol === s)?.body as Node, "name")?.text);
    assert.deepEqual(queueNames.sort(), ["agentEventsQueueName", "repliesQueueName"], "on replies and agent-events, never a tenant queue");
    // Onboarding's management right is the operator's, separately.
    const operator = assignments.filter((r) => property(r.body, "properties", "principalId")?.text === "operatorPrincipalId");
    assert.deepEqual(operator.map(roleOf), ["serviceBusDataOwner"]);
    assert.equal(scopeOf("storageTableDataContributor"), "Microsoft.Storage/storageAccounts");
    assert.equal(scopeOf("monitoringMetricsPublisher"), "Microsoft.Insights/components");
    for (const r of app) assert.equal(lit(r.body, "properties", "principalType"), "ServicePrincipal");
  });

  test("no role assignment anywhere else in infra/ (one rbac module)", async () => {
    for (const f of ["main.bicep", "app/function-app.bicep", "app/storage.bicep", "app/servicebus.bicep", "app/keyvault.bicep", "app/monitoring.bicep", "modules/tenant-queue.bicep"]) {
      const file = await loadBicep(f);
      assert.ok(!resources(file).some((r) => r.type === "Microsoft.Authorization/roleAssignments"), `${f} assigns roles; keep them in app/rbac.bicep`);
    }
  });
});

describe("infra: Key Vault, Storage, monitoring, function app", () => {
  test("Key Vault: RBAC authorization, no access policies, soft delete with purge protection", () => {
    const vault = only(keyVault, "Microsoft.KeyVault/vaults");
    assert.equal(lit(vault.body, "properties", "enableRbacAuthorization"), true);
    assert.equal(property(vault.body, "properties", "accessPolicies"), undefined, "no access policies");
    assert.ok(!resources(keyVault).some((r) => r.type.startsWith("Microsoft.KeyVault/vaults/accessPolicies")));
    assert.equal(lit(vault.body, "properties", "enableSoftDelete"), true);
    assert.equal(lit(vault.body, "properties", "enablePurgeProtection"), true);
  });

  test("Storage: shared keys off, TLS 1.2, no public blobs, the app's tables and the deployment container", () => {
    const account = only(storage, "Microsoft.Storage/storageAccounts");
    assert.equal(lit(account.body, "properties", "allowSharedKeyAccess"), false);
    assert.equal(lit(account.body, "properties", "minimumTlsVersion"), "TLS1_2");
    assert.equal(lit(account.body, "properties", "allowBlobPublicAccess"), false);
    assert.equal(lit(account.body, "properties", "supportsHttpsTrafficOnly"), true);
    const tableNames = params(storage).find((p) => p.name === "tableNames")?.defaultValue;
    assert.deepEqual(tableNames?.namedChildren.map((n) => stringLiteral(n)), APP_TABLES);
    const tables = only(storage, "Microsoft.Storage/storageAccounts/tableServices/tables");
    assert.ok(tables.loop && /for tableName in tableNames/.test(tables.body.parent?.text ?? ""));
    only(storage, "Microsoft.Storage/storageAccounts/blobServices/containers");
  });

  test("Application Insights accepts Entra ID tokens only", () => {
    const ai = only(monitoring, "Microsoft.Insights/components");
    assert.equal(lit(ai.body, "properties", "DisableLocalAuth"), true);
    assert.notEqual(property(ai.body, "properties", "WorkspaceResourceId"), undefined);
  });

  test("function app: Flex Consumption FC1, Linux, Node, system-assigned identity, identity-based package storage", () => {
    const plan = only(functionApp, "Microsoft.Web/serverfarms");
    assert.equal(lit(plan.body, "sku", "name"), "FC1");
    assert.equal(lit(plan.body, "sku", "tier"), "FlexConsumption");
    assert.equal(lit(plan.body, "properties", "reserved"), true);
    const site = only(functionApp, "Microsoft.Web/sites");
    assert.equal(lit(site.body, "kind"), "functionapp,linux");
    assert.equal(lit(site.body, "identity", "type"), "SystemAssigned");
    assert.equal(lit(site.body, "properties", "httpsOnly"), true);
    assert.equal(lit(site.body, "properties", "functionAppConfig", "runtime", "name"), "node");
    assert.equal(lit(site.body, "properties", "functionAppConfig", "deployment", "storage", "type"), "blobContainer");
    assert.equal(lit(site.body, "properties", "functionAppConfig", "deployment", "storage", "authentication", "type"), "SystemAssignedIdentity");
  });

  test("Key Vault and Service Bus send their logs and metrics to the Log Analytics workspace", async () => {
    const main = await loadBicep("main.bicep");
    for (const [file, scope, module] of [[keyVault, "vault", "keyVault"], [serviceBus, "namespace", "serviceBus"]] as const) {
      const diag = only(file, "Microsoft.Insights/diagnosticSettings");
      assert.equal(property(diag.body, "scope")?.text, scope, `${file.path}: diagnostics on the ${scope}`);
      assert.equal(property(diag.body, "properties", "workspaceId")?.text, "logAnalyticsWorkspaceId");
      const logs = property(diag.body, "properties", "logs")?.text ?? "";
      assert.match(logs, /categoryGroup: 'allLogs'/);
      assert.match(logs, /enabled: true/);
      assert.match(property(diag.body, "properties", "metrics")?.text ?? "", /category: 'AllMetrics'/);
      const wiring = main.text.slice(main.text.indexOf(`module ${module} `));
      assert.match(wiring.slice(0, wiring.indexOf("\n}")), /logAnalyticsWorkspaceId: monitoring\.outputs\.workspaceId/, `main.bicep passes the workspace to ${module}`);
    }
  });

  test("alwaysReady: warm instances for the HTTP functions, 1 by default", async () => {
    const main = await loadBicep("main.bicep");
    assert.equal(literal(params(main).find((p) => p.name === "alwaysReady")?.defaultValue), 1);
    const site = only(functionApp, "Microsoft.Web/sites");
    const scale = property(site.body, "properties", "functionAppConfig", "scaleAndConcurrency", "alwaysReady")?.text ?? "";
    assert.match(scale, /name: 'http'/);
    assert.match(scale, /instanceCount: alwaysReady/);
    assert.match(main.text, /alwaysReady: alwaysReady/);
    const parameters = JSON.parse(readFileSync(join(infraDir, "main.parameters.json"), "utf8")) as { parameters: Record<string, { value: string }> };
    assert.equal(parameters.parameters.alwaysReady?.value, "${ALWAYS_READY=1}");
  });

  test("the default Node version is one the repository supports", async () => {
    const main = await loadBicep("main.bicep");
    const nodeVersion = literal(params(main).find((p) => p.name === "nodeVersion")?.defaultValue);
    const engines = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { engines?: { node?: string } }).engines?.node ?? "";
    const min = Number(/(\d+)/.exec(engines)?.[1] ?? "0");
    assert.ok(Number(nodeVersion) >= min, `nodeVersion ${String(nodeVersion)} below engines ${engines}`);
    // Node 22 LTS is the deployed runtime (20 left support on 2026-04-30); engines names it first.
    assert.equal(nodeVersion, "22");
    assert.match(engines, /^>=22\b/);
    const typesNode = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { devDependencies?: Record<string, string> }).devDependencies?.["@types/node"] ?? "";
    assert.match(typesNode, /^\^?22\./, "@types/node follows the deployed runtime's line");
  });

  test("no keys leave the templates: no listKeys and no key-bearing outputs", () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name.startsWith(".") ? [] : walk(join(dir, e.name))) : e.name.endsWith(".bicep") ? [join(dir, e.name)] : []));
    for (const f of walk(infraDir)) {
      const text = readFileSync(f, "utf8");
      assert.doesNotMatch(text, /listKeys\(|listConnectionStrings\(|primaryKey|primaryConnectionString/i, `${f} reads keys`);
    }
  });
});


function queueSpec(body: Node): QueueSpec {
  return {
    requiresSession: lit(body, "properties", "requiresSession") as boolean,
    defaultMessageTimeToLive: (lit(body, "properties", "defaultMessageTimeToLive") as string | undefined) ?? "",
    lockDuration: lit(body, "properties", "lockDuration") as string,
    maxDeliveryCount: lit(body, "properties", "maxDeliveryCount") as number,
    deadLetteringOnMessageExpiration: lit(body, "properties", "deadLetteringOnMessageExpiration") as boolean,
  };
}

/** The queue settings the infra deploys, keyed by name (tenant queues under "tenant-<id>"). */
async function infraQueues(): Promise<Map<string, QueueSpec>> {
  const main = await loadBicep("main.bicep");
  const name = (v: string): string => stringLiteral(declaredValue(declaration(main, "variable_declaration", v))) ?? "";
  const sb = resources(serviceBus).filter((r) => r.type === "Microsoft.ServiceBus/namespaces/queues");
  const byParam = (param: string): QueueSpec => queueSpec((sb.find((r) => property(r.body, "name")?.text === param) as ResourceDecl).body);
  const tenant = only(tenantQueue, "Microsoft.ServiceBus/namespaces/queues");
  const spec = queueSpec(tenant.body);
  spec.defaultMessageTimeToLive = literal(params(tenantQueue).find((p) => p.name === "messageTimeToLive")?.defaultValue) as string;
  return new Map([
    [name("repliesQueueName"), byParam("repliesQueueName")],
    [name("agentEventsQueueName"), byParam("agentEventsQueueName")],
    ["tenant-<id>", spec],
  ]);
}

describe("infra: Service Bus", () => {
  test("Standard namespace (sessions), SAS left on for the agents only", () => {
    const ns = only(serviceBus, "Microsoft.ServiceBus/namespaces");
    assert.equal(lit(ns.body, "sku", "name"), "Standard");
    assert.equal(lit(ns.body, "properties", "disableLocalAuth"), false);
    assert.ok(!resources(serviceBus).some((r) => r.type.endsWith("/authorizationRules")), "no namespace or shared-queue SAS rules in the main deployment");
  });

  test("queues: names from the code, replies with sessions, expiry without dead-lettering", async () => {
    const queues = await infraQueues();
    assert.deepEqual([...queues.keys()], [DEFAULT_REPLIES_QUEUE, DEFAULT_AGENT_EVENTS_QUEUE, "tenant-<id>"]);
    assert.deepEqual(queues.get("replies"), { requiresSession: true, defaultMessageTimeToLive: "PT2M", lockDuration: "PT1M", maxDeliveryCount: 10, deadLetteringOnMessageExpiration: false });
    assert.deepEqual(queues.get("agent-events"), { requiresSession: false, defaultMessageTimeToLive: "PT10M", lockDuration: "PT1M", maxDeliveryCount: 10, deadLetteringOnMessageExpiration: false });
    assert.deepEqual(queues.get("tenant-<id>"), { requiresSession: false, defaultMessageTimeToLive: "PT2M", lockDuration: "PT1M", maxDeliveryCount: 5, deadLetteringOnMessageExpiration: false });
    // A request expires when the app stops waiting for it to be delivered.
    const ttl = configSchema.innerType().shape.RELAY_MESSAGE_TTL_SECONDS.parse(undefined);
    assert.equal(seconds(queues.get("tenant-<id>")?.defaultMessageTimeToLive ?? ""), ttl);
  });

  test("tenant queue module: tenant-<id> named like the code, one agent rule name with Listen / Send / Send", () => {
    assert.match(tenantQueue.text, /var queueName = 'tenant-\$\{normalizedTenantId\}'/);
    assert.match(tenantQueue.text, /var normalizedTenantId = toLower\(tenantId\)/);
    assert.equal(tenantQueueName("AbC"), "tenant-abc", "the code lower-cases tenant ids too");
    const rules = resources(tenantQueue).filter((r) => r.type === "Microsoft.ServiceBus/namespaces/queues/authorizationRules");
    const summary = rules.map((r) => `${property(r.body, "parent")?.text}:${property(r.body, "name")?.text}:${property(r.body, "properties", "rights")?.namedChildren.map((n) => stringLiteral(n)).join("+")}`);
    assert.deepEqual(summary.sort(), ["agentEventsQueue:agentRuleName:Send", "repliesQueue:agentRuleName:Send", "tenantQueue:agentRuleName:Listen"]);
    assert.match(tenantQueue.text, /var agentRuleName = 'agent-\$\{normalizedTenantId\}'/);
    assert.ok(!/'Manage'/.test(tenantQueue.text), "agents never get Manage");
  });

  test("the local Service Bus peer's queue configuration matches the infra", async () => {
    const path = join(repoRoot, "emulators/servicebus/config.json");
    assert.ok(existsSync(path), "emulators/servicebus/config.json is missing: the local peer must declare the same queues as infra/ (issue 3)");
    const configured = emulatorQueues(JSON.parse(readFileSync(path, "utf8")));
    const queues = await infraQueues();
    for (const name of ["replies", "agent-events"]) {
      const local = configured.get(name);
      assert.ok(local !== undefined, `the local peer has no ${name} queue`);
      assertSameQueue(name, local, queues.get(name) as QueueSpec);
    }
    for (const [name, local] of configured) {
      if (name.startsWith("tenant-")) assertSameQueue(name, local, queues.get("tenant-<id>") as QueueSpec);
      else assert.ok(queues.has(name), `the local peer has a queue ${name} that infra/ does not deploy`);
    }
  });
});

describe("infra: private networking for Key Vault and Storage", () => {
  test("off by default; on, Key Vault and Storage refuse public access and get private endpoints in the app's virtual network; Service Bus stays public for the agents", async () => {
    const main = await loadBicep("main.bicep");
    const network = await loadBicep("app/network.bicep");
    const param = declaration(main, "parameter_declaration", "privateNetworking");
    assert.equal(literal(declaredValue(param)), false, "off by default");
    const calls = modules(main);
    const net = calls.find((m) => m.path === "app/network.bicep");
    assert.ok(net !== undefined, "main.bicep deploys app/network.bicep");
    assert.match(main.text, /module network 'app\/network\.bicep' = if \(privateNetworking\)/);
    for (const m of ["app/keyvault.bicep", "app/storage.bicep"]) {
      const call = calls.find((c) => c.path === m);
      assert.equal(property(call?.body as Node, "params", "publicNetworkAccess")?.text, "privateNetworking ? 'Disabled' : 'Enabled'", `${m} public access follows privateNetworking`);
      const file = await loadBicep(m);
      const res = resources(file).find((r) => !r.existing && (r.type === "Microsoft.KeyVault/vaults" || r.type === "Microsoft.Storage/storageAccounts"));
      assert.equal(property(res?.body as Node, "properties", "publicNetworkAccess")?.text, "publicNetworkAccess");
      assert.equal(property(res?.body as Node, "properties", "networkAcls", "defaultAction")?.text, "publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'");
    }
    assert.equal(property(calls.find((c) => c.path === "app/function-app.bicep")?.body as Node, "params", "virtualNetworkSubnetId")?.text, "privateNetworking ? network.outputs.appSubnetId : ''");
    // The endpoints: the vault, and the storage account's blob and table services; none for Service Bus.
    const endpoints = declaredValue(declaration(network, "variable_declaration", "endpoints"));
    const groups = [...(endpoints?.text.matchAll(/groupId: '(\w+)'/g) ?? [])].map((m) => m[1]);
    assert.deepEqual(groups, ["vault", "blob", "table"]);
    assert.ok(!/ServiceBus/i.test(network.text.replace(/^\/\/.*$/gm, "")), "no private endpoint for Service Bus: the agents need it");
    const kinds = resources(network).filter((r) => !r.existing).map((r) => r.type);
    for (const t of ["Microsoft.Network/virtualNetworks", "Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"]) assert.ok(kinds.includes(t), t);
    assert.match(network.text, /serviceName: 'Microsoft\.App\/environments'/, "the app subnet is delegated for Flex Consumption");
  });
});
