import { parseArgs } from "node:util";
import { DefaultAzureCredential } from "@azure/identity";
import { createAdministrationClient, onboardTenant } from "../shared/adapters/servicebus/tenant-onboarding.js";
import { ApiError, WritebackApi } from "./writeback-api.js";

const USAGE = `writeback — operate password writeback

  writeback status        --tenant <id>
  writeback enable        --tenant <id> [--allow-unlock]
  writeback disable       --tenant <id>
  writeback rotate-keys   --tenant <id>
  writeback onboard-tenant --tenant <id> --namespace <name.servicebus.windows.net> [--ttl-seconds 120]

Options: --api <base URL> (or WRITEBACK_API_URL, default http://127.0.0.1:7071/api),
         --token <admin token> (or WRITEBACK_ADMIN_TOKEN; role Writeback.Admin, tid = tenant).
onboard-tenant uses your Azure sign-in (DefaultAzureCredential) and prints the agent's
connection string once. Exit codes: 0 done, 1 refused or failed (the error code is printed), 2 usage.`;

export async function main(argv: string[], env: Record<string, string | undefined>, out: (line: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tenant: { type: "string" },
        api: { type: "string" },
        token: { type: "string" },
        "allow-unlock": { type: "boolean", default: false },
        namespace: { type: "string" },
        "ttl-seconds": { type: "string", default: "120" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    out(`${e instanceof Error ? e.message : "bad arguments"}\n\n${USAGE}`);
    return 2;
  }
  const command = parsed.positionals[0];
  const v = parsed.values;
  if (v.help === true || command === undefined) {
    out(USAGE);
    return command === undefined && v.help !== true ? 2 : 0;
  }
  const tenantId = v.tenant?.toLowerCase();
  if (tenantId === undefined || !/^[0-9a-f-]{36}$/.test(tenantId)) {
    out("--tenant <tenant id (GUID)> is required");
    return 2;
  }
  try {
    if (command === "onboard-tenant") {
      if (v.namespace === undefined) {
        out("--namespace <name.servicebus.windows.net> is required");
        return 2;
      }
      const admin = createAdministrationClient({ fullyQualifiedNamespace: v.namespace, credential: new DefaultAzureCredential() });
      const result = await onboardTenant(admin, v.namespace, { tenantId, repliesQueue: "replies", eventsQueue: "agent-events", messageTtlSeconds: Number(v["ttl-seconds"]) });
      out(`${result.created ? "Created" : "Updated"} queue ${result.queue} with agent rule ${result.ruleName}.`);
      out("Agent connection string (store it in the agent's WRITEBACK_AGENT_SERVICEBUS_CONNECTION_STRING; it is not shown again):");
      out(result.agentConnectionString);
      return 0;
    }
    const token = v.token ?? env.WRITEBACK_ADMIN_TOKEN;
    if (token === undefined) {
      out("an admin token is required: --token or WRITEBACK_ADMIN_TOKEN");
      return 2;
    }
    const api = new WritebackApi(v.api ?? env.WRITEBACK_API_URL ?? "http://127.0.0.1:7071/api", token);
    switch (command) {
      case "status":
        out(JSON.stringify(await api.status(tenantId), null, 2));
        return 0;
      case "enable":
        out(JSON.stringify(await api.setSettings(tenantId, { enabled: true, allowUnlockWithoutReset: v["allow-unlock"] === true }), null, 2));
        return 0;
      case "disable":
        out(JSON.stringify(await api.setSettings(tenantId, { enabled: false, allowUnlockWithoutReset: v["allow-unlock"] === true }), null, 2));
        return 0;
      case "rotate-keys":
        out(JSON.stringify(await api.rotateKeys(tenantId), null, 2));
        return 0;
      default:
        out(`unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ApiError) {
      out(`error ${e.code}: ${e.message}`);
      return 1;
    }
    out(`error: ${e instanceof Error ? e.message : "failed"}`);
    return 1;
  }
}
