// Mints a development token from the local issuer (.local/dev-auth), the one `npm start` trusts.
// Usage: npx tsx dev/mint-token.ts --tenant <tenantId> --role Writeback.Operate [--role Writeback.Admin] [--minutes 60]
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { loadDevTokenIssuer } from "./dev-token-issuer.js";

const { values } = parseArgs({
  options: { tenant: { type: "string" }, role: { type: "string", multiple: true }, minutes: { type: "string", default: "60" }, dir: { type: "string", default: ".local/dev-auth" } },
});
if (values.tenant === undefined || values.role === undefined) {
  console.error("usage: mint-token --tenant <tenantId> --role Writeback.Operate|Writeback.Admin [--role …] [--minutes 60]");
  process.exit(2);
}
const issuer = loadDevTokenIssuer(resolve(values.dir));
console.log(await issuer.mint({ tenantId: values.tenant, roles: values.role, lifetimeSeconds: Number(values.minutes) * 60 }));
