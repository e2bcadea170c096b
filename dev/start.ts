// `npm start`: the whole product on loopback with a demo tenant; Ctrl-C stops everything it started.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEMO_INITIAL_PASSWORD, DEMO_TENANT_ID, DEMO_USERS } from "./demo-tenant.js";
import type { LocalStackHandle } from "./local-stack-handle.js";
import { startLocalStack } from "./local-stack.js";

// --directory embedded|samba (or WRITEBACK_LOCAL_DIRECTORY): the agent's directory; samba = a local Samba AD DC (root, Debian samba package).
const { values } = parseArgs({ options: { "state-dir": { type: "string", default: ".local/stack" }, "free-ports": { type: "boolean", default: false }, directory: { type: "string" } } });
const directory = values.directory ?? process.env.WRITEBACK_LOCAL_DIRECTORY ?? "embedded";
if (directory !== "embedded" && directory !== "samba") {
  console.error(`--directory (or WRITEBACK_LOCAL_DIRECTORY) must be "embedded" or "samba", not "${directory}"`);
  process.exit(2);
}
let stack: LocalStackHandle | undefined;
let stopping: number | undefined;
const onSignal = () => {
  if (stopping !== undefined) {
    // npm and tsx pass the terminal's Ctrl-C on: the same signal comes more than once.
    if (Date.now() - stopping < 1000) return;
    process.exit(130); // a second Ctrl-C: at once (a Samba DC this run started is killed on exit)
  }
  stopping = Date.now();
  if (stack === undefined) {
    console.log("\nstopping once started (Ctrl-C again to exit at once)…");
    return;
  }
  console.log("\nstopping…");
  void stack.stop().then(() => process.exit(0));
};
// A Samba DC runs detached (its own process group, so Ctrl-C does not reach it): a Ctrl-C while
// starting stops the stack once it is up rather than leaving the DC behind.
if (directory === "samba") for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, onSignal);
try {
  stack = await startLocalStack({ ports: values["free-ports"] === true ? "free" : "fixed", stateDir: resolve(values["state-dir"] ?? ".local/stack"), directory });
} catch (e) {
  // Ctrl-C also reaches samba-tool (same process group): starting then fails, and everything started is stopped.
  if (stopping !== undefined) process.exit(130);
  console.error(`The local stack did not start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
if (stopping !== undefined) {
  console.log("stopping…");
  await stack.stop();
  process.exit(0);
}
const dir = stack.directory;
const directoryLine =
  dir.kind === "samba"
    ? `Samba AD DC ${dir.domain} at ${dir.url} (certificate ${dir.servername}, CA ${dir.caFile})
                   ${dir.provisioned ? "provisioned for this run, removed on Ctrl-C" : "already running"}; demo users in ${dir.usersOu}, initial password ${DEMO_INITIAL_PASSWORD}
                   agent binds as ${dir.bindDn}`
    : `embedded (${dir.domain}, demo users, initial password ${DEMO_INITIAL_PASSWORD})`;
const alice = DEMO_USERS[0];
const user = JSON.stringify({ cloudAnchor: alice?.cloudAnchor, userPrincipalName: alice?.userPrincipalName, authType: alice?.authType });
const base = `${stack.apiBase}/v1/tenants/${DEMO_TENANT_ID}`;

console.log(`
Password writeback is running on loopback.

  API base URL     ${stack.apiBase}
  Self-service page ${stack.portalUrl}
  Tenant           ${DEMO_TENANT_ID}
  Directory        ${directoryLine}
  Agent log        ${stack.agent.logFile}

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

if (directory !== "samba") for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, onSignal);
