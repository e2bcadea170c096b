import type { Logger } from "../../shared/ports/logger.port.js";
import { silentLogger } from "../../shared/ports/logger.port.js";
import type { DirectorySource, DirectoryUserEntry } from "./directory-source.port.js";
import type { FileSyncStore } from "./file-sync-store.js";
import { sourceAnchorOf } from "./source-anchor.js";
import { accountEnabledRule, CLOUD_CONNECTOR, COMMON_RULE_PREFIX } from "./sync-rules.js";
import type { ConnectorSpaceObject } from "./sync-store.port.js";

const MANAGED_PREFIX = "mv:";

/** The metaverse object of a source anchor: one per cloud user, the join point of its AD objects. */
export function metaverseIdOf(sourceAnchor: string): string {
  return `${MANAGED_PREFIX}${sourceAnchor}`;
}

/**
 * Objects a refresh maintains: those joined to a source-anchor metaverse object. Connector-space
 * objects imported as they are (an export of a real sync server) are never changed or removed by it.
 */
function isManaged(o: ConnectorSpaceObject | undefined): boolean {
  return o?.metaverseId?.startsWith(MANAGED_PREFIX) === true;
}

export interface SyncProgress {
  domain: string;
  usersRead: number;
}

export interface DomainRefresh {
  domain: string;
  forest: string;
  /** full: every user was read (first run, DC change, tombstones unreadable); else only changes. */
  mode: "full" | "incremental";
  usersRead: number;
  /** AD objects added or replaced (joined to a cloud user). */
  joined: number;
  /** AD objects removed: deleted in AD, or no longer matching any cloud user. */
  removed: number;
}

export interface SyncReport {
  domains: DomainRefresh[];
  usersRead: number;
  /** Cloud users joined to at least one AD account. */
  linked: number;
  /** Cloud users whose source anchor no AD object has (yet). */
  unmatched: number;
  /** Cloud users with AD objects in more than one forest (the AccountEnabled link picks one). */
  inSeveralForests: number;
  durationMs: number;
}

export interface DirectorySyncOptions {
  store: FileSyncStore;
  source: DirectorySource;
  logger?: Logger;
  /** Called every `progressEvery` users read (default 1000), for long runs. */
  onProgress?: (p: SyncProgress) => void;
  progressEvery?: number;
  now?: () => number;
}

/**
 * Keeps the sync store's AD side up to date from AD, per domain, the way the sync engine
 * joins objects: an AD user whose source anchor (ms-DS-ConsistencyGuid, else objectGUID) is a
 * cloud user's is joined to that user's metaverse object. The link rule says which AD object
 * is the account: `Microsoft.InfromADUserAccountEnabled.<forest>` for the enabled account (or
 * for the forest an import named), `Microsoft.InfromADUserCommon.<forest>` for the others.
 *
 * A refresh reads what changed since the domain's watermark (DirectorySource.changesSince):
 * new and changed users are (re)joined, moved users get their new DN, deleted ones are removed;
 * a full read also removes the domain's objects it no longer sees. One atomic store write per domain.
 */
export class DirectorySync {
  private readonly logger: Logger;
  private readonly now: () => number;
  private running: Promise<SyncReport> | undefined;

  constructor(private readonly o: DirectorySyncOptions) {
    this.logger = o.logger ?? silentLogger;
    this.now = o.now ?? Date.now;
  }

  /** Refreshes every domain the source knows; concurrent calls share one run. */
  refresh(o: { full?: boolean; dryRun?: boolean } = {}): Promise<SyncReport> {
    this.running ??= this.run(o).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(o: { full?: boolean; dryRun?: boolean }): Promise<SyncReport> {
    const started = this.now();
    const domains: DomainRefresh[] = [];
    for (const domain of this.o.source.domainNames()) domains.push(await this.refreshDomain(domain, o));
    return { domains, usersRead: domains.reduce((n, d) => n + d.usersRead, 0), ...this.linkCounts(), durationMs: this.now() - started };
  }

  private async refreshDomain(domain: string, o: { full?: boolean; dryRun?: boolean }): Promise<DomainRefresh> {
    const store = this.o.store;
    const forest = this.o.source.forestOf(domain);
    const changes = await this.o.source.changesSince(domain, o.full === true ? undefined : store.watermark(domain));
    const upsert: ConnectorSpaceObject[] = [];
    const remove: { connector: string; anchor: string }[] = [];
    const seen = new Set<string>();
    const every = this.o.progressEvery ?? 1000;
    let usersRead = 0;
    for await (const user of changes.changed) {
      usersRead += 1;
      if (usersRead % every === 0) this.o.onProgress?.({ domain, usersRead });
      const guid = user.objectGuid.toLowerCase();
      seen.add(guid);
      const existing = store.get(forest, guid);
      if (existing !== undefined && !isManaged(existing)) continue;
      const joined = this.join(user, forest, domain);
      if (joined !== undefined) upsert.push(joined);
      else if (existing?.domain === domain) remove.push({ connector: forest, anchor: guid });
    }
    // Only this domain's object: a user moved to another domain of the forest keeps its objectGUID.
    const ours = (guid: string) => {
      const o = store.get(forest, guid);
      return isManaged(o) && o?.domain === domain;
    };
    for (const guid of await changes.deleted()) if (ours(guid)) remove.push({ connector: forest, anchor: guid });
    if (changes.full) {
      for (const obj of store.values()) {
        if (obj.connector === forest && obj.domain === domain && isManaged(obj) && !seen.has(obj.anchor)) remove.push({ connector: forest, anchor: obj.anchor });
      }
    }
    // A quiet directory costs no store write (the file is rewritten whole: ~5 MB for 10,000 users).
    const unchanged = upsert.length === 0 && remove.length === 0 && store.watermark(domain) === changes.watermark;
    if (o.dryRun !== true && !unchanged) await store.apply({ upsert, remove, watermarks: { [domain]: changes.watermark } });
    const result: DomainRefresh = { domain, forest, mode: changes.full ? "full" : "incremental", usersRead, joined: upsert.length, removed: remove.length };
    if (upsert.length > 0 || remove.length > 0 || changes.full) this.logger.info("sync store refreshed from AD", { ...result });
    return result;
  }

  /** The AD object to store for this user, or undefined when no cloud user has its source anchor. */
  private join(user: DirectoryUserEntry, forest: string, domain: string): ConnectorSpaceObject | undefined {
    const metaverseId = metaverseIdOf(sourceAnchorOf(user));
    const cloud = this.o.store.cloudObjectOf(metaverseId);
    if (cloud === undefined) return undefined;
    const isAccount = cloud.accountForest !== undefined ? cloud.accountForest === forest : user.disabled !== true;
    return {
      connector: forest,
      anchor: user.objectGuid.toLowerCase(),
      metaverseId,
      linkRules: [isAccount ? accountEnabledRule(forest) : `${COMMON_RULE_PREFIX}${forest}`],
      domain,
      distinguishedName: user.distinguishedName,
    };
  }

  private linkCounts(): { linked: number; unmatched: number; inSeveralForests: number } {
    let linked = 0;
    let unmatched = 0;
    let inSeveralForests = 0;
    for (const obj of this.o.store.values()) {
      if (obj.connector !== CLOUD_CONNECTOR) continue;
      const forests = new Set(
        obj.metaverseId === undefined
          ? []
          : this.o.store
              .joinedTo(obj.metaverseId)
              .filter((j) => j.connector !== CLOUD_CONNECTOR)
              .map((j) => j.connector),
      );
      if (forests.size === 0) unmatched += 1;
      else linked += 1;
      if (forests.size > 1) inSeveralForests += 1;
    }
    return { linked, unmatched, inSeveralForests };
  }
}
