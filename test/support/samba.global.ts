import { sep } from "node:path";
import { SAMBA_ENV, sambaUnavailableReason, startSambaAd } from "./samba.js";

const LDAP_TESTS = `${sep}test${sep}integration${sep}ldap${sep}`;

/**
 * Starts one Samba AD DC for the run when a selected file is under test/integration/ldap.
 * Without samba-tool (or without root) the LDAP suite is skipped: the reason is printed here
 * and handed to the test files, which report their tests as skipped, never as passed.
 */
export async function setup(files: string[]): Promise<{ env: Record<string, string>; teardown(): Promise<void> } | undefined> {
  if (!files.some((f) => f.includes(LDAP_TESTS))) return undefined;
  const reason = sambaUnavailableReason();
  if (reason !== undefined) {
    console.log(`[samba] NOTICE: the Samba AD integration tests are SKIPPED: ${reason}.`);
    return { env: { [SAMBA_ENV.unavailable]: reason }, teardown: async () => {} };
  }
  try {
    const samba = await startSambaAd();
    return { env: samba.env, teardown: () => samba.stop() };
  } catch (e) {
    // Installed but not startable: the LDAP tests fail with this (a skip would hide a broken CI).
    const message = e instanceof Error ? e.message : String(e);
    console.error(`[samba] could not start Samba AD: ${message}`);
    return { env: { [SAMBA_ENV.startError]: message.slice(0, 2000) }, teardown: async () => {} };
  }
}
