import type { TestProject } from "vitest/node";
import type { SambaState } from "./provided.js";
import { sambaUnavailableReason, startSambaAd } from "./samba.js";

/** The files that use the run's Samba AD DC. */
const SAMBA_TESTS = /[\\/]test[\\/](integration[\\/]ldap[\\/]|e2e[\\/]local-stack-samba\.test\.ts$)/;

interface RunSamba {
  state: SambaState;
  users: number;
  stop(): Promise<void>;
}

/** Ports 389/636 are fixed: one DC per run, shared by the projects that need it. */
const RUN_SAMBA = Symbol.for("password-writeback.test.samba");
const slot = globalThis as { [RUN_SAMBA]?: Promise<RunSamba> };

/**
 * Starts one Samba AD DC for the run when a selected file needs it and hands its settings to
 * the files (inject("samba")). Without samba-tool (or without root) the LDAP tests are skipped:
 * the reason is printed here and handed to the files, which report their tests as skipped,
 * never as passed.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // The CLI's file filters (vitest keeps them on the instance; none = every file).
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern ?? [];
  const { testFiles } = await project.globTestFiles(filters);
  if (!testFiles.some((f) => SAMBA_TESTS.test(f))) return undefined;
  slot[RUN_SAMBA] ??= start();
  const samba = await slot[RUN_SAMBA];
  samba.users++;
  project.provide("samba", samba.state);
  return async () => {
    if (--samba.users > 0) return;
    delete slot[RUN_SAMBA];
    await samba.stop();
  };
}

async function start(): Promise<RunSamba> {
  const reason = sambaUnavailableReason();
  if (reason !== undefined) {
    console.log(`[samba] NOTICE: the Samba AD integration tests are SKIPPED: ${reason}.`);
    return { state: { state: "unavailable", reason }, users: 0, stop: async () => {} };
  }
  try {
    const samba = await startSambaAd();
    return { state: { state: "running", env: samba.env }, users: 0, stop: () => samba.stop() };
  } catch (e) {
    // Installed but not startable: the LDAP tests fail with this (a skip would hide a broken CI).
    const message = e instanceof Error ? e.message : String(e);
    console.error(`[samba] could not start Samba AD: ${message}`);
    return { state: { state: "start-error", message: message.slice(0, 2000) }, users: 0, stop: async () => {} };
  }
}
