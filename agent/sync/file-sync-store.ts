import { randomBytes } from "node:crypto";
import { readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { describeIssues, normalize, SyncFileError, syncStoreFileSchema } from "./sync-file-format.js";
import { CLOUD_CONNECTOR, hasAccountEnabledRule } from "./sync-rules.js";
import type { ConnectorSpaceObject, ResolveResult, SyncStore } from "./sync-store.port.js";

function keyOf(connector: string, anchor: string): string {
  return `${connector}\u0000${anchor}`;
}

/**
 * The agent's sync store in one JSON file, held in memory with indexes: resolve() never
 * touches the disk. Writes replace the file atomically (temp file + rename) and are
 * serialized, so a crash leaves the previous or the next complete version.
 */
export class FileSyncStore implements SyncStore {
  private readonly objects = new Map<string, ConnectorSpaceObject>();
  private readonly byMetaverse = new Map<string, Set<string>>();
  private watermarks: Record<string, string> = {};
  /** The file as last read or written here: another process's write shows as a different stamp. */
  private stamp = "";
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string) {}

  /** Loads the file, or starts empty when it does not exist yet. */
  static async open(file: string): Promise<FileSyncStore> {
    const store = new FileSyncStore(file);
    await store.load();
    return store;
  }

  /**
   * Reads the file again when another process (`agent sync`) replaced it since this store last
   * read or wrote it. Returns whether it did. A running agent calls it before each refresh.
   */
  async reloadIfChanged(): Promise<boolean> {
    await this.writing;
    if ((await this.currentStamp()) === this.stamp) return false;
    await this.load();
    return true;
  }

  private async currentStamp(): Promise<string> {
    try {
      const s = await stat(this.file);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return "";
    }
  }

  private async load(): Promise<void> {
    const stampBefore = await this.currentStamp();
    let text: string | undefined;
    try {
      text = await readFile(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new SyncFileError(`Cannot read the sync store ${this.file}.`);
    }
    let parsed: { objects: ConnectorSpaceObject[]; watermarks?: Record<string, string> | undefined } = { objects: [] };
    if (text !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new SyncFileError(`The sync store ${this.file} is not valid JSON.`);
      }
      const result = syncStoreFileSchema.safeParse(raw);
      if (!result.success) throw new SyncFileError(`The sync store ${this.file} is invalid: ${describeIssues(result.error)}`);
      parsed = result.data;
    }
    // Replaced only once the new content is known good: a bad file leaves the store as it was.
    this.objects.clear();
    this.byMetaverse.clear();
    for (const o of parsed.objects) this.put(normalize(o));
    this.watermarks = { ...parsed.watermarks };
    this.stamp = stampBefore;
  }

  /**
   * cloudAnchor → object in the cloud ("aad") connector space → its metaverse object → the
   * joined AD connector-space objects whose link carries Microsoft.InfromADUserAccountEnabled.*
   * (with several forests, that rule picks the account forest).
   */
  async resolve(cloudAnchor: string): Promise<ResolveResult> {
    const cloud = this.objects.get(keyOf(CLOUD_CONNECTOR, cloudAnchor));
    if (cloud === undefined) return { kind: "notFound", detail: "no object with this anchor in the cloud connector space" };
    if (cloud.metaverseId === undefined) return { kind: "notFound", detail: "the cloud object is not joined to a metaverse object" };
    const joined = [...(this.byMetaverse.get(cloud.metaverseId) ?? [])]
      .map((k) => this.objects.get(k))
      .filter((o): o is ConnectorSpaceObject => o !== undefined && o.connector !== CLOUD_CONNECTOR);
    if (joined.length === 0) return { kind: "notFound", detail: "the metaverse object has no joined AD object" };
    const accounts = joined.filter((o) => hasAccountEnabledRule(o.linkRules));
    if (accounts.length === 0) {
      return { kind: "misconfigured", detail: `${joined.length} joined AD object(s), none linked by a Microsoft.InfromADUserAccountEnabled rule` };
    }
    if (accounts.length > 1) {
      return { kind: "ambiguous", detail: `AD objects in ${accounts.map((a) => a.connector).join(", ")} are all linked by a Microsoft.InfromADUserAccountEnabled rule` };
    }
    const account = accounts[0]!;
    if (account.domain === undefined || account.distinguishedName === undefined) {
      return { kind: "misconfigured", detail: `the account object in ${account.connector} has no domain or distinguished name` };
    }
    return { kind: "found", domain: account.domain, distinguishedName: account.distinguishedName, objectGuid: account.anchor };
  }

  async upsert(objects: ConnectorSpaceObject[]): Promise<void> {
    for (const o of objects) {
      if (o.connector.length === 0 || o.anchor.length === 0) throw new SyncFileError("a connector-space object needs a connector and an anchor");
    }
    for (const o of objects) this.put(normalize(o));
    await this.persist();
  }

  /** Removes objects (for example AD objects deleted since the last population). */
  async remove(keys: readonly { connector: string; anchor: string }[]): Promise<number> {
    let removed = 0;
    for (const k of keys) {
      const n = normalize({ connector: k.connector, anchor: k.anchor });
      if (this.drop(keyOf(n.connector, n.anchor))) removed += 1;
    }
    if (removed > 0) await this.persist();
    return removed;
  }

  /**
   * One batch from a refresh: objects added or replaced, objects removed and the new
   * watermarks, written in one atomic file replacement.
   */
  async apply(change: { upsert?: readonly ConnectorSpaceObject[]; remove?: readonly { connector: string; anchor: string }[]; watermarks?: Record<string, string | undefined> }): Promise<void> {
    for (const o of change.upsert ?? []) {
      if (o.connector.length === 0 || o.anchor.length === 0) throw new SyncFileError("a connector-space object needs a connector and an anchor");
    }
    for (const k of change.remove ?? []) {
      const n = normalize({ connector: k.connector, anchor: k.anchor });
      this.drop(keyOf(n.connector, n.anchor));
    }
    for (const o of change.upsert ?? []) this.put(normalize(o));
    for (const [domain, mark] of Object.entries(change.watermarks ?? {})) {
      if (mark === undefined) delete this.watermarks[domain];
      else this.watermarks[domain] = mark;
    }
    await this.persist();
  }

  watermark(domain: string): string | undefined {
    return this.watermarks[domain.toLowerCase()];
  }

  /** The object with this connector and anchor, if any. */
  get(connector: string, anchor: string): ConnectorSpaceObject | undefined {
    const n = normalize({ connector, anchor });
    const o = this.objects.get(keyOf(n.connector, n.anchor));
    return o === undefined ? undefined : normalize(o);
  }

  /** The cloud (aad) object joined to this metaverse object, if any. */
  cloudObjectOf(metaverseId: string): ConnectorSpaceObject | undefined {
    for (const key of this.byMetaverse.get(metaverseId) ?? []) {
      const o = this.objects.get(key);
      if (o?.connector === CLOUD_CONNECTOR) return o;
    }
    return undefined;
  }

  /** The objects joined to one metaverse object (without copying). */
  joinedTo(metaverseId: string): ConnectorSpaceObject[] {
    return [...(this.byMetaverse.get(metaverseId) ?? [])].map((k) => this.objects.get(k)).filter((o): o is ConnectorSpaceObject => o !== undefined);
  }

  /** Every object, without copying (read-only use: counting, refresh planning). */
  values(): IterableIterator<ConnectorSpaceObject> {
    return this.objects.values();
  }

  /** A copy of every object, for `agent status` and tests. */
  list(): ConnectorSpaceObject[] {
    return [...this.objects.values()].map((o) => normalize(o));
  }

  get size(): number {
    return this.objects.size;
  }

  async close(): Promise<void> {
    await this.writing;
  }

  private put(o: ConnectorSpaceObject): void {
    const key = keyOf(o.connector, o.anchor);
    this.drop(key);
    this.objects.set(key, o);
    if (o.metaverseId !== undefined) {
      let members = this.byMetaverse.get(o.metaverseId);
      if (members === undefined) this.byMetaverse.set(o.metaverseId, (members = new Set()));
      members.add(key);
    }
  }

  private drop(key: string): boolean {
    const previous = this.objects.get(key);
    if (previous === undefined) return false;
    this.objects.delete(key);
    if (previous.metaverseId !== undefined) {
      const members = this.byMetaverse.get(previous.metaverseId);
      members?.delete(key);
      if (members?.size === 0) this.byMetaverse.delete(previous.metaverseId);
    }
    return true;
  }

  private persist(): Promise<void> {
    const next = this.writing.then(async () => {
      const watermarks = Object.keys(this.watermarks).length === 0 ? {} : { watermarks: this.watermarks };
      const body = JSON.stringify({ version: 1, objects: [...this.objects.values()], ...watermarks }, null, 1);
      const temp = `${this.file}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await writeFile(temp, body, { mode: 0o600 });
        await rename(temp, this.file);
        this.stamp = await this.currentStamp();
      } catch (e) {
        await unlink(temp).catch(() => {});
        throw new SyncFileError(`Cannot write the sync store ${this.file}: ${(e as NodeJS.ErrnoException).code ?? "error"}.`);
      }
    });
    // A failed write must not poison later ones.
    this.writing = next.catch(() => {});
    return next;
  }
}
