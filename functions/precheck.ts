import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { PasswordOperations } from "../shared/app/password-operations.js";
import { ROLES } from "../shared/http/auth.js";
import { precheckBodySchema } from "../shared/http/request-schemas.js";
import { jsonResult } from "../shared/http/responses.js";

/** Step 1 of the flow: tells the frontend, before the user types, whether writeback can work now. */
export const precheck = httpFunction({
  name: "precheck",
  methods: ["POST"],
  route: "v1/tenants/{tenantId}/writeback/precheck",
  role: ROLES.operate,
  body: precheckBodySchema,
  run: async ({ services, tenantId, body }) => jsonResult(200, await new PasswordOperations(services).precheck(tenantId, body.user)),
});
