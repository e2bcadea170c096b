import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "vitest";
import { coreToolsSettings, type LocalSettings } from "../../../dev/core-tools-settings.js";
import { createDevTokenIssuer, DEV_AUDIENCE, DEV_ISSUER } from "../../../dev/dev-token-issuer.js";
import { loadConfig } from "../../../shared/config/config.js";
import { createTokenVerifier } from "../../../shared/http/auth.js";

const sample = JSON.parse(readFileSync(new URL("../../../local.settings.sample.json", import.meta.url), "utf8")) as LocalSettings;

test("local.settings.json for func start: the sample plus the dev issuer's key, valid for the app and its tokens", async () => {
  const issuer = createDevTokenIssuer();
  const settings = coreToolsSettings(sample, issuer.publicKeyPem);
  for (const [name, value] of Object.entries(sample.Values)) if (name !== "AUTH_PUBLIC_KEY_PEM") assert.equal(settings.Values[name], value, name);
  // The host's storage needs Blob and Queue as well as Table: the development storage string covers all three.
  assert.equal(settings.Values.AzureWebJobsStorage, "UseDevelopmentStorage=true");
  const config = loadConfig(settings.Values);
  assert.equal(config.AUTH_ISSUER, DEV_ISSUER);
  const verify = createTokenVerifier({ issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, publicKeyPem: config.AUTH_PUBLIC_KEY_PEM });
  const tenantId = "2f0b6a37-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
  assert.equal((await verify(`Bearer ${await issuer.mint({ tenantId, roles: ["Writeback.Admin"], audience: DEV_AUDIENCE })}`)).tenantId, tenantId);
});
