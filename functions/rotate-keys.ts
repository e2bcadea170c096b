import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { TenantAdmin } from "../shared/app/tenant-admin.js";
import { ROLES } from "../shared/http/auth.js";
import { jsonResult } from "../shared/http/responses.js";

export const rotateKeys = httpFunction({
  name: "rotateKeys",
  methods: ["POST"],
  route: "v1/tenants/{tenantId}/writeback/keys/rotate",
  role: ROLES.admin,
  run: async ({ services, tenantId }) => jsonResult(200, await new TenantAdmin(services).rotateKeys(tenantId)),
});
