// The agent ships with the product's version (shared/version.ts is the one source).
export { PRODUCT_VERSION as AGENT_VERSION } from "../shared/version.js";
