import assert from "node:assert/strict";
import { describe, test } from "vitest";
import { ConstraintViolationError, InsufficientAccessError, InvalidCredentialsError, NoSuchObjectError, UnwillingToPerformError } from "ldapts";
import { adResultOf, connectionFailureOf, policyReasonHint, toDirectoryError } from "../../../agent/directory/ldap/ad-errors.js";
import { intervalSeconds, policyFromDomainEntry } from "../../../agent/directory/ldap/ad-policy.js";
import { orderedUrls } from "../../../agent/directory/ldap/ldap-directory.js";
import { diagnosePolicyReason } from "../../../agent/directory/ldap/policy-diagnosis.js";
import { encodeUnicodePwd, withUnicodePwds } from "../../../agent/directory/ldap/unicode-pwd.js";

const WINDOWS_POLICY = "0000052D: Constraint violation - check_password_restrictions: AtrErr: DSID-03191083, #1:\n\t0: 0000052D: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n";

describe("LDAP adapter: AD answers to outcomes", () => {
  test("mapping by result code and Win32 code; Samba's text names the policy rule", () => {
    const cases: [Error, "reset" | "change" | "unlock" | "bind", string, string?][] = [
      [new ConstraintViolationError("0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!"), "reset", "PASSWORD_POLICY_VIOLATION", "tooShort"],
      [new ConstraintViolationError("0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria!"), "change", "PASSWORD_POLICY_VIOLATION", "complexity"],
      [new ConstraintViolationError("0000052D: Constraint violation - check_password_restrictions: the password was already used (in history)!"), "change", "PASSWORD_POLICY_VIOLATION", "history"],
      [new ConstraintViolationError("0000052D: Constraint violation - check_password_restrictions: password is too young to change!"), "change", "PASSWORD_POLICY_VIOLATION", "minimumAge"],
      [new ConstraintViolationError(WINDOWS_POLICY), "change", "PASSWORD_POLICY_VIOLATION", "unknown"],
      [new UnwillingToPerformError("0000052D: SvcErr: DSID-031A1248, problem 5003 (WILL_NOT_PERFORM), data 0\n"), "reset", "PASSWORD_POLICY_VIOLATION", "unknown"],
      [new ConstraintViolationError("00000056: AtrErr: DSID-03191083, #1:\n\t0: 00000056: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)"), "change", "WRONG_CURRENT_PASSWORD"],
      [new ConstraintViolationError("00000775: Password change not permitted, account locked out!"), "change", "ACCOUNT_LOCKED"],
      [new ConstraintViolationError("00000533: account disabled"), "change", "ACCOUNT_DISABLED"],
      [new InsufficientAccessError("00000005: SecErr: DSID-031A11E9, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"), "reset", "ONPREM_PERMISSION_DENIED"],
      [new InsufficientAccessError("error in module acl: insufficient access rights during LDB_MODIFY (50)"), "unlock", "ONPREM_PERMISSION_DENIED"],
      [new NoSuchObjectError("0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT), data 0, best match of: 'DC=corp'"), "reset", "USER_NOT_FOUND"],
      // The service account's own bind: never the end user's account state.
      [new InvalidCredentialsError("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1"), "bind", "ONPREM_CONFIGURATION_ERROR"],
    ];
    for (const [error, operation, code, reason] of cases) {
      const mapped = toDirectoryError(error, operation);
      assert.equal(mapped.code, code, error.message);
      if (reason !== undefined) assert.equal(mapped.reason, reason, error.message);
      assert.doesNotMatch(mapped.message, /DC=|DSID|unicodePwd|check_password/, "no server text in the message");
    }
    assert.equal(adResultOf(new InvalidCredentialsError("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 773, v1db1"))?.bindData, 0x773);
  });

  test("transport failures are ONPREM_DIRECTORY_UNAVAILABLE; unknown client errors a configuration error without their text", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:636"), { code: "ECONNREFUSED" });
    const cert = Object.assign(new Error("unable to verify the first certificate"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    assert.equal(connectionFailureOf(refused), "ECONNREFUSED");
    assert.equal(toDirectoryError(cert, "reset").code, "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.equal(toDirectoryError(new Error("ModifyRequest: Operation timed out"), "reset").code, "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.equal(toDirectoryError(new Error("Connection closed before message response was received. Message type: ModifyRequest (0x66)"), "change").code, "ONPREM_DIRECTORY_UNAVAILABLE");
    const odd = toDirectoryError(new TypeError("cannot read CN=secret"), "reset");
    assert.equal(odd.code, "ONPREM_CONFIGURATION_ERROR");
    assert.doesNotMatch(odd.message, /CN=/);
    assert.equal(policyReasonHint("whatever"), "unknown");
  });

  test("without the server's reason, the policy explains length and complexity", () => {
    const policy = { minLength: 8, complexity: true, historyLength: 24, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 0, lockoutDurationSeconds: 0 };
    assert.equal(diagnosePolicyReason(policy, Buffer.from("Ab1-"), "alice"), "tooShort");
    assert.equal(diagnosePolicyReason(policy, Buffer.from("alllowercase"), "alice"), "complexity");
    assert.equal(diagnosePolicyReason(policy, Buffer.from("Xalice-2024"), "alice"), "complexity");
    assert.equal(diagnosePolicyReason(policy, Buffer.from("Brand-New-42"), "alice"), "unknown");
  });
});

describe("LDAP adapter: encoding and parsing", () => {
  test("unicodePwd is the quoted password in UTF-16LE; buffers are zeroed after use", async () => {
    assert.deepEqual(encodeUnicodePwd(Buffer.from("Pä$1")), Buffer.from('"Pä$1"', "utf16le"));
    let kept: Buffer[] = [];
    await withUnicodePwds([Buffer.from("One-1"), Buffer.from("Two-2")], async (encoded) => {
      kept = encoded;
      assert.equal(encoded[1]?.toString("utf16le"), '"Two-2"');
    });
    assert.ok(kept.every((b) => b.every((x) => x === 0)));
    await assert.rejects(withUnicodePwds([Buffer.from("x")], async (encoded) => {
      kept = encoded;
      throw new Error("boom");
    }));
    assert.ok(kept.every((b) => b.every((x) => x === 0)));
  });

  test("the domain object's policy: intervals in 100 ns ticks, 'never' as 0", () => {
    assert.equal(intervalSeconds("-9223372036854775808"), 0);
    assert.equal(intervalSeconds("-864000000000"), 86_400);
    assert.deepEqual(
      policyFromDomainEntry({ minPwdLength: "7", pwdProperties: "17", pwdHistoryLength: "24", minPwdAge: "-864000000000", maxPwdAge: "-36288000000000", lockoutThreshold: "5", lockoutDuration: "-18000000000" }),
      { minLength: 7, complexity: true, historyLength: 24, minAgeSeconds: 86_400, maxAgeSeconds: 3_628_800, lockoutThreshold: 5, lockoutDurationSeconds: 1800 },
    );
    assert.equal(policyFromDomainEntry({ pwdProperties: "0", maxPwdAge: "-9223372036854775808" }).complexity, false);
  });

  test("the preferred DC first (by URL or host name), then the configured order", () => {
    const urls = ["ldaps://dc1.corp:636", "ldaps://dc2.corp:636", "ldaps://dc3.corp"];
    assert.deepEqual(orderedUrls(urls, undefined), urls);
    assert.deepEqual(orderedUrls(urls, "DC2.corp"), ["ldaps://dc2.corp:636", "ldaps://dc1.corp:636", "ldaps://dc3.corp"]);
    assert.deepEqual(orderedUrls(urls, "ldaps://dc3.corp"), ["ldaps://dc3.corp", "ldaps://dc1.corp:636", "ldaps://dc2.corp:636"]);
    assert.deepEqual(orderedUrls(urls, "pdc.corp"), ["ldaps://pdc.corp", ...urls]);
  });
});
