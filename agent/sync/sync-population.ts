import { readFile } from "node:fs/promises";
import type { DirectorySource } from "./directory-source.port.js";
import { describeIssues, SyncFileError, syncImportFileSchema, type CloudAnchorMapping, type SyncImportFile } from "./sync-file-format.js";
import { accountEnabledRule, CLOUD_CONNECTOR, COMMON_RULE_PREFIX } from "./sync-rules.js";
import { sourceAnchorOf } from "./source-anchor.js";
import type { ConnectorSpaceObject, SyncStore } from "./sync-store.port.js";

export async function readSyncImportFile(file: string): Promise<SyncImportFile> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new SyncFileError(`Cannot read the sync import file ${file}: ${e instanceof SyntaxError ? "not valid JSON" : "file not readable"}.`);
  }
  const parsed = syncImportFileSchema.safeParse(raw);
  if (!parsed.success) throw new SyncFileError(`The sync import file ${file} is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Copies an import file's connector-space objects into the store (its cloudAnchors feed populateFromDirectory). */
export async function importObjects(store: SyncStore, imported: SyncImportFile): Promise<number> {
  if (imported.objects.length > 0) await store.upsert(imported.objects);
  return imported.objects.length;
}

export interface PopulateDomain {
  domain: string;
  /** The AD connector's name: the forest root DNS name (defaults to the domain). */
  forest?: string | undefined;
}

export interface PopulateOptions {
  source: DirectorySource;
  domains: readonly PopulateDomain[];
  /** Cloud anchor → source anchor pairs, from an import file or a cloud export. */
  anchors: readonly CloudAnchorMapping[];
}

export interface PopulateReport {
  usersRead: number;
  /** Cloud anchors joined to at least one AD object. */
  linked: number;
  /** Cloud anchors whose source anchor no AD object has. */
  unmatched: number;
  /** Source anchors found in more than one forest (resolve answers ambiguous unless the mapping names the forest). */
  inSeveralForests: number;
}

/**
 * Builds the sync engine's view from AD: each AD user's source anchor (ms-DS-ConsistencyGuid,
 * else objectGUID, base64) is matched with the given cloud anchors; each match becomes an
 * "aad" object and an AD object joined to one metaverse object, the AD link carrying
 * Microsoft.InfromADUserAccountEnabled.<forest>. When a mapping names a forest, AD objects
 * of the same source anchor in other forests are joined with an InfromADUserCommon rule
 * instead, so the named forest is the account forest.
 */
export async function populateFromDirectory(store: SyncStore, o: PopulateOptions): Promise<PopulateReport> {
  const bySourceAnchor = new Map<string, { forest: string; domain: string; objectGuid: string; distinguishedName: string }[]>();
  let usersRead = 0;
  for (const d of o.domains) {
    const domain = d.domain.toLowerCase();
    const forest = (d.forest ?? d.domain).toLowerCase();
    for await (const user of o.source.listUsers(domain)) {
      usersRead += 1;
      const anchor = sourceAnchorOf(user);
      let list = bySourceAnchor.get(anchor);
      if (list === undefined) bySourceAnchor.set(anchor, (list = []));
      list.push({ forest, domain, objectGuid: user.objectGuid.toLowerCase(), distinguishedName: user.distinguishedName });
    }
  }
  const objects: ConnectorSpaceObject[] = [];
  let linked = 0;
  let unmatched = 0;
  let inSeveralForests = 0;
  for (const mapping of o.anchors) {
    const candidates = bySourceAnchor.get(mapping.sourceAnchor);
    if (candidates === undefined) {
      unmatched += 1;
      continue;
    }
    linked += 1;
    if (new Set(candidates.map((c) => c.forest)).size > 1) inSeveralForests += 1;
    const metaverseId = `mv:${mapping.sourceAnchor}`;
    objects.push({ connector: CLOUD_CONNECTOR, anchor: mapping.cloudAnchor, metaverseId });
    const accountForest = mapping.forest?.toLowerCase();
    for (const c of candidates) {
      const rule = accountForest === undefined || accountForest === c.forest ? accountEnabledRule(c.forest) : `${COMMON_RULE_PREFIX}${c.forest}`;
      objects.push({ connector: c.forest, anchor: c.objectGuid, metaverseId, linkRules: [rule], domain: c.domain, distinguishedName: c.distinguishedName });
    }
  }
  if (objects.length > 0) await store.upsert(objects);
  return { usersRead, linked, unmatched, inSeveralForests };
}
