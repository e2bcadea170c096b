import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "vitest";
import {
  declarations,
  infraDir,
  loadBicep,
  modules,
  objectProperties,
  outputNames,
  params,
  parseBicep,
  repoRoot,
  type BicepFile,
} from "./bicep-source.js";

// What `bicep build` would catch in wiring, checked on the syntax trees: the Bicep CLI cannot be
// installed here (its installers download a binary), so types and resource schemas are not checked.

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith(".") ? [] : bicepFiles(path);
    return e.name.endsWith(".bicep") ? [relative(infraDir, path)] : [];
  });
}

const files = bicepFiles(infraDir);

describe("infra Bicep syntax", () => {
  test("the infra folder has the entry point and its modules", () => {
    for (const f of ["main.bicep", "app/function-app.bicep", "app/storage.bicep", "app/servicebus.bicep", "app/keyvault.bicep", "app/monitoring.bicep", "app/rbac.bicep", "modules/tenant-queue.bicep"]) {
      assert.ok(files.includes(f), `infra/${f} is missing`);
    }
  });

  test("the checker reports broken Bicep (so a clean result means something)", async () => {
    const broken = await parseBicep("param name string = {\nresource x 'Microsoft.Storage/storageAccounts@2024-01-01' = {\n  name: name\n");
    assert.ok(broken.syntaxErrors.length > 0);
    const clean = await parseBicep("param name string\nresource x 'Microsoft.Storage/storageAccounts@2024-01-01' = {\n  name: name\n}\n");
    assert.deepEqual(clean.syntaxErrors, []);
  });

  for (const f of files) {
    test(`${f} parses without syntax errors`, async () => {
      const file = await loadBicep(f);
      assert.deepEqual(file.syntaxErrors, [], `syntax errors in infra/${f}`);
    });
  }
});

describe("infra Bicep wiring", () => {
  test("module calls pass only declared params, every required one, and read only declared outputs", async () => {
    for (const f of files) {
      const caller = await loadBicep(f);
      for (const m of modules(caller)) {
        const target = join(dirname(join(infraDir, f)), m.path);
        assert.ok(existsSync(target), `${f}: module ${m.symbol} points to missing ${m.path}`);
        const callee = await loadBicep(relative(infraDir, target));
        const declared = params(callee);
        const passedNode = objectProperties(m.body).find((p) => p.key === "params")?.value;
        const passed = passedNode === undefined ? [] : objectProperties(passedNode).map((p) => p.key);
        for (const p of passed) assert.ok(declared.some((d) => d.name === p), `${f}: module ${m.symbol} passes unknown param ${p}`);
        for (const d of declared.filter((d) => d.defaultValue === undefined)) {
          assert.ok(passed.includes(d.name), `${f}: module ${m.symbol} misses required param ${d.name}`);
        }
        const outputs = outputNames(callee);
        for (const match of caller.text.matchAll(new RegExp(`\\b${m.symbol}\\.outputs\\.(\\w+)`, "g"))) {
          assert.ok(outputs.includes(match[1] ?? ""), `${f}: ${m.symbol}.outputs.${match[1]} is not an output of ${m.path}`);
        }
      }
    }
  });

  test("every identifier a file uses as a param/var/resource/module is declared in that file", async () => {
    // Catches renamed symbols: a reference like `storage.outputs` or `abbrs.x` to something undeclared.
    const builtins = new Set(["az", "sys", "resourceGroup", "subscription", "tenant", "environment", "deployment", "deployer", "managementGroup"]);
    for (const f of files) {
      const file = await loadBicep(f);
      const declared = new Set(
        ["parameter_declaration", "variable_declaration", "resource_declaration", "module_declaration"].flatMap((t) => declarations(file, t).map((n) => n.namedChildren[0]?.text ?? "")),
      );
      for (const member of file.root.descendantsOfType("member_expression")) {
        const object = member.childForFieldName("object");
        if (object?.type !== "identifier") continue;
        const name = object.text;
        const loopVariable = file.root.descendantsOfType("for_statement").some((loop) => loop.childForFieldName("initializer")?.text === name);
        assert.ok(declared.has(name) || builtins.has(name) || loopVariable, `${f}: '${name}' is used (${member.text}) but not declared`);
      }
    }
  });

  test("abbreviations used by main.bicep exist in abbreviations.json", async () => {
    const main = await loadBicep("main.bicep");
    const abbrs = JSON.parse(readFileSync(join(infraDir, "abbreviations.json"), "utf8")) as Record<string, string>;
    const used = [...main.text.matchAll(/\babbrs\.(\w+)/g)].map((m) => m[1] ?? "");
    assert.ok(used.length > 0);
    for (const u of used) assert.ok(u in abbrs, `abbrs.${u} is not in abbreviations.json`);
  });

  test("main.parameters.json maps only declared params and every param without a default", async () => {
    const main: BicepFile = await loadBicep("main.bicep");
    const file = JSON.parse(readFileSync(join(infraDir, "main.parameters.json"), "utf8")) as { parameters: Record<string, { value: unknown }> };
    const declared = params(main);
    for (const name of Object.keys(file.parameters)) assert.ok(declared.some((d) => d.name === name), `main.parameters.json maps unknown param ${name}`);
    for (const d of declared.filter((p) => p.defaultValue === undefined)) {
      assert.ok(d.name in file.parameters, `main.bicep param ${d.name} has no default and is not in main.parameters.json`);
    }
    assert.equal(file.parameters.environmentName?.value, "${AZURE_ENV_NAME}");
    assert.equal(file.parameters.location?.value, "${AZURE_LOCATION}");
  });

  test("azure.yaml at the repository root points azd at this Bicep and at the function app (azd up from the root)", () => {
    assert.ok(!existsSync(join(infraDir, "azure.yaml")), "azure.yaml belongs at the repository root, not in infra/");
    const yaml = readFileSync(join(repoRoot, "azure.yaml"), "utf8");
    const value = (key: string): string | undefined => new RegExp(`^\\s*${key}:\\s*(\\S+)\\s*$`, "m").exec(yaml)?.[1];
    const infraPath = resolve(repoRoot, value("path") ?? "infra");
    assert.equal(infraPath, infraDir);
    assert.ok(existsSync(join(infraPath, `${value("module") ?? "main"}.bicep`)), "azure.yaml infra.path/module does not name main.bicep");
    const project = resolve(repoRoot, value("project") ?? ".");
    assert.equal(project, repoRoot, "the api service must be the repository root");
    assert.ok(existsSync(join(project, "host.json")) && existsSync(join(project, "package.json")), "the service folder must hold host.json and package.json");
    assert.equal(value("host"), "function");
    assert.equal(value("language"), "ts");
    // azd deploys the production-only package that build:deploy writes, built remotely.
    assert.equal(value("dist"), ".deploy/api");
    assert.equal(value("remoteBuild"), "true");
    assert.match(yaml, /prepackage:\s*\n\s+shell: sh\s*\n\s+run: npm run build:deploy/);
    const scripts = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts["build:deploy"] ?? "", /build-api-package\.mjs/);
    assert.match(readFileSync(join(repoRoot, "dev", "package", "build-api-package.mjs"), "utf8"), /join\(root, "\.deploy", "api"\)/);
    // azd deploys to the resource tagged azd-service-name: <service name>.
    const service = /^services:\s*\n\s+(\w[\w-]*):/m.exec(yaml)?.[1];
    assert.ok(service !== undefined);
    assert.match(readFileSync(join(infraDir, "app/function-app.bicep"), "utf8"), new RegExp(`'azd-service-name': '${service}'`));
  });
});
