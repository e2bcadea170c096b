import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { PasswordOperations } from "../shared/app/password-operations.js";
import { ROLES } from "../shared/http/auth.js";
import { resetBodySchema } from "../shared/http/request-schemas.js";
import { jsonResult } from "../shared/http/responses.js";

export const passwordResets = httpFunction({
  name: "passwordResets",
  methods: ["POST"],
  route: "v1/tenants/{tenantId}/password-resets",
  role: ROLES.operate,
  body: resetBodySchema,
  run: async ({ services, trace, tenantId, body }) => jsonResult(200, await new PasswordOperations(services).reset(tenantId, body, trace)),
});
