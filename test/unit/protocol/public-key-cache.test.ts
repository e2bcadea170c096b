import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "vitest";
import { publicKeyFromPem } from "../../../shared/protocol/public-key-cache.js";

test("a PEM public key is parsed once per PEM, and a wrong PEM still throws", () => {
  const pem = (bits: number) => generateKeyPairSync("rsa", { modulusLength: bits }).publicKey.export({ type: "spki", format: "pem" }).toString();
  const a = pem(2048);
  const b = pem(2048);
  const ka = publicKeyFromPem(a);
  assert.equal(publicKeyFromPem(a), ka, "same PEM, same KeyObject");
  assert.notEqual(publicKeyFromPem(b), ka);
  assert.equal(publicKeyFromPem(b).export({ type: "spki", format: "pem" }).toString(), b);
  assert.throws(() => publicKeyFromPem("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"));
});
