import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { AgentKeyError, AgentKeyStore } from "../../../agent/core/agent-key-store.js";
import { CloudClock } from "../../../agent/core/cloud-clock.js";
import { strictestPolicy } from "../../../agent/core/heartbeat-builder.js";
import { jsonLinesLogger, REDACTED, redactingLogger } from "../../../agent/core/redacting-logger.js";
import { ReplayGuard, ReplayGuardFullError } from "../../../agent/core/replay-guard.js";
import { ManualClock, MINUTE, SECOND } from "./helpers.js";

describe("replay guard", () => {
  test("remembers an id with its result until expiresAt + slack, then forgets it (bounded memory)", async () => {
    const clock = new ManualClock();
    const guard = new ReplayGuard<string>({ clock, retentionSlackMs: MINUTE });
    const expiresAt = new Date(clock.now().getTime() + 2 * MINUTE);
    const claim = guard.claim("id-1", "fp", expiresAt);
    assert.equal(claim.kind, "new");
    if (claim.kind === "new") claim.settle("reply-1");
    const again = guard.claim("id-1", "fp", expiresAt);
    assert.equal(again.kind, "duplicate");
    assert.equal(again.kind === "duplicate" ? await again.result : "", "reply-1");
    assert.equal(guard.claim("id-1", "other", expiresAt).kind, "conflict");
    clock.advance(3 * MINUTE - 1);
    assert.ok(guard.peek("id-1", "fp"));
    clock.advance(1);
    for (let i = 0; i < 5; i++) {
      const c = guard.claim(`later-${i}`, "fp", new Date(clock.now().getTime() + MINUTE));
      if (c.kind === "new") c.settle("r");
    }
    assert.equal(guard.peek("id-1", "fp"), undefined);
    assert.equal(guard.size, 5, "the expired id was swept");
  });

  test("an abandoned claim is forgotten and its waiters learn there is no result", async () => {
    const guard = new ReplayGuard<string>({ retentionSlackMs: 0 });
    const first = guard.claim("x", "fp", new Date(Date.now() + MINUTE));
    const waiter = guard.claim("x", "fp", new Date(Date.now() + MINUTE));
    assert.equal(waiter.kind, "duplicate");
    if (first.kind === "new") first.abandon();
    assert.equal(waiter.kind === "duplicate" ? await waiter.result : "x", undefined);
    assert.equal(guard.claim("x", "fp", new Date(Date.now() + MINUTE)).kind, "new");
  });

  test("when full of unexpired ids it refuses new claims rather than forgetting live ones", () => {
    const guard = new ReplayGuard<string>({ retentionSlackMs: 0, maxEntries: 2 });
    for (const id of ["a", "b"]) {
      const c = guard.claim(id, "fp", new Date(Date.now() + MINUTE));
      if (c.kind === "new") c.settle("r");
    }
    assert.throws(() => guard.claim("c", "fp", new Date(Date.now() + MINUTE)), ReplayGuardFullError);
  });
});

describe("cloud clock", () => {
  test("follows the broker's enqueued time, taking the largest recent sample", () => {
    const local = new ManualClock();
    const clock = new CloudClock({ clock: local });
    assert.equal(clock.offsetMs(), 0);
    const received = local.now().getTime();
    clock.observe(new Date(received + 90 * SECOND), received);
    clock.observe(new Date(received + 89 * SECOND), received); // waited a second in the queue
    assert.equal(clock.offsetMs(), 90 * SECOND);
    assert.equal(clock.isExpired(new Date(received + 91 * SECOND)), false);
    assert.equal(clock.isExpired(new Date(received + 90 * SECOND)), true);
  });

  test("the offset is clamped to ±maxSkew and samples age out", () => {
    const local = new ManualClock();
    const clock = new CloudClock({ clock: local, maxSkewMs: 5 * MINUTE, sampleWindowMs: 10 * MINUTE });
    const t = local.now().getTime();
    clock.observe(new Date(t - 3_600_000), t);
    assert.equal(clock.offsetMs(), -5 * MINUTE);
    local.advance(11 * MINUTE);
    assert.equal(clock.offsetMs(), 0);
  });
});

describe("agent key store", () => {
  test("loads a passphrase-protected PEM; a wrong passphrase is a clear error without the passphrase", async () => {
    const folder = mkdtempSync(join(tmpdir(), "agent-key-"));
    const file = join(folder, "agent.pem");
    const { privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "Correct-Horse-1" },
    });
    writeFileSync(file, privateKey, { mode: 0o600 });
    const store = await AgentKeyStore.open({ privateKeyFile: file, passphrase: "Correct-Horse-1", stateFile: join(folder, "state.json") });
    assert.equal(store.privateKey.asymmetricKeyType, "rsa");
    await assert.rejects(
      AgentKeyStore.open({ privateKeyFile: file, passphrase: "Wrong-Horse-2", stateFile: join(folder, "state.json") }),
      (e: unknown) => e instanceof AgentKeyError && !e.message.includes("Wrong-Horse-2"),
    );
    await assert.rejects(AgentKeyStore.open({ privateKeyFile: join(folder, "missing.pem"), stateFile: join(folder, "s.json") }), /agent register/);
  });

  test("acceptance: current always, previous until its validity, older versions never", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const store = await AgentKeyStore.fromPrivateKey(privateKey);
    const [k1, k2, k3] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const t = Date.now();
    await store.install(1, k1);
    assert.equal(await store.accept({ keyVersion: 2, previousKeyVersion: 1, previousValidUntil: new Date(t + 1000) }, k2), "stored");
    assert.ok(store.keyFor(1, new Date(t))?.equals(k1));
    assert.equal(store.keyFor(1, new Date(t + 1000)), undefined);
    assert.equal(await store.accept({ keyVersion: 2, previousKeyVersion: 1, previousValidUntil: new Date(t + 1000) }, k2), "alreadyHeld");
    assert.equal(await store.accept({ keyVersion: 3, previousKeyVersion: 2, previousValidUntil: new Date(t + 1000) }, k3), "stored");
    assert.equal(store.keyFor(1, new Date(t)), undefined, "only one previous version");
    assert.deepEqual(store.heldVersions(new Date(t)), [3, 2]);
    assert.equal(await store.accept({ keyVersion: 1, previousKeyVersion: 0, previousValidUntil: new Date(0) }, k1), "stale");
    await store.discardAll();
    assert.deepEqual(store.heldVersions(new Date(t)), []);
  });
});

describe("logging", () => {
  test("the redacting logger drops secret-named fields and encoded blobs, keeps ids and codes", () => {
    const lines: string[] = [];
    const logger = redactingLogger(jsonLinesLogger((l) => lines.push(l)));
    const blob = randomBytes(32).toString("base64");
    logger.warn("x", { password: "Hunter-22", newPassword: "Abc-123", packageKey: "k", sasKey: "s", keyVersion: 3, requestId: "6f1c0a52-0000-4000-8000-000000000000", code: "ACCOUNT_LOCKED", blob });
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.password, REDACTED);
    assert.equal(entry.newPassword, REDACTED);
    assert.equal(entry.packageKey, REDACTED);
    assert.equal(entry.sasKey, REDACTED);
    assert.equal(entry.blob, REDACTED);
    assert.equal(entry.keyVersion, 3);
    assert.equal(entry.code, "ACCOUNT_LOCKED");
    assert.equal(entry.requestId, "6f1c0a52-0000-4000-8000-000000000000");
    assert.equal(entry.level, "warn");
    assert.equal(lines.join("").includes("Hunter-22"), false);
  });

  test("wrapping a redacting logger again returns it: one redaction pass, still redacting", () => {
    const lines: string[] = [];
    const once = redactingLogger(jsonLinesLogger((l) => lines.push(l)));
    const twice = redactingLogger(once);
    assert.equal(twice, once);
    twice.info("x", { password: "Hunter-22" });
    assert.equal((JSON.parse(lines[0]!) as Record<string, unknown>).password, REDACTED);
  });
});

describe("heartbeat policy", () => {
  test("several domains: the strictest combination", () => {
    const base = { minLength: 8, complexity: false, historyLength: 5, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 0, lockoutDurationSeconds: 600 };
    assert.deepEqual(strictestPolicy([base, { ...base, minLength: 12, complexity: true, maxAgeSeconds: 100, lockoutThreshold: 5 }, { ...base, maxAgeSeconds: 50 }]), {
      ...base,
      minLength: 12,
      complexity: true,
      maxAgeSeconds: 50,
      lockoutThreshold: 5,
    });
    assert.equal(strictestPolicy([]).minLength, 0);
  });
});
