import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { PasswordOperations } from "../shared/app/password-operations.js";
import { ROLES } from "../shared/http/auth.js";
import { unlockBodySchema } from "../shared/http/request-schemas.js";
import { jsonResult } from "../shared/http/responses.js";

export const accountUnlocks = httpFunction({
  name: "accountUnlocks",
  methods: ["POST"],
  route: "v1/tenants/{tenantId}/account-unlocks",
  role: ROLES.operate,
  body: unlockBodySchema,
  run: async ({ services, trace, tenantId, body }) => jsonResult(200, await new PasswordOperations(services).unlock(tenantId, body, trace)),
});
