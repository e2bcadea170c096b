// `npm start`: the whole product on loopback with a demo tenant; Ctrl-C stops everything it started.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEMO_TENANT_ID, DEMO_USERS } from "./demo-tenant.js";
import { startLocalStack } from "./local-stack.js";

const { values } = parseArgs({ options: { "state-dir": { type: "string", default: ".local/stack" }, "free-ports": { type: "boolean", default: false } } });
const stack = await startLocalStack({ ports: values["free-ports"] === true ? "free" : "fixed", stateDir: resolve(values["state-dir"] ?? ".local/stack") });
const alice = DEMO_USERS[0];
const user = JSON.stringify({ cloudAnchor: alice?.cloudAnchor, userPrincipalName: alice?.userPrincipalName, authType: alice?.authType });
const base = `${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}`;

console.log(`
Password writeback is running on loopback.

  API base URL     ${stack.apiBase}
  Self-service page ${stack.portalUrl}
  Tenant           ${DEMO_TENANT_ID}

  Admin token (Writeback.Admin):
${stack.adminToken}

  User-operations token (Writeback.Operate):
${stack.operateToken}

Try it:

  # 1. reset alice's password (succeeds)
  curl -s -X POST ${base}/password-resets -H "Authorization: Bearer ${stack.operateToken}" -H "Content-Type: application/json" \\
    -d '{"user":${user},"newPassword":"Sunny-Meadow-42!","initiator":{"kind":"user","channel":"ssprPortal"}}'

  # 2. a password the on-premises policy refuses (PASSWORD_POLICY_VIOLATION, reason tooShort)
  curl -s -X POST ${base}/password-resets -H "Authorization: Bearer ${stack.operateToken}" -H "Content-Type: application/json" \\
    -d '{"user":${user},"newPassword":"Ab1!","initiator":{"kind":"user","channel":"ssprPortal"}}'

  # 3. the tenant's status: agent, policy, keys
  curl -s ${base}/writeback -H "Authorization: Bearer ${stack.adminToken}"

Ctrl-C stops everything.`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log("\nstopping…");
    void stack.stop().then(() => process.exit(0));
  });
}
