import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "vitest";
import type { TenantKeyRing } from "../../../shared/ports/tenant-key-ring.port.js";

export function keyRingContract(name: string, make: () => Promise<TenantKeyRing>): void {
  test(`${name}: versions, acknowledgement, current vs latest, agent key, tenants`, async () => {
    const ring = await make();
    const tenantId = randomUUID();
    assert.equal(await ring.currentKey(tenantId), undefined);
    assert.equal(await ring.agentPublicKey(tenantId), undefined);
    const t0 = new Date("2026-01-01T00:00:00Z");
    const v1 = await ring.createKey(tenantId, t0);
    assert.equal(v1.version, 1);
    assert.equal(v1.key.length, 32);
    assert.equal(await ring.currentKey(tenantId), undefined, "not acknowledged yet");
    await ring.markAcknowledged(tenantId, 1, new Date("2026-01-01T00:00:05Z"));
    const v2 = await ring.createKey(tenantId, new Date("2026-07-01T00:00:00Z"));
    assert.equal(v2.version, 2);
    const current = await ring.currentKey(tenantId);
    assert.equal(current?.version, 1, "requests keep using the last acknowledged version");
    assert.ok(current?.key.equals(v1.key));
    assert.equal((await ring.latestKey(tenantId))?.version, 2);
    assert.ok((await ring.keyVersion(tenantId, 2))?.key.equals(v2.key));
    assert.equal(await ring.keyVersion(tenantId, 9), undefined);
    await ring.markAcknowledged(tenantId, 2, new Date("2026-07-01T00:00:03Z"));
    assert.equal((await ring.currentKey(tenantId))?.version, 2);
    assert.equal((await ring.currentKey(tenantId))?.createdAt.toISOString(), "2026-07-01T00:00:00.000Z");
    await ring.setAgentPublicKey(tenantId, "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n");
    assert.match((await ring.agentPublicKey(tenantId)) ?? "", /BEGIN PUBLIC KEY/);
    assert.ok((await ring.tenantsWithAgentKeys()).map((t) => t.toLowerCase()).includes(tenantId.toLowerCase()), "the tenant is listed as having an agent");
    assert.ok((await ring.tenantsWithKeys()).includes(tenantId));
  });
}
