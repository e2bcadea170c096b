import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { test } from "vitest";
import type { TenantKeyRing } from "../../../shared/ports/tenant-key-ring.port.js";

/** Rotations racing: an admin's, a heartbeat's redelivery, the timer's, on several instances. */
export const CONCURRENT_ROTATIONS = 8;

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

  test(`${name}: concurrent rotations get distinct versions, each naming the key it was created with`, async () => {
    const ring = await make();
    const tenantId = randomUUID();
    await ring.createKey(tenantId, new Date());
    const created = await Promise.all(Array.from({ length: CONCURRENT_ROTATIONS }, () => ring.createKey(tenantId, new Date())));
    const versions = created.map((k) => k.version).sort((a, b) => a - b);
    assert.equal(new Set(versions).size, CONCURRENT_ROTATIONS, `versions handed out: ${versions.join(",")}`);
    assert.deepEqual(versions, Array.from({ length: CONCURRENT_ROTATIONS }, (_, i) => i + 2));
    for (const k of created) assert.ok((await ring.keyVersion(tenantId, k.version))?.key.equals(k.key), `version ${k.version} holds the key its creator delivered`);
    assert.equal((await ring.latestKey(tenantId))?.version, CONCURRENT_ROTATIONS + 1);
  });

  test(`${name}: control-signing keys are numbered by the ring (concurrently too) and read back whole`, async () => {
    const ring = await make();
    const tenantId = randomUUID();
    assert.deepEqual(await ring.signingKeys(tenantId), []);
    const material = (endorsedBy?: number) => ({ publicKeyRaw: randomBytes(32), privateKeyDer: randomBytes(48), endorsement: endorsedBy === undefined ? undefined : randomBytes(64), endorsedBy, createdAt: new Date("2026-02-01T00:00:00Z") });
    const first = await ring.addSigningKey(tenantId, material());
    assert.equal(first.version, 1);
    const next = await Promise.all([ring.addSigningKey(tenantId, material(1)), ring.addSigningKey(tenantId, material(1))]);
    assert.deepEqual(next.map((k) => k.version).sort(), [2, 3]);
    const all = await ring.signingKeys(tenantId);
    assert.deepEqual(all.map((k) => k.version), [1, 2, 3]);
    assert.ok(all[0]!.publicKeyRaw.equals(first.publicKeyRaw) && all[0]!.privateKeyDer.equals(first.privateKeyDer));
    assert.equal(all[0]!.endorsement, undefined);
    assert.equal(all[0]!.endorsedBy, undefined);
    const two = all.find((k) => k.version === next[0].version)!;
    assert.ok(two.endorsement?.equals(next[0].endorsement!));
    assert.equal(two.endorsedBy, 1);
    assert.equal(two.createdAt.toISOString(), "2026-02-01T00:00:00.000Z");
  });
}
