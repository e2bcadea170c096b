import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../shared/ports/logger.port.js";
import type { AgentConfig } from "../config/agent-config.js";
import { createDirectory } from "../directory/create-directory.js";
import type { DirectorySource } from "../sync/directory-source.port.js";
import { DirectorySync, type SyncReport } from "../sync/directory-sync.js";
import { FileSyncStore } from "../sync/file-sync-store.js";
import { cloudObjectsOf, readImportFile, type ImportFormat } from "../sync/cloud-user-import.js";

export interface SyncCommandOptions {
  config: AgentConfig;
  imports: readonly string[];
  format: ImportFormat;
  /** Read AD (a full refresh) after the imports. */
  directory: boolean;
  dryRun: boolean;
  logger: Logger;
  /** Progress lines (stderr) and the summary (stdout). */
  progress(line: string): void;
  out(line: string): void;
}

export function isDirectorySource(d: unknown): d is DirectorySource {
  return typeof (d as Partial<DirectorySource>).changesSince === "function" && typeof (d as Partial<DirectorySource>).domainNames === "function";
}

function summary(r: SyncReport): string[] {
  const lines = r.domains.map((d) => `  ${d.domain} (forest ${d.forest}, ${d.mode} read): ${d.usersRead} users read, ${d.joined} joined, ${d.removed} removed`);
  return [
    ...lines,
    `Users read: ${r.usersRead}. Cloud users linked: ${r.linked}, unmatched: ${r.unmatched}, in several forests: ${r.inSeveralForests}. ${(r.durationMs / 1000).toFixed(1)} s.`,
  ];
}

/**
 * `agent sync`: imports files into the sync store (connector-space objects, cloud users'
 * anchors), then reads every configured domain in full and joins AD users to the cloud users
 * by source anchor, removing what AD no longer has. A running agent picks the new store up
 * before its next refresh. With dryRun the work is done on a copy and the store is untouched.
 */
export async function syncCommand(o: SyncCommandOptions): Promise<SyncReport | undefined> {
  let file = o.config.syncStore.file;
  let scratch: string | undefined;
  if (o.dryRun) {
    scratch = await mkdtemp(join(tmpdir(), "writeback-sync-dry-run-"));
    const copy = join(scratch, "sync-store.json");
    await copyFile(file, copy).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    file = copy;
  }
  const store = await FileSyncStore.open(file);
  try {
    for (const path of o.imports) {
      const imported = await readImportFile(path, o.format);
      await store.apply({ upsert: [...imported.objects, ...cloudObjectsOf(imported.anchors)] });
      o.out(`Imported ${path} (${imported.format}): ${imported.anchors.length} cloud users, ${imported.objects.length} connector-space objects${imported.skipped > 0 ? `, ${imported.skipped} skipped (no onPremisesImmutableId: cloud-only)` : ""}.`);
    }
    if (!o.directory) return undefined;
    const directory = await createDirectory(o.config.directory, { logger: o.logger });
    try {
      if (!isDirectorySource(directory)) throw new Error("this directory cannot be listed");
      const sync = new DirectorySync({ store, source: directory, logger: o.logger, onProgress: (p) => o.progress(`… ${p.domain}: ${p.usersRead} users read`) });
      const report = await sync.refresh({ full: true });
      for (const line of summary(report)) o.out(line);
      if (o.dryRun) o.out("Dry run: the sync store was not changed.");
      return report;
    } finally {
      await directory.close();
    }
  } finally {
    await store.close();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}
