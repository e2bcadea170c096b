import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { PasswordOperations } from "../shared/app/password-operations.js";
import { AppError } from "../shared/errors/app-error.js";
import { ROLES } from "../shared/http/auth.js";
import { jsonResult } from "../shared/http/responses.js";
import { isUuid } from "../shared/protocol/ids.js";

/** Lets a caller that got AGENT_TIMEOUT learn what finally happened. */
export const passwordOperationStatus = httpFunction({
  name: "passwordOperationStatus",
  methods: ["GET"],
  route: "v1/tenants/{tenantId}/password-operations/{requestId}",
  role: ROLES.operate,
  run: async ({ services, tenantId, params }) => {
    const requestId = params.requestId ?? "";
    if (!isUuid(requestId)) throw new AppError("INVALID_REQUEST", { message: "requestId must be a UUID.", fields: ["requestId"] });
    return jsonResult(200, await new PasswordOperations(services).status(tenantId, requestId.toLowerCase()));
  },
});
