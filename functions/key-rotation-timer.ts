import "../shared/composition/production.js";
import { registerFunction } from "../shared/adapters/functions/registry.js";
import { TenantAdmin } from "../shared/app/tenant-admin.js";
import { getServices } from "../shared/composition/services.js";

/** Daily: rotates every enabled tenant whose package key is six months old. */
export async function keyRotationTimer(): Promise<Awaited<ReturnType<TenantAdmin["rotateDue"]>>> {
  const services = await getServices();
  const result = await new TenantAdmin(services).rotateDue();
  services.logger.info("scheduled key rotation", { rotated: result.rotated.length, failed: result.failed.length });
  return result;
}

registerFunction({
  kind: "timer",
  name: "keyRotationTimer",
  schedule: "0 0 3 * * *",
  handler: async () => {
    await keyRotationTimer();
  },
});
