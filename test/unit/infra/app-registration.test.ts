import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "vitest";
import { ROLES } from "../../../shared/http/auth.js";
import { isUuid } from "../../../shared/protocol/ids.js";
import { infraDir } from "./bicep-source.js";

interface AppRole { id: string; value: string; allowedMemberTypes: string[]; isEnabled: boolean }
interface Manifest {
  signInAudience: string;
  api: { requestedAccessTokenVersion: number; oauth2PermissionScopes: { id: string; value: string }[]; preAuthorizedApplications: { appId: string; delegatedPermissionIds: string[] }[] };
  appRoles: AppRole[];
}

const manifest = JSON.parse(readFileSync(join(infraDir, "entra", "app-registration.json"), "utf8")) as Manifest;

test("the app registration declares exactly the roles the API checks, for apps and users", () => {
  assert.deepEqual(manifest.appRoles.map((r) => r.value).sort(), Object.values(ROLES).sort());
  for (const role of manifest.appRoles) {
    assert.ok(isUuid(role.id), role.value);
    assert.ok(role.isEnabled);
    // Frontends hold Operate as applications (client credentials); operators hold Admin as users (CLI sign-in).
    assert.deepEqual([...role.allowedMemberTypes].sort(), ["Application", "User"]);
  }
  assert.equal(new Set(manifest.appRoles.map((r) => r.id)).size, manifest.appRoles.length);
});

test("v2 access tokens (issuer login.microsoftonline.com/{tid}/v2.0), multi-tenant by default", () => {
  assert.equal(manifest.api.requestedAccessTokenVersion, 2);
  assert.equal(manifest.signInAudience, "AzureADMultipleOrgs");
});

test("the Azure CLI is pre-authorized for the operators' scope, so CLI sign-in needs no user consent", () => {
  const scopeIds = new Set(manifest.api.oauth2PermissionScopes.map((s) => s.id));
  const azureCli = manifest.api.preAuthorizedApplications.find((a) => a.appId === "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
  assert.ok(azureCli);
  assert.ok(azureCli.delegatedPermissionIds.length > 0 && azureCli.delegatedPermissionIds.every((id) => scopeIds.has(id)));
});

test("the registration script is valid bash, reads this manifest and prints the consent step", () => {
  const script = join(infraDir, "entra", "register-app.sh");
  const syntax = spawnSync("bash", ["-n", script], { encoding: "utf8" });
  assert.equal(syntax.status, 0, syntax.stderr);
  const text = readFileSync(script, "utf8");
  assert.match(text, /app-registration\.json/);
  assert.match(text, /adminconsent\?client_id=/);
  assert.match(text, /AUTH_TENANTS/);
  // Unknown options are refused, not ignored.
  const unknown = spawnSync("bash", [script, "--tenant-ids", "x"], { encoding: "utf8" });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown option/);
});
