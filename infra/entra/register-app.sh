#!/usr/bin/env bash
# Creates or updates the Entra ID app registration of the password writeback API (idempotent):
# app roles Writeback.Operate / Writeback.Admin, v2 access tokens, the operator CLI's delegated
# scope pre-authorized for the Azure CLI (and so for the writeback CLI's sign-in), then the
# service principal in this tenant. Prints the azd settings and each customer tenant's admin
# consent link. Needs the Azure CLI signed in (`az login`) as someone who may create apps.
#
#   infra/entra/register-app.sh [--single-tenant] [--name "Password writeback API"]
#                               [--tenants <guid>,<guid>] [--assign-admin <user or group object id>]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
manifest="$here/app-registration.json"
name="Password writeback API"
audience="AzureADMultipleOrgs"
tenants=""
assign_admin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --single-tenant) audience="AzureADMyOrg"; shift ;;
    --name) name="$2"; shift 2 ;;
    --tenants) tenants="$2"; shift 2 ;;
    --assign-admin) assign_admin="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v az >/dev/null || { echo "the Azure CLI (az) is required" >&2; exit 1; }
command -v node >/dev/null || { echo "Node.js is required" >&2; exit 1; }
graph="https://graph.microsoft.com/v1.0"
home_tenant="$(az account show --query tenantId -o tsv)"

app_id="$(az ad app list --filter "displayName eq '$name'" --query '[0].appId' -o tsv)"
if [ -z "$app_id" ]; then
  app_id="$(az ad app create --display-name "$name" --sign-in-audience "$audience" --query appId -o tsv)"
  echo "created app registration $app_id"
else
  echo "updating app registration $app_id"
fi
object_id="$(az ad app show --id "$app_id" --query id -o tsv)"

# Graph needs the scope to exist before an application can be pre-authorized for it: two PATCHes.
body="$(mktemp)"; trap 'rm -f "$body"' EXIT
node -e '
  const [file, appId, name, audience, step] = process.argv.slice(1);
  const m = JSON.parse(require("fs").readFileSync(file, "utf8"));
  const api = { ...m.api };
  if (step === "1") { delete api.preAuthorizedApplications; }
  const out = step === "1"
    ? { displayName: name, signInAudience: audience, identifierUris: [`api://${appId}`], api, appRoles: m.appRoles }
    : { api: { preAuthorizedApplications: m.api.preAuthorizedApplications } };
  process.stdout.write(JSON.stringify(out));
' "$manifest" "$app_id" "$name" "$audience" 1 >"$body"
az rest --method PATCH --uri "$graph/applications/$object_id" --headers Content-Type=application/json --body "@$body" >/dev/null
node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.stdout.write(JSON.stringify({ api: { preAuthorizedApplications: m.api.preAuthorizedApplications } }));
' "$manifest" >"$body"
az rest --method PATCH --uri "$graph/applications/$object_id" --headers Content-Type=application/json --body "@$body" >/dev/null

sp_id="$(az ad sp list --filter "appId eq '$app_id'" --query '[0].id' -o tsv)"
if [ -z "$sp_id" ]; then sp_id="$(az ad sp create --id "$app_id" --query id -o tsv)"; fi

if [ -n "$assign_admin" ]; then
  admin_role="$(node -e 'const m=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(m.appRoles.find(r=>r.value==="Writeback.Admin").id)' "$manifest")"
  az rest --method POST --uri "$graph/servicePrincipals/$sp_id/appRoleAssignedTo" --headers Content-Type=application/json \
    --body "{\"principalId\":\"$assign_admin\",\"resourceId\":\"$sp_id\",\"appRoleId\":\"$admin_role\"}" >/dev/null \
    && echo "assigned Writeback.Admin to $assign_admin" || echo "Writeback.Admin assignment not made (already assigned?)" >&2
fi

echo
echo "API app id (v2 tokens carry it as aud): $app_id"
echo "Set it for the deployment:"
echo "  azd env set AUTH_AUDIENCE $app_id"
if [ "$audience" = "AzureADMultipleOrgs" ]; then
  echo "  azd env set AUTH_TENANTS ${tenants:-$home_tenant}      # the onboarded customer tenants, comma-separated"
  echo
  echo "Each customer tenant's administrator consents once (creates the app's service principal there),"
  echo "then assigns Writeback.Operate to their SSPR frontend and Writeback.Admin to their operators:"
  IFS=',' read -r -a list <<<"${tenants:-$home_tenant}"
  for t in "${list[@]}"; do echo "  https://login.microsoftonline.com/$t/adminconsent?client_id=$app_id"; done
else
  echo "  azd env set AUTH_TENANT_ID $home_tenant"
fi
echo
echo "The operator CLI requests the scope api://$app_id/.default (set WRITEBACK_API_SCOPE to it)."
