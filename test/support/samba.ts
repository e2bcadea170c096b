/**
 * The Samba AD DC of the LDAP integration tests: `dev/samba-dc.ts` provisions it (the
 * local stack's `--directory samba` uses the same code); this module adds the test-only bulk
 * users; samba.global.ts hands the run's DC to test files through provide/inject.
 */
import { inject } from "vitest";
import { addUser, startSambaDc, type SambaDc } from "../../dev/samba-dc.js";

export { addUser, sambaUnavailableReason, strongPassword, unicodePwd, type SambaDc } from "../../dev/samba-dc.js";

/** The DC's settings a test needs (the run's shared DC, or the file's own). */
export type SambaEnv = SambaDc & { bulkOu: string; bulkUsers: string };

export interface SambaHandle {
  env: SambaEnv;
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
  return { env: { ...samba.dc, bulkOu, bulkUsers: String(BULK_USERS) }, stop: samba.stop };
}

/**
 * The run's Samba AD as the global setup (samba.global.ts) left it: its settings, why there is
 * none (skip), or why it did not start (fail). All undefined when the run started none: a file
 * then provisions its own.
 */
export function runSamba(): { env?: SambaEnv; unavailable?: string; startError?: string } {
  const provided = inject("samba");
  switch (provided?.state) {
    case undefined:
      return {};
    case "running":
      return { env: provided.env };
    case "unavailable":
      return { unavailable: provided.reason };
    case "start-error":
      return { startError: provided.message };
  }
}
