import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { BannedTermsAdmin } from "../shared/app/banned-terms-admin.js";
import { ROLES } from "../shared/http/auth.js";
import { bannedTermsChangeSchema } from "../shared/http/request-schemas.js";
import { jsonResult } from "../shared/http/responses.js";

/** The tenant's custom banned-password terms, the mode and the global list's source. */
export const bannedPasswordsList = httpFunction({
  name: "bannedPasswordsList",
  methods: ["GET"],
  route: "v1/tenants/{tenantId}/writeback/banned-passwords",
  role: ROLES.admin,
  run: async ({ services, tenantId }) => jsonResult(200, await new BannedTermsAdmin(services).list(tenantId)),
});

/** Adds and removes custom terms: {"add":[…],"remove":[…]}. */
export const bannedPasswordsChange = httpFunction({
  name: "bannedPasswordsChange",
  methods: ["PATCH"],
  route: "v1/tenants/{tenantId}/writeback/banned-passwords",
  role: ROLES.admin,
  body: bannedTermsChangeSchema,
  run: async ({ services, tenantId, body }) => jsonResult(200, await new BannedTermsAdmin(services).change(tenantId, body)),
});
