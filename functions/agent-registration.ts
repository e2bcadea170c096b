import "../shared/composition/production.js";
import { httpFunction } from "../shared/adapters/functions/http-function.js";
import { TenantAdmin } from "../shared/app/tenant-admin.js";
import { ROLES } from "../shared/http/auth.js";
import { agentRegistrationBodySchema } from "../shared/http/request-schemas.js";
import { jsonResult } from "../shared/http/responses.js";

/** `agent register` uploads the agent's public key here; the private key never leaves the agent. */
export const agentRegistration = httpFunction({
  name: "agentRegistration",
  methods: ["PUT"],
  route: "v1/tenants/{tenantId}/writeback/agent",
  role: ROLES.admin,
  body: agentRegistrationBodySchema,
  run: async ({ services, tenantId, body }) => jsonResult(200, await new TenantAdmin(services).registerAgent(tenantId, body.publicKeyPem)),
});
