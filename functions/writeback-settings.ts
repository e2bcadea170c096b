import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { TenantAdmin } from "../shared/app/tenant-admin.js";
import { ROLES } from "../shared/http/auth.js";
import { settingsBodySchema } from "../shared/http/request-schemas.js";
import { jsonResult } from "../shared/http/responses.js";

/** Enable (rotates and delivers a fresh key first) or disable (the agent discards its keys). */
export const writebackSettings = httpFunction({
  name: "writebackSettings",
  methods: ["PUT"],
  route: "v1/tenants/{tenantId}/writeback",
  role: ROLES.admin,
  body: settingsBodySchema,
  run: async ({ services, tenantId, body }) => jsonResult(200, await new TenantAdmin(services).updateSettings(tenantId, body)),
});
