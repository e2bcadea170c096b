import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import { categoryOf, meetsComplexity } from "../../../agent/directory/embedded/complexity.js";
import { EmbeddedDirectory } from "../../../agent/directory/embedded/embedded-directory.js";
import { PasswordText } from "../../../agent/directory/embedded/password-text.js";
import { directoryFromSeed, directoryFromSeedFile, EmbeddedSeedError } from "../../../agent/directory/embedded/seed.js";
import { DAY, ManualClock, MINUTE, pw } from "./helpers.js";

const DOMAIN = "corp.example.com";

function setup(policy: Record<string, number | boolean> = {}) {
  const clock = new ManualClock();
  const dir = new EmbeddedDirectory({ clock });
  dir.addDomain({
    domain: DOMAIN,
    policy: { minLength: 8, complexity: true, historyLength: 3, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 0, ...policy },
  });
  const alice = dir.addUser(DOMAIN, { sAMAccountName: "alice", displayName: "Alice Van-Dyke", password: pw("Initial-Pass1") });
  return { clock, dir, alice };
}

async function rejects(p: Promise<unknown>, code: string, reason?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AppError, "an AppError");
    assert.equal(e.code, code);
    if (reason !== undefined) assert.equal(e.reason, reason);
    return true;
  });
}

const complex = (s: string, sam = "alice", display?: string) => {
  const t = PasswordText.fromUtf8(pw(s));
  try {
    return meetsComplexity(t, sam, display);
  } finally {
    t.wipe();
  }
};

describe("complexity (Microsoft's documented rule)", () => {
  test("three of the five categories are needed", () => {
    assert.equal(complex("abcdefgh"), false);
    assert.equal(complex("abcdEFGH"), false);
    assert.equal(complex("abcdEF12"), true);
    assert.equal(complex("abcd12!!"), true);
    assert.equal(complex("ABCD12!!"), true);
    assert.equal(complex("1234!!!!"), false);
  });

  test("letters without case (e.g. CJK) are the fifth category; currency symbols and spaces count in none", () => {
    assert.equal(categoryOf("漢".codePointAt(0)!), "otherLetter");
    assert.equal(complex("漢字12!!"), true);
    assert.equal(complex("abc12€€€"), false);
    assert.equal(complex("abc12   "), false);
    assert.equal(complex("Ünïcödé1"), true);
  });

  test("the sAMAccountName anywhere in the password, case-insensitive, fails; names shorter than 3 are not checked", () => {
    assert.equal(complex("xxALICE#2024"), false);
    assert.equal(complex("Al#2024xyzw", "al"), true);
  });

  test("displayName tokens of 3+ characters (split at , . - _ space # tab) are forbidden; shorter tokens are not", () => {
    assert.equal(complex("Dyke#2024zz", "jdoe", "Alice Van-Dyke"), false);
    assert.equal(complex("xVAN#2024zz", "jdoe", "Alice Van-Dyke"), false);
    assert.equal(complex("Jo#2024zzzz", "jdoe", "Jo Li"), true);
  });
});

describe("embedded directory: admin reset", () => {
  test("a compliant password is set; the old one no longer binds, the new one does", async () => {
    const { dir, alice } = setup();
    await dir.resetPassword(alice, pw("Brand-New-42"), { unlockAccount: false, forceChangeAtNextLogon: false });
    assert.equal(await dir.verifyPassword(alice, pw("Initial-Pass1")), "badPassword");
    assert.equal(await dir.verifyPassword(alice, pw("Brand-New-42")), "ok");
    assert.equal(dir.inspect(alice).passwordWrites, 1);
  });

  test("too short, complexity and history are enforced (history through the policy-hints control)", async () => {
    const { dir, alice } = setup();
    const opts = { unlockAccount: false, forceChangeAtNextLogon: false };
    await rejects(dir.resetPassword(alice, pw("Ab1!"), opts), "PASSWORD_POLICY_VIOLATION", "tooShort");
    await rejects(dir.resetPassword(alice, pw("alllowercase"), opts), "PASSWORD_POLICY_VIOLATION", "complexity");
    await rejects(dir.resetPassword(alice, pw("Alice-2024!!"), opts), "PASSWORD_POLICY_VIOLATION", "complexity");
    await rejects(dir.resetPassword(alice, pw("Initial-Pass1"), opts), "PASSWORD_POLICY_VIOLATION", "history");
    assert.equal(dir.inspect(alice).passwordWrites, 0);
  });

  test("history remembers historyLength passwords, the current one included", async () => {
    const { dir, alice } = setup({ historyLength: 3 });
    const opts = { unlockAccount: false, forceChangeAtNextLogon: false };
    await dir.resetPassword(alice, pw("Second-Pass2"), opts);
    await dir.resetPassword(alice, pw("Third-Pass3"), opts);
    await rejects(dir.resetPassword(alice, pw("Initial-Pass1"), opts), "PASSWORD_POLICY_VIOLATION", "history");
    await dir.resetPassword(alice, pw("Fourth-Pass4"), opts);
    // Initial is now the 4th most recent: out of a 3-password history.
    await dir.resetPassword(alice, pw("Initial-Pass1"), opts);
    assert.equal(dir.inspect(alice).historyEntries, 3);
  });

  test("minimum age is not enforced on an admin reset", async () => {
    const { dir, alice } = setup({ minAgeSeconds: DAY / 1000 });
    await dir.resetPassword(alice, pw("Second-Pass2"), { unlockAccount: false, forceChangeAtNextLogon: false });
    await dir.resetPassword(alice, pw("Third-Pass3"), { unlockAccount: false, forceChangeAtNextLogon: false });
  });

  test("forceChangeAtNextLogon sets pwdLastSet=0 (bind says must change); without it pwdLastSet is now", async () => {
    const { dir, alice, clock } = setup();
    await dir.resetPassword(alice, pw("Second-Pass2"), { unlockAccount: false, forceChangeAtNextLogon: true });
    assert.equal(dir.inspect(alice).pwdLastSet, 0);
    assert.equal(await dir.verifyPassword(alice, pw("Second-Pass2")), "mustChange");
    await dir.resetPassword(alice, pw("Third-Pass3"), { unlockAccount: false, forceChangeAtNextLogon: false });
    assert.deepEqual(dir.inspect(alice).pwdLastSet, clock.now());
  });

  test("a reset leaves a lockout alone unless unlockAccount is set", async () => {
    const { dir, alice } = setup({ lockoutThreshold: 2, lockoutDurationSeconds: 0 });
    await dir.verifyPassword(alice, pw("wrong"));
    await dir.verifyPassword(alice, pw("wrong"));
    assert.equal(dir.inspect(alice).lockedOut, true);
    await dir.resetPassword(alice, pw("Second-Pass2"), { unlockAccount: false, forceChangeAtNextLogon: false });
    assert.equal(await dir.verifyPassword(alice, pw("Second-Pass2")), "locked");
    await dir.resetPassword(alice, pw("Third-Pass3"), { unlockAccount: true, forceChangeAtNextLogon: false });
    assert.equal(await dir.verifyPassword(alice, pw("Third-Pass3")), "ok");
  });
});

describe("embedded directory: user change", () => {
  test("right current password and a compliant new one: changed, pwdLastSet=now", async () => {
    const { dir, alice } = setup();
    await dir.changePassword(alice, pw("Initial-Pass1"), pw("Changed-Pass2"));
    assert.equal(await dir.verifyPassword(alice, pw("Changed-Pass2")), "ok");
  });

  test("wrong current password: WRONG_CURRENT_PASSWORD and badPwdCount counts it", async () => {
    const { dir, alice } = setup();
    await rejects(dir.changePassword(alice, pw("Not-It-123"), pw("Changed-Pass2")), "WRONG_CURRENT_PASSWORD");
    assert.equal(dir.inspect(alice).badPwdCount, 1);
    assert.equal(await dir.verifyPassword(alice, pw("Initial-Pass1")), "ok");
    assert.equal(dir.inspect(alice).badPwdCount, 0, "a successful bind clears badPwdCount");
  });

  test("history is enforced on a change, including the current password", async () => {
    const { dir, alice } = setup();
    await rejects(dir.changePassword(alice, pw("Initial-Pass1"), pw("Initial-Pass1")), "PASSWORD_POLICY_VIOLATION", "history");
    await dir.changePassword(alice, pw("Initial-Pass1"), pw("Changed-Pass2"));
    await rejects(dir.changePassword(alice, pw("Changed-Pass2"), pw("Initial-Pass1")), "PASSWORD_POLICY_VIOLATION", "history");
  });

  test("history length 0 allows reusing the current password", async () => {
    const { dir, alice } = setup({ historyLength: 0 });
    await dir.changePassword(alice, pw("Initial-Pass1"), pw("Initial-Pass1"));
  });

  test("minimum age: a second change within minAge is refused; after it, allowed; pwdLastSet=0 passes", async () => {
    const { dir, alice, clock } = setup({ minAgeSeconds: DAY / 1000 });
    await rejects(dir.changePassword(alice, pw("Initial-Pass1"), pw("Changed-Pass2")), "PASSWORD_POLICY_VIOLATION", "minimumAge");
    clock.advance(DAY);
    await dir.changePassword(alice, pw("Initial-Pass1"), pw("Changed-Pass2"));
    await rejects(dir.changePassword(alice, pw("Changed-Pass2"), pw("Changed-Pass3")), "PASSWORD_POLICY_VIOLATION", "minimumAge");
    await dir.resetPassword(alice, pw("Reset-Pass4"), { unlockAccount: false, forceChangeAtNextLogon: true });
    await dir.changePassword(alice, pw("Reset-Pass4"), pw("Changed-Pass5"));
  });

  test("policy reasons on a change: tooShort and complexity", async () => {
    const { dir, alice } = setup();
    await rejects(dir.changePassword(alice, pw("Initial-Pass1"), pw("Sh0rt!")), "PASSWORD_POLICY_VIOLATION", "tooShort");
    await rejects(dir.changePassword(alice, pw("Initial-Pass1"), pw("onlylowercase")), "PASSWORD_POLICY_VIOLATION", "complexity");
  });

  test("an expired password binds as expired and can still be changed", async () => {
    const { dir, alice, clock } = setup({ maxAgeSeconds: 42 * DAY / 1000 });
    clock.advance(42 * DAY);
    assert.equal(dir.inspect(alice).passwordExpired, true);
    assert.equal(await dir.verifyPassword(alice, pw("Initial-Pass1")), "expired");
    await dir.changePassword(alice, pw("Initial-Pass1"), pw("Changed-Pass2"));
    assert.equal(await dir.verifyPassword(alice, pw("Changed-Pass2")), "ok");
  });

  test("a password that never expires does not expire", async () => {
    const clock = new ManualClock();
    const dir = new EmbeddedDirectory({ clock });
    dir.addDomain({ domain: DOMAIN, policy: { maxAgeSeconds: 60 } });
    const svc = dir.addUser(DOMAIN, { sAMAccountName: "svc", password: pw("Svc-Pass-1"), passwordNeverExpires: true });
    clock.advance(10 * MINUTE);
    assert.equal(await dir.verifyPassword(svc, pw("Svc-Pass-1")), "ok");
  });

  test("disabled account: change refused with ACCOUNT_DISABLED, bind says disabled; an admin reset works as in AD", async () => {
    const { dir, alice } = setup();
    dir.setAccountFlags(alice, { disabled: true });
    await rejects(dir.changePassword(alice, pw("Initial-Pass1"), pw("Changed-Pass2")), "ACCOUNT_DISABLED");
    assert.equal(await dir.verifyPassword(alice, pw("Initial-Pass1")), "disabled");
    assert.equal((await dir.readAccount(alice))?.disabled, true);
    await dir.resetPassword(alice, pw("Reset-Pass2"), { unlockAccount: false, forceChangeAtNextLogon: false });
  });
});

describe("embedded directory: lockout", () => {
  test("threshold reached → locked; locked accounts refuse binds and changes even with the right password", async () => {
    const { dir, alice } = setup({ lockoutThreshold: 3, lockoutDurationSeconds: 1800, lockoutObservationWindowSeconds: 1800 });
    for (let i = 0; i < 2; i++) await rejects(dir.changePassword(alice, pw("wrong-Pass1"), pw("Changed-Pass2")), "WRONG_CURRENT_PASSWORD");
    assert.equal(dir.inspect(alice).lockedOut, false);
    assert.equal(await dir.verifyPassword(alice, pw("wrong")), "badPassword");
    const s = dir.inspect(alice);
    assert.equal(s.lockedOut, true);
    assert.equal(s.badPwdCount, 3);
    assert.equal((await dir.readAccount(alice))?.lockedOut, true);
    assert.equal(await dir.verifyPassword(alice, pw("Initial-Pass1")), "locked");
    await rejects(dir.changePassword(alice, pw("Initial-Pass1"), pw("Changed-Pass2")), "ACCOUNT_LOCKED");
  });

  test("bad attempts older than the observation window are forgotten", async () => {
    const { dir, alice, clock } = setup({ lockoutThreshold: 3, lockoutDurationSeconds: 1800, lockoutObservationWindowSeconds: 600 });
    await dir.verifyPassword(alice, pw("wrong"));
    await dir.verifyPassword(alice, pw("wrong"));
    clock.advance(10 * MINUTE);
    await dir.verifyPassword(alice, pw("wrong"));
    assert.equal(dir.inspect(alice).badPwdCount, 1);
    assert.equal(dir.inspect(alice).lockedOut, false);
  });

  test("a lockout ends by itself after the lockout duration", async () => {
    const { dir, alice, clock } = setup({ lockoutThreshold: 1, lockoutDurationSeconds: 900, lockoutObservationWindowSeconds: 900 });
    await dir.verifyPassword(alice, pw("wrong"));
    clock.advance(14 * MINUTE);
    assert.equal(await dir.verifyPassword(alice, pw("Initial-Pass1")), "locked");
    clock.advance(MINUTE);
    assert.equal(await dir.verifyPassword(alice, pw("Initial-Pass1")), "ok");
  });

  test("duration 0 locks until an administrator unlocks; lockoutTime=0 unlocks and clears badPwdCount", async () => {
    const { dir, alice, clock } = setup({ lockoutThreshold: 1, lockoutDurationSeconds: 0 });
    await dir.verifyPassword(alice, pw("wrong"));
    clock.advance(365 * DAY);
    assert.equal(dir.inspect(alice).lockedOut, true);
    await dir.unlockAccount(alice);
    const s = dir.inspect(alice);
    assert.equal(s.lockedOut, false);
    assert.equal(s.lockoutTime, 0);
    assert.equal(s.badPwdCount, 0);
    assert.equal(s.unlocks, 1);
  });

  test("threshold 0: bad attempts are counted but never lock", async () => {
    const { dir, alice } = setup({ lockoutThreshold: 0 });
    for (let i = 0; i < 20; i++) await dir.verifyPassword(alice, pw("wrong"));
    assert.equal(dir.inspect(alice).lockedOut, false);
    assert.equal(dir.inspect(alice).badPwdCount, 20);
  });
});

describe("embedded directory: accounts, faults, domains", () => {
  test("protected accounts (adminCount=1) are flagged; unknown objects read as undefined and write as USER_NOT_FOUND", async () => {
    const { dir } = setup();
    const admin = dir.addUser(DOMAIN, { sAMAccountName: "da", password: pw("Admin-Pass-1"), adminCount: 1 });
    assert.equal((await dir.readAccount(admin))?.protected, true);
    const ghost = { domain: DOMAIN, distinguishedName: "CN=ghost", objectGuid: "00000000-0000-4000-8000-000000000000" };
    assert.equal(await dir.readAccount(ghost), undefined);
    await rejects(dir.resetPassword(ghost, pw("Whatever-1!"), { unlockAccount: false, forceChangeAtNextLogon: false }), "USER_NOT_FOUND");
  });

  test("the fault switch makes every operation ONPREM_DIRECTORY_UNAVAILABLE and health unreachable, per domain", async () => {
    const { dir, alice } = setup();
    dir.addDomain({ domain: "emea.example.com" });
    dir.setReachable(false, DOMAIN);
    await rejects(dir.readAccount(alice), "ONPREM_DIRECTORY_UNAVAILABLE");
    await rejects(dir.resetPassword(alice, pw("Brand-New-42"), { unlockAccount: false, forceChangeAtNextLogon: false }), "ONPREM_DIRECTORY_UNAVAILABLE");
    await rejects(dir.changePassword(alice, pw("Initial-Pass1"), pw("Brand-New-42")), "ONPREM_DIRECTORY_UNAVAILABLE");
    await rejects(dir.unlockAccount(alice), "ONPREM_DIRECTORY_UNAVAILABLE");
    await rejects(dir.passwordPolicy(DOMAIN), "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.deepEqual(
      (await dir.health()).map((h) => [h.domain, h.status]),
      [
        [DOMAIN, "unreachable"],
        ["emea.example.com", "healthy"],
      ],
    );
    dir.setReachable(true);
    await dir.resetPassword(alice, pw("Brand-New-42"), { unlockAccount: false, forceChangeAtNextLogon: false });
  });

  test("an account in a domain the agent has no connector for is a configuration error", async () => {
    const { dir } = setup();
    await rejects(dir.readAccount({ domain: "other.example.org", distinguishedName: "CN=x", objectGuid: "00000000-0000-4000-8000-000000000001" }), "ONPREM_CONFIGURATION_ERROR");
  });

  test("several domains keep their own policies", async () => {
    const { dir } = setup();
    dir.addDomain({ domain: "lax.example.net", policy: { minLength: 3, complexity: false, historyLength: 0 } });
    const bob = dir.addUser("lax.example.net", { sAMAccountName: "bob", password: pw("x") });
    await dir.resetPassword(bob, pw("abc"), { unlockAccount: false, forceChangeAtNextLogon: false });
    assert.equal((await dir.passwordPolicy("lax.example.net")).minLength, 3);
    assert.equal((await dir.passwordPolicy(DOMAIN)).minLength, 8);
  });

  test("listUsers yields what the sync store needs", async () => {
    const { dir, alice } = setup();
    const users = [];
    for await (const u of dir.listUsers(DOMAIN)) users.push(u);
    assert.equal(users.length, 1);
    assert.equal(users[0]?.objectGuid, alice.objectGuid);
    assert.equal(users[0]?.sAMAccountName, "alice");
    assert.match(users[0]?.distinguishedName ?? "", /^CN=Alice Van-Dyke,CN=Users,DC=corp,DC=example,DC=com$/);
  });

  test("the snapshot never exposes hashes or passwords", () => {
    const { dir, alice } = setup();
    const text = JSON.stringify(dir.inspect(alice));
    assert.doesNotMatch(text, /Initial-Pass1|hash|salt/i);
  });

  test("passwords given to the directory are not modified, and no JS string of them is kept", async () => {
    const { dir, alice } = setup();
    const next = pw("Brand-New-42");
    await dir.resetPassword(alice, next, { unlockAccount: false, forceChangeAtNextLogon: false });
    assert.equal(next.toString(), "Brand-New-42", "the caller owns and zeroes its buffer");
  });
});

describe("embedded directory seed", () => {
  const seed = {
    domains: [
      {
        domain: "corp.example.com",
        policy: { minLength: 10, lockoutThreshold: 5 },
        users: [
          { sAMAccountName: "carol", displayName: "Carol Example", objectGuid: "11111111-2222-4333-8444-555555555555", password: "Seeded-Pass-1", mustChangePassword: true },
          { sAMAccountName: "admin2", password: "Admin-Seeded-1", adminCount: 1, disabled: true },
        ],
      },
    ],
  };

  test("loads domains, policies (defaults for the rest), users with hashed initial passwords and flags", async () => {
    const dir = directoryFromSeed(seed);
    const carol = dir.findUser("corp.example.com", "CAROL")!;
    assert.equal(carol.objectGuid, "11111111-2222-4333-8444-555555555555");
    assert.equal(await dir.verifyPassword(carol, pw("Seeded-Pass-1")), "mustChange");
    const policy = await dir.passwordPolicy("corp.example.com");
    assert.equal(policy.minLength, 10);
    assert.equal(policy.historyLength, 24, "Default Domain Policy for what the seed omits");
    const admin = await dir.readAccount(dir.findUser("corp.example.com", "admin2")!);
    assert.equal(admin?.protected, true);
    assert.equal(admin?.disabled, true);
  });

  test("from a file; an invalid seed names the field, never a password", async () => {
    const folder = mkdtempSync(join(tmpdir(), "seed-"));
    const file = join(folder, "seed.json");
    writeFileSync(file, JSON.stringify(seed));
    assert.ok((await directoryFromSeedFile(file)).findUser("corp.example.com", "carol"));
    const bad = { domains: [{ domain: "x.test", users: [{ sAMAccountName: "u", password: "Leaky-Secret-9", adminCount: 7 }] }] };
    assert.throws(
      () => directoryFromSeed(bad),
      (e: unknown) => e instanceof EmbeddedSeedError && /adminCount/.test(e.message) && !e.message.includes("Leaky-Secret-9"),
    );
  });
});
