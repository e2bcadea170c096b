/**
 * Time and memory to fill the agent's sync store from a directory of N users (embedded
 * directory: the engine's own cost, without LDAP round trips), and to refresh it incrementally
 * after a day's worth of changes (new, moved, deleted users). Runs in a child process so its
 * memory figures are its own: `node --import tsx bench/measure-sync.ts <users>` prints JSON.
 */
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface SyncFigures {
  users: number;
  import: { ms: number };
  fullRefresh: { ms: number; usersRead: number; linked: number };
  incrementalRefresh: { ms: number; changes: number; usersRead: number; joined: number; removed: number };
  /** A refresh with nothing changed (what the agent does every refreshIntervalSeconds on a quiet directory). */
  idleRefresh: { ms: number };
  storeFileBytes: number;
  /** Resident set and V8 heap after the full refresh, minus before the directory and store were built. */
  memory: { rssBeforeMiB: number; rssAfterMiB: number; heapUsedStoreMiB: number };
  resolveMicros: { median: number };
}

const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

async function child(users: number): Promise<SyncFigures> {
  const { EmbeddedDirectory } = await import("../agent/directory/embedded/embedded-directory.js");
  const { FileSyncStore } = await import("../agent/sync/file-sync-store.js");
  const { DirectorySync } = await import("../agent/sync/directory-sync.js");
  const { cloudObjectsOf } = await import("../agent/sync/cloud-user-import.js");
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const directory = new EmbeddedDirectory();
  directory.addDomain({ domain: "corp.example.com" });
  const anchors: { cloudAnchor: string; sourceAnchor: string }[] = [];
  const refs = [];
  for (let i = 0; i < users; i++) {
    const sa = randomBytes(16);
    refs.push(directory.addUser("corp.example.com", { sAMAccountName: `u${i}`, distinguishedName: `CN=User ${i},OU=Staff,DC=corp,DC=example,DC=com`, msDsConsistencyGuid: sa }));
    anchors.push({ cloudAnchor: `User_${randomUUID()}`, sourceAnchor: sa.toString("base64") });
  }
  global.gc?.();
  const heapDirectory = process.memoryUsage().heapUsed;
  const dir = mkdtempSync(join(tmpdir(), "bench-sync-"));
  const file = join(dir, "sync.json");
  try {
    const store = await FileSyncStore.open(file);
    const sync = new DirectorySync({ store, source: directory });
    let t = performance.now();
    await store.apply({ upsert: cloudObjectsOf(anchors) });
    const importMs = performance.now() - t;
    t = performance.now();
    const full = await sync.refresh();
    const fullMs = performance.now() - t;
    global.gc?.();
    const after = process.memoryUsage();

    // A day's changes in a 10,000-user company: 1 % — new hires, moves, leavers.
    const changes = Math.max(3, Math.round(users / 100));
    const third = Math.floor(changes / 3);
    for (let i = 0; i < third; i++) {
      const sa = randomBytes(16);
      directory.addUser("corp.example.com", { sAMAccountName: `new${i}`, msDsConsistencyGuid: sa });
      await store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: `User_${randomUUID()}`, sourceAnchor: sa.toString("base64") }]) });
    }
    for (let i = 0; i < third; i++) directory.moveUser(refs[i]!, `CN=User ${i},OU=Moved,DC=corp,DC=example,DC=com`);
    for (let i = 0; i < third; i++) directory.deleteUser(refs[users - 1 - i]!);
    t = performance.now();
    const inc = await sync.refresh();
    const incMs = performance.now() - t;
    t = performance.now();
    await sync.refresh();
    const idleMs = performance.now() - t;

    const samples: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const a = anchors[(i * 7919) % (users - third)]!.cloudAnchor;
      const s0 = performance.now();
      await store.resolve(a);
      samples.push((performance.now() - s0) * 1000);
    }
    samples.sort((a, b) => a - b);
    const d = inc.domains[0]!;
    return {
      users,
      import: { ms: Math.round(importMs) },
      fullRefresh: { ms: Math.round(fullMs), usersRead: full.usersRead, linked: full.linked },
      incrementalRefresh: { ms: Math.round(incMs * 10) / 10, changes: third * 3, usersRead: d.usersRead, joined: d.joined, removed: d.removed },
      idleRefresh: { ms: Math.round(idleMs * 10) / 10 },
      storeFileBytes: statSync(file).size,
      memory: { rssBeforeMiB: mib(rssBefore), rssAfterMiB: mib(after.rss), heapUsedStoreMiB: mib(after.heapUsed - heapDirectory) },
      resolveMicros: { median: Math.round((samples[samples.length >> 1] ?? 0) * 10) / 10 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the measurement in a fresh process (so memory is its own). */
export function measureSync(users: number): SyncFigures | undefined {
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), String(users)], { encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "null") as SyncFigures;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const users = Number(process.argv[2] ?? 10_000);
  console.log(JSON.stringify(await child(users)));
}
