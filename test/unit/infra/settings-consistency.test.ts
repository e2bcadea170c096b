import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, test } from "vitest";
import { loadFunctions } from "../../../dev/functions-host/load-functions.js";
import type { FunctionDefinition } from "../../../shared/adapters/functions/registry.js";
import { CONFIG_SETTING_NAMES, configSchema, loadConfig } from "../../../shared/config/config.js";
import {
  declaration,
  declarationName,
  declarations,
  declaredValue,
  literal,
  loadBicep,
  objectProperties,
  property,
  repoRoot,
  resources,
  type BicepFile,
  type Node,
} from "./bicep-source.js";

/**
 * The settings the code reads, the settings infra/main.bicep gives the function app, and the
 * settings in local.settings.sample.json must name the same things. Besides the app's own
 * settings (CONFIG_SETTING_NAMES), each side has host settings the code never reads itself;
 * those are allowed only by the lists below, each entry with its reason.
 */

// In Azure only. Identity-based host connections are split into `<connection>__<property>` settings
// (AzureWebJobsStorage__accountName, ServiceBusConnection__fullyQualifiedNamespace, their
// __credential), and App Insights with local auth off needs its connection and Entra auth strings.
const azureOnlyHostSetting = (name: string): boolean =>
  /^(AzureWebJobsStorage|ServiceBusConnection)__\w+$/.test(name) || name === "APPLICATIONINSIGHTS_CONNECTION_STRING" || name === "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

// Locally only. `func start` needs FUNCTIONS_WORKER_RUNTIME (Flex Consumption forbids it as an app
// setting: the runtime is in functionAppConfig) and takes connection strings for the host storage
// (Azurite) and the Service Bus trigger's connection (the local peer).
const localOnlyHostSettings = new Set(["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "ServiceBusConnection"]);

type Resolved = { kind: "literal"; value: string } | { kind: "expression"; text: string };

/** The value main.bicep gives a setting, followed through vars and string(param) to a literal when it is one. */
function resolveSetting(main: BicepFile, value: Node): Resolved {
  const lit = literal(value);
  if (lit !== undefined) return { kind: "literal", value: String(lit) };
  if (value.type === "identifier") {
    const decl = declarations(main, "variable_declaration").find((d) => declarationName(d) === value.text) ?? declarations(main, "parameter_declaration").find((d) => declarationName(d) === value.text);
    const target = decl === undefined ? undefined : declaredValue(decl);
    if (target !== undefined) return resolveSetting(main, target);
  }
  if (value.type === "call_expression" && value.childForFieldName("function")?.text === "string") {
    const arg = value.childForFieldName("arguments")?.namedChildren[0];
    if (arg?.type === "identifier") {
      const param = declaredValue(declaration(main, "parameter_declaration", arg.text));
      const def = literal(param);
      if (def !== undefined) return { kind: "literal", value: String(def) };
    }
  }
  return { kind: "expression", text: value.text };
}

/** The code's default for a setting, or undefined when it has none (required or optional). */
function codeDefault(name: (typeof CONFIG_SETTING_NAMES)[number]): string | undefined {
  const parsed = configSchema.innerType().shape[name].safeParse(undefined);
  return parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined;
}

let main: BicepFile;
let bicepSettings: Map<string, Resolved>;
let sample: Record<string, string>;
let functions: readonly FunctionDefinition[];

beforeAll(async () => {
  main = await loadBicep("main.bicep");
  const appSettings = declaredValue(declaration(main, "variable_declaration", "appSettings"));
  assert.ok(appSettings?.type === "object", "main.bicep must build the app settings as `var appSettings = { ... }`");
  const entries = objectProperties(appSettings);
  const names = entries.map((e) => e.key);
  assert.equal(new Set(names).size, names.length, "duplicate app setting in main.bicep");
  bicepSettings = new Map(entries.map((e) => [e.key, resolveSetting(main, e.value)]));
  sample = (JSON.parse(readFileSync(join(repoRoot, "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> }).Values;
  functions = await loadFunctions();
});

describe("settings: code, infra/main.bicep and local.settings.sample.json", () => {
  test("the function app gets exactly main.bicep's appSettings object", async () => {
    const fn = await loadBicep("app/function-app.bicep");
    const site = resources(fn).find((r) => r.type === "Microsoft.Web/sites" && !r.existing);
    assert.ok(site !== undefined);
    const list = property(site.body, "properties", "siteConfig", "appSettings");
    assert.equal(list?.type, "for_statement", "siteConfig.appSettings must be generated from the appSettings param");
    assert.match(list?.text ?? "", /items\(appSettings\)/);
    assert.ok(!resources(fn).some((r) => r.type === "Microsoft.Web/sites/config"), "no second source of app settings");
    const call = main.root.descendantsOfType("module_declaration").find((m) => m.text.includes("'app/function-app.bicep'"));
    assert.match(call?.text ?? "", /\n\s*appSettings: appSettings\n/);
  });

  test("every setting the code reads is defined in main.bicep and in the sample", () => {
    for (const name of CONFIG_SETTING_NAMES) {
      assert.ok(bicepSettings.has(name), `${name} is read by the code but missing from main.bicep appSettings`);
      assert.ok(name in sample, `${name} is read by the code but missing from local.settings.sample.json`);
    }
  });

  test("main.bicep defines nothing else but the documented Azure host settings", () => {
    const extra = [...bicepSettings.keys()].filter((n) => !(CONFIG_SETTING_NAMES as string[]).includes(n));
    for (const name of extra) assert.ok(azureOnlyHostSetting(name), `main.bicep sets ${name}, which the code does not read and no allow-list explains`);
    for (const forbidden of ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "AzureWebJobsStorage", "ServiceBusConnection"]) {
      assert.ok(!bicepSettings.has(forbidden), `${forbidden} must not be an app setting on Flex Consumption with identity-based connections`);
    }
  });

  test("the sample defines nothing else but the documented local host settings", () => {
    const extra = Object.keys(sample).filter((n) => !(CONFIG_SETTING_NAMES as string[]).includes(n));
    for (const name of extra) assert.ok(localOnlyHostSettings.has(name), `local.settings.sample.json sets ${name}, which the code does not read and no allow-list explains`);
  });

  test("each Service Bus trigger's connection and queue setting exist on both sides", () => {
    const triggers = functions.filter((f) => f.kind === "serviceBusQueue");
    assert.ok(triggers.length > 0, "expected the agent-events Service Bus trigger");
    for (const t of triggers) {
      assert.ok(bicepSettings.has(`${t.connection}__fullyQualifiedNamespace`), `main.bicep lacks ${t.connection}__fullyQualifiedNamespace for trigger ${t.name}`);
      assert.equal((bicepSettings.get(`${t.connection}__credential`) as { value?: string } | undefined)?.value, "managedidentity");
      assert.ok(t.connection in sample, `local.settings.sample.json lacks ${t.connection} for trigger ${t.name}`);
      const queueSetting = /^%(\w+)%$/.exec(t.queueName)?.[1];
      if (queueSetting !== undefined) {
        assert.ok(bicepSettings.has(queueSetting) && queueSetting in sample, `queue setting ${queueSetting} of ${t.name} must be defined on both sides`);
      }
    }
    // The host's own storage: identity-based in Azure, Azurite locally.
    assert.ok(bicepSettings.has("AzureWebJobsStorage__accountName"));
    assert.equal((bicepSettings.get("AzureWebJobsStorage__credential") as { value?: string } | undefined)?.value, "managedidentity");
    assert.ok("AzureWebJobsStorage" in sample);
  });

  test("behavioural settings have the code's defaults on both sides", () => {
    let checked = 0;
    for (const name of CONFIG_SETTING_NAMES) {
      const def = codeDefault(name);
      if (def === undefined) continue;
      checked += 1;
      const bicep = bicepSettings.get(name);
      assert.deepEqual(bicep, { kind: "literal", value: def }, `main.bicep ${name} should default to the code's ${def}`);
      assert.equal(sample[name], def, `local.settings.sample.json ${name} should be the code's default ${def}`);
    }
    assert.ok(checked >= 9, "expected the queue names, timeouts, rate limits and rotation to have defaults");
  });

  test("README's configuration table names every setting the code reads, with the code's default", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 5));
    const rows = section.split("\n").filter((l) => l.startsWith("| `"));
    for (const name of CONFIG_SETTING_NAMES) {
      const row = rows.find((r) => (r.split("|")[1] ?? "").includes(`\`${name}\``));
      assert.ok(row !== undefined, `${name} is read by the code but missing from README's configuration table`);
      const [, names = "", defaults = ""] = row.split("|");
      const def = codeDefault(name);
      // A row of one setting states its default exactly; a row of several lists them in order.
      const index = (names.match(/`[A-Z_]+`/g) ?? ([] as string[])).indexOf(`\`${name}\``);
      const stated = defaults.split(",").map((d) => d.trim().replace(/`/g, ""))[index];
      if (def !== undefined) assert.equal(stated, def, `README's configuration table should give ${name} the code's default ${def}`);
    }
  });

  test("no connection string or key in Azure: those settings are empty and the app takes the identity path", () => {
    for (const [name, v] of bicepSettings) {
      if (name.endsWith("CONNECTION_STRING") && name !== "APPLICATIONINSIGHTS_CONNECTION_STRING") assert.deepEqual(v, { kind: "literal", value: "" }, `${name} must be empty in Azure`);
      if (v.kind === "literal") assert.doesNotMatch(v.value, /AccountKey=|SharedAccessKey=|-----BEGIN/, `${name} holds a secret`);
    }
    // Fill the Azure-computed values with stand-ins and run the app's own validation.
    const env: Record<string, string> = {};
    for (const [name, v] of bicepSettings) env[name] = v.kind === "literal" ? v.value : `azure:${name}`;
    const config = loadConfig(env);
    assert.equal(config.TABLES_CONNECTION_STRING, undefined);
    assert.equal(config.TABLES_ENDPOINT, "azure:TABLES_ENDPOINT");
    assert.equal(config.SERVICEBUS_CONNECTION_STRING, undefined);
    assert.equal(config.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE, "azure:SERVICEBUS_FULLY_QUALIFIED_NAMESPACE");
    assert.equal(config.KEYVAULT_CA_FILE, undefined);
    assert.equal(config.AUTH_PUBLIC_KEY_PEM, undefined);
    assert.equal(config.AUTH_JWKS_URL, "azure:AUTH_JWKS_URL");
  });

  test("Entra defaults: issuer and JWKS of the configured tenant", () => {
    const text = (name: string): string => declaredValue(declaration(main, "variable_declaration", name))?.text ?? "";
    assert.match(text("effectiveAuthIssuer"), /: '\$\{loginEndpoint\}\$\{authTenantId\}\/v2\.0'\)$/);
    assert.match(text("effectiveAuthJwksUrl"), /\$\{loginEndpoint\}\$\{multiTenant \? 'common' : authTenantId\}\/discovery\/v2\.0\/keys'$/);
    assert.equal(bicepSettings.get("AUTH_ISSUER")?.kind, "expression");
  });

  test("Entra multi-tenant: the {tenantid} issuer template and the common keys when tenants are listed", () => {
    const text = (name: string): string => declaredValue(declaration(main, "variable_declaration", name))?.text ?? "";
    assert.match(text("multiTenant"), /^!empty\(authTenantIds\)$/);
    assert.match(text("effectiveAuthIssuer"), /multiTenant \? '\$\{loginEndpoint\}\{tenantid\}\/v2\.0'/);
    // Single-tenant unless tenants are listed (authTenantIds defaults to empty).
    assert.deepEqual(bicepSettings.get("AUTH_TENANTS"), { kind: "literal", value: "" });
  });
});
