import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DefaultAzureCredential } from "@azure/identity";
import { createAdministrationClient, onboardTenant } from "../shared/adapters/servicebus/tenant-onboarding.js";
import { ApiError, WritebackApi } from "./writeback-api.js";

const USAGE = `writeback — operate password writeback

  writeback status        --tenant <id>
  writeback enable        --tenant <id> [--allow-unlock]
  writeback disable       --tenant <id>
  writeback rotate-keys   --tenant <id>
  writeback banned-passwords list   --tenant <id>
  writeback banned-passwords add    --tenant <id> <term>... [--file <one term a line>]
  writeback banned-passwords remove --tenant <id> <term>... [--file <one term a line>]
  writeback banned-passwords mode   --tenant <id> enforce|audit
  writeback onboard-tenant --tenant <id> --namespace <name.servicebus.windows.net> [--ttl-seconds 120]

Options: --api <base URL> (or WRITEBACK_API_URL, default http://127.0.0.1:7071/api),
         --token <admin token> (or WRITEBACK_ADMIN_TOKEN; role Writeback.Admin, tid = tenant).
onboard-tenant uses your Azure sign-in (DefaultAzureCredential) and prints the agent's
connection string once. Exit codes: 0 done, 1 refused or failed (the error code is printed), 2 usage.`;

/** Terms from the command line and, with --file, one a line (blank lines and # comments skipped). */
function termsOf(args: string[], file: string | undefined): string[] {
  const fromFile = file === undefined ? [] : readFileSync(file, "utf8").split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  return [...args, ...fromFile];
}

async function bannedPasswords(api: WritebackApi, tenantId: string, args: string[], file: string | undefined, out: (line: string) => void): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case "list": {
      const r = await api.bannedTerms(tenantId);
      out(`mode: ${r.mode}; ${r.customTerms.length} of at most ${r.limits.maxTerms} custom terms; global list: ${r.globalList.count} terms from ${r.globalList.package} ${r.globalList.version}`);
      for (const term of r.customTerms) out(term);
      return 0;
    }
    case "add":
    case "remove": {
      const terms = termsOf(rest, file);
      if (terms.length === 0) {
        out(`banned-passwords ${action}: give at least one term (or --file)`);
        return 2;
      }
      const r = await api.changeBannedTerms(tenantId, action === "add" ? { add: terms } : { remove: terms });
      out(`${action === "add" ? `added ${r.added}` : `removed ${r.removed}`}; ${r.customTerms.length} custom terms now`);
      return 0;
    }
    case "mode": {
      const mode = rest[0];
      if (mode !== "enforce" && mode !== "audit") {
        out("banned-passwords mode: enforce or audit");
        return 2;
      }
      const status = await api.status(tenantId);
      await api.setSettings(tenantId, { enabled: status.enabled === true, allowUnlockWithoutReset: status.allowUnlockWithoutReset === true, bannedPasswordMode: mode });
      out(`banned-password check: ${mode}`);
      return 0;
    }
    default:
      out(`banned-passwords: list, add, remove or mode\n\n${USAGE}`);
      return 2;
  }
}

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
        file: { type: "string" },
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
      case "banned-passwords":
        return await bannedPasswords(api, tenantId, parsed.positionals.slice(1), v.file, out);
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
