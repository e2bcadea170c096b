import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { TenantAdmin } from "../shared/app/tenant-admin.js";
import { ROLES } from "../shared/http/auth.js";
import { jsonResult } from "../shared/http/responses.js";

/** A new control-signing key, endorsed by the current one; the agent follows over the relay. */
export const rotateSigningKey = httpFunction({
  name: "rotateSigningKey",
  methods: ["POST"],
  route: "v1/tenants/{tenantId}/writeback/signing-key/rotate",
  role: ROLES.admin,
  run: async ({ services, tenantId }) => jsonResult(200, await new TenantAdmin(services).rotateSigningKey(tenantId)),
});
