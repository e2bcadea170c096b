/**
 * The demo tenant and the development token issuer as test fixtures: the one place tests take
 * them from dev/ (npm start's stack uses the same data).
 */
export * from "../../dev/demo-tenant.js";
export { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER, type DevTokenIssuer } from "../../dev/dev-token-issuer.js";
