import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { test } from "vitest";
import fc from "fast-check";
import {
  changeBodySchema,
  MAX_CLOUD_ANCHOR_BYTES,
  MAX_PASSWORD_BYTES_TOGETHER,
  MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR,
  MAX_PASSWORD_CHARS,
  precheckBodySchema,
  resetBodySchema,
  unlockBodySchema,
} from "../../../shared/http/request-schemas.js";
import { MAX_MESSAGE_BYTES, sealedRequestBytes, sealRequest } from "../../../shared/protocol/envelope.js";

// The rules the body schema enforces on text, written plainly (code unit by code unit).
function loneSurrogate(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = v.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}
const hasControl = (v: string) => [...v].some((ch) => ch.charCodeAt(0) <= 0x1f || ch.charCodeAt(0) === 0x7f);

const ALPHABET = ["a", "Z", "1", "!", "é", "€", "\u0000", "\u0001", "\u001f", "\u007f", "\n", "\uD800", "\uDBFF", "\uDC00", "\uDFFF", "😀", "𝄞"];
function randomText(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 12);
  let s = "";
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

test("text rules: a password has no lone surrogate and no NUL; an anchor no lone surrogate and no control character; a UPN no lone surrogate", () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const base = {
    user: { cloudAnchor: "User_x", userPrincipalName: "a@b.example", authType: "passwordHashSync" },
    newPassword: "Aa1!aaaa",
    initiator: { kind: "user", channel: "ssprPortal" },
  };
  const fieldsOf = (body: unknown) => {
    const r = resetBodySchema.safeParse(body);
    return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
  };
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const t = randomText(rand);
    const pw = !loneSurrogate(t) && !t.includes("\u0000");
    assert.deepEqual(fieldsOf({ ...base, newPassword: t }), pw ? [] : ["newPassword"], JSON.stringify(t));
    const anchor = !loneSurrogate(t) && !hasControl(t);
    assert.deepEqual(fieldsOf({ ...base, user: { ...base.user, cloudAnchor: t } }), anchor ? [] : ["user.cloudAnchor"], JSON.stringify(t));
    const upn = `x${t.replace(/[@\s]/g, "")}@b.example`;
    assert.deepEqual(fieldsOf({ ...base, user: { ...base.user, userPrincipalName: upn } }), loneSurrogate(upn) ? ["user.userPrincipalName"] : [], JSON.stringify(upn));
    if (!pw) rejected++;
  }
  // The sample exercises both sides of every rule.
  assert.ok(rejected > 300 && rejected < 2700);
});

// ------------------------------------------------------------ byte limits: what passes always seals

const agentKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const packageKey = randomBytes(32);
const user = (cloudAnchor: string, userPrincipalName = "a@b.example") => ({ cloudAnchor, userPrincipalName, authType: "passwordHashSync" });
const initiator = { kind: "user", channel: "ssprPortal" };

function seal(operation: "reset" | "change", anchor: string, next: string, current?: string, sourceAnchor?: Buffer): Buffer {
  return sealRequest({
    tenantId: randomUUID(),
    requestId: randomUUID(),
    operation,
    keyVersion: 7,
    packageKey,
    agentPublicKey: agentKeys.publicKey,
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 120_000),
    traceId: randomUUID(),
    cloudAnchor: anchor,
    ...(sourceAnchor === undefined ? {} : { sourceAnchor }),
    initiator: { kind: "user", channel: "ssprPortal" },
    flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
    newPassword: Buffer.from(next, "utf8"),
    ...(current === undefined ? {} : { currentPassword: Buffer.from(current, "utf8") }),
  });
}

test("a 64-character CJK anchor with a maximum-length password is refused by name, not sealed into an overflow", () => {
  const anchor = "漢".repeat(64); // 64 characters, 192 bytes
  const r = resetBodySchema.safeParse({ user: user(anchor), newPassword: "€".repeat(MAX_PASSWORD_BYTES_TOGETHER / 3), initiator });
  assert.ok(sealedRequestBytes(192, MAX_PASSWORD_BYTES_TOGETHER, undefined) > MAX_MESSAGE_BYTES, "the case that overflowed");
  assert.equal(r.success, false);
  assert.deepEqual(r.success ? [] : r.error.issues.map((i) => i.path.join(".")), ["user.cloudAnchor"]);
  // The same for every body that carries a user.
  for (const schema of [precheckBodySchema, unlockBodySchema]) assert.equal(schema.safeParse({ user: user(anchor), ...(schema === unlockBodySchema ? { initiator } : {}) }).success, false);
  // At the limits exactly, the largest body seals within 1 KiB.
  const atLimit = "é".repeat(MAX_CLOUD_ANCHOR_BYTES / 2);
  assert.ok(resetBodySchema.safeParse({ user: user(atLimit), newPassword: "€".repeat(177), initiator }).success);
  assert.ok(seal("reset", atLimit, "€".repeat(177)).length <= MAX_MESSAGE_BYTES);
  assert.equal(sealedRequestBytes(MAX_CLOUD_ANCHOR_BYTES, MAX_PASSWORD_BYTES_TOGETHER, 0), MAX_MESSAGE_BYTES);
  assert.equal(sealedRequestBytes(MAX_CLOUD_ANCHOR_BYTES, MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR, 0, true), MAX_MESSAGE_BYTES);
  assert.ok(seal("reset", atLimit, "€".repeat(171) + "ab", undefined, randomBytes(16)).length <= MAX_MESSAGE_BYTES);
  // A UPN is limited in bytes too.
  assert.equal(resetBodySchema.safeParse({ user: user("User_x", `${"😀".repeat(60)}@b.example`), newPassword: "Aa1!aaaa", initiator }).success, false);
});

test("property: over mixed-width UTF-8, every reset and change body the schemas accept seals within 1 KiB, and only over-budget bodies are refused for size", () => {
  const char = fc.oneof(
    fc.constantFrom("a", "Z", "7", "!", "-"), // 1 byte
    fc.constantFrom("é", "ß", "Ω", "ж"), // 2 bytes
    fc.constantFrom("漢", "字", "€", "가"), // 3 bytes
    fc.constantFrom("😀", "𝄞", "🔑"), // 4 bytes, a surrogate pair each
  );
  // Up to maxChars UTF-16 code units (what the schemas count), never splitting a surrogate pair.
  const text = (maxChars: number) =>
    fc.array(char, { minLength: 1, maxLength: maxChars, size: "max" }).map((chars) => {
      while (chars.join("").length > maxChars) chars.pop();
      return chars.join("");
    });
  let accepted = 0;
  let refusedForSize = 0;
  fc.assert(
    fc.property(text(64), text(MAX_PASSWORD_CHARS), text(MAX_PASSWORD_CHARS), fc.boolean(), fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: undefined }), (anchor, next, current, isChange, immutable) => {
      // With the user's onPremisesImmutableId its 16 bytes travel too: a smaller password budget.
      const sourceAnchor = immutable === undefined ? undefined : Buffer.from(immutable);
      const u = { ...user(anchor), ...(sourceAnchor === undefined ? {} : { onPremisesImmutableId: sourceAnchor.toString("base64") }) };
      const body = isChange ? { user: u, currentPassword: current, newPassword: next, reason: "voluntary", initiator } : { user: u, newPassword: next, initiator };
      const parsed = (isChange ? changeBodySchema : resetBodySchema).safeParse(body);
      const passwordBytes = Buffer.byteLength(next) + (isChange ? Buffer.byteLength(current) : 0);
      const budget = sourceAnchor === undefined ? MAX_PASSWORD_BYTES_TOGETHER : MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR;
      const overBudget = Buffer.byteLength(anchor) > MAX_CLOUD_ANCHOR_BYTES || passwordBytes > budget;
      if (parsed.success) {
        accepted += 1;
        const message = seal(isChange ? "change" : "reset", anchor, next, isChange ? current : undefined, sourceAnchor);
        assert.ok(message.length <= MAX_MESSAGE_BYTES, `${message.length} bytes`);
        assert.equal(message.length, sealedRequestBytes(Buffer.byteLength(anchor), Buffer.byteLength(next), isChange ? Buffer.byteLength(current) : undefined, sourceAnchor !== undefined));
      } else {
        // The text itself is valid (no control characters, no lone surrogates): only the byte budget refuses it.
        assert.ok(overBudget, `refused within budget: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`);
        refusedForSize += 1;
      }
      assert.equal(parsed.success, !overBudget);
    }),
    { numRuns: 400 },
  );
  assert.ok(accepted > 20 && refusedForSize > 20, `both sides exercised (${accepted} accepted, ${refusedForSize} refused)`);
});
