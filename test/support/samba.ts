/**
 * The Samba AD DC of the LDAP integration tests: `shared/dev/samba-dc.ts` provisions it (the
 * local stack's `--directory samba` uses the same code); this module adds the test-only bulk
 * users and hands the settings to test files through environment variables.
 */
import { addUser, startSambaDc, type SambaDc } from "../../shared/dev/samba-dc.js";

export { addUser, sambaUnavailableReason, strongPassword, unicodePwd, type SambaDc } from "../../shared/dev/samba-dc.js";

export const SAMBA_ENV = {
  url: "WRITEBACK_TEST_SAMBA_URL",
  caFile: "WRITEBACK_TEST_SAMBA_CA_FILE",
  servername: "WRITEBACK_TEST_SAMBA_SERVERNAME",
  domain: "WRITEBACK_TEST_SAMBA_DOMAIN",
  baseDn: "WRITEBACK_TEST_SAMBA_BASE_DN",
  adminDn: "WRITEBACK_TEST_SAMBA_ADMIN_DN",
  adminPassword: "WRITEBACK_TEST_SAMBA_ADMIN_PASSWORD",
  bindDn: "WRITEBACK_TEST_SAMBA_BIND_DN",
  bindPassword: "WRITEBACK_TEST_SAMBA_BIND_PASSWORD",
  plainDn: "WRITEBACK_TEST_SAMBA_PLAIN_DN",
  plainPassword: "WRITEBACK_TEST_SAMBA_PLAIN_PASSWORD",
  usersOu: "WRITEBACK_TEST_SAMBA_USERS_OU",
  bulkOu: "WRITEBACK_TEST_SAMBA_BULK_OU",
  bulkUsers: "WRITEBACK_TEST_SAMBA_BULK_USERS",
  /** Set instead of the others when the suite must skip: the reason. */
  unavailable: "WRITEBACK_TEST_SAMBA_UNAVAILABLE",
  /** Set instead of the others when Samba is installed but did not start: the suite fails with it. */
  startError: "WRITEBACK_TEST_SAMBA_START_ERROR",
} as const;

export type SambaEnv = Record<Exclude<keyof typeof SAMBA_ENV, "unavailable" | "startError">, string>;

export interface SambaHandle {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** More than AD's and Samba's MaxPageSize (1000): only a paged search sees them all. */
const BULK_USERS = 1010;

/** Provisions, starts and populates a Samba AD DC (with the bulk users). Throws when it cannot (the caller decides to skip or fail). */
export async function startSambaAd(o: { lockWaitMs?: number; log?: (line: string) => void } = {}): Promise<SambaHandle> {
  let bulkOu = "";
  const samba = await startSambaDc({
    ...o,
    populate: async (admin, dc, openAdmin) => {
      bulkOu = `OU=Bulk,${dc.baseDn}`;
      await admin.add(bulkOu, { objectClass: ["top", "organizationalUnit"] });
      // Bulk users without passwords (cheap: ~4 ms each), over a few parallel sessions.
      const extra = await Promise.all([0, 1, 2].map(() => openAdmin()));
      let next = 0;
      await Promise.all(
        [admin, ...extra].flatMap((c) =>
          [0, 1].map(async () => {
            for (let i = next++; i < BULK_USERS; i = next++) await addUser(c, `CN=bulk${i},${bulkOu}`, `bulk${i}`, undefined);
          }),
        ),
      );
      await Promise.all(extra.map((c) => c.unbind()));
      return `${BULK_USERS} bulk users`;
    },
  });
  const env: SambaEnv = { ...samba.dc, bulkOu, bulkUsers: String(BULK_USERS) };
  return { env: Object.fromEntries(Object.entries(env).map(([k, v]) => [SAMBA_ENV[k as keyof SambaEnv], v])), stop: samba.stop };
}

/** The running instance's settings from the environment (set by samba.global.ts), if any. */
export function sambaEnvFrom(env: NodeJS.ProcessEnv): SambaEnv | undefined {
  const out: Partial<SambaEnv> = {};
  for (const [k, name] of Object.entries(SAMBA_ENV)) {
    if (k === "unavailable" || k === "startError") continue;
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    out[k as keyof SambaEnv] = v;
  }
  return out as SambaEnv;
}
