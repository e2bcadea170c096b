import assert from "node:assert/strict";
import { test } from "vitest";
import { protectedBy, sidText } from "../../../agent/directory/ldap/protected-groups.js";

/** The binary form AD stores: revision 1, sub-authority count, 48-bit authority (big-endian), sub-authorities (little-endian). */
function sid(text: string): Buffer {
  const [, , authority, ...subs] = text.split("-").map(Number);
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = 1;
  b[1] = subs.length;
  b.writeUIntBE(authority ?? 0, 2, 6);
  subs.forEach((s, i) => b.writeUInt32LE(s, 8 + 4 * i));
  return b;
}
const domain = "S-1-5-21-1004336348-1177238915-682003330";

test("binary SIDs read back as their S-1-… text; malformed bytes are no SID", () => {
  for (const t of ["S-1-5-32-544", `${domain}-512`, `${domain}-1105`, "S-1-1-0"]) assert.equal(sidText(sid(t)), t);
  assert.equal(sidText(Buffer.from([1, 2, 0, 0])), undefined);
  assert.equal(sidText(Buffer.concat([sid("S-1-5-32-544"), Buffer.from([0])])), undefined);
});

test("protected: members of the AdminSDHolder groups (builtin or of any domain), the Administrator and krbtgt accounts; not others", () => {
  const user = sid(`${domain}-1105`);
  const usersOnly = [sid(`${domain}-513`), sid("S-1-5-32-545")];
  assert.equal(protectedBy(user, usersOnly), undefined, "Domain Users and Users are not protected");
  assert.equal(protectedBy(user, [...usersOnly, sid(`${domain}-512`)]), "member of Domain Admins");
  assert.equal(protectedBy(user, [sid("S-1-5-21-1-2-3-519")]), "member of Enterprise Admins", "the forest root's groups too");
  for (const [s, name] of [["S-1-5-32-544", "Administrators"], ["S-1-5-32-548", "Account Operators"], ["S-1-5-32-549", "Server Operators"], ["S-1-5-32-550", "Print Operators"], ["S-1-5-32-551", "Backup Operators"], ["S-1-5-32-552", "Replicator"]] as const) {
    assert.equal(protectedBy(user, [sid(s)]), `member of ${name}`);
  }
  for (const rid of [516, 518, 521, 526, 527]) assert.ok(protectedBy(user, [sid(`${domain}-${rid}`)])?.startsWith("member of "), `RID ${rid}`);
  assert.equal(protectedBy(sid(`${domain}-500`), usersOnly), "the Administrator account");
  assert.equal(protectedBy(sid(`${domain}-502`), usersOnly), "the krbtgt account");
  // A group RID of 512 under something that is not a domain SID is not Domain Admins.
  assert.equal(protectedBy(user, [sid("S-1-5-32-512")]), undefined);
});
