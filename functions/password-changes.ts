import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { PasswordOperations } from "../shared/app/password-operations.js";
import { ROLES } from "../shared/http/auth.js";
import { changeBodySchema } from "../shared/http/request-schemas.js";
import { jsonResult } from "../shared/http/responses.js";

export const passwordChanges = httpFunction({
  name: "passwordChanges",
  methods: ["POST"],
  route: "v1/tenants/{tenantId}/password-changes",
  role: ROLES.operate,
  body: changeBodySchema,
  run: async ({ services, trace, tenantId, body }) => jsonResult(200, await new PasswordOperations(services).change(tenantId, body, trace)),
});
