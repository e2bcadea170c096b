import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { TenantAdmin } from "../shared/app/tenant-admin.js";
import { ROLES } from "../shared/http/auth.js";
import { jsonResult } from "../shared/http/responses.js";

export const writebackStatus = httpFunction({
  name: "writebackStatus",
  methods: ["GET"],
  route: "v1/tenants/{tenantId}/writeback",
  role: ROLES.admin,
  run: async ({ services, tenantId }) => jsonResult(200, await new TenantAdmin(services).status(tenantId)),
});
