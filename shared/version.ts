/**
 * The product's version, written once: the health endpoint and the agent report it, the
 * agent's package is built with it, and a test holds package.json's "version" to it.
 */
export const PRODUCT_VERSION = "0.2.0";
