import "../shared/composition/production.js";
import { registerFunction } from "../shared/adapters/functions/registry.js";
import { jsonResult, type HttpResult } from "../shared/http/responses.js";
import { PRODUCT_VERSION } from "../shared/version.js";

/** Liveness only: answers without touching storage, the relay or Key Vault. */
export async function health(): Promise<HttpResult> {
  return jsonResult(200, { status: "ok", version: PRODUCT_VERSION });
}

registerFunction({ kind: "http", name: "health", methods: ["GET"], route: "v1/health", handler: health });
