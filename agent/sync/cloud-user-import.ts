import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { cloudAnchorMappingSchema, describeIssues, SyncFileError, syncImportFileSchema, type CloudAnchorMapping, type SyncImportFile } from "./sync-file-format.js";
import { metaverseIdOf } from "./directory-sync.js";
import { CLOUD_CONNECTOR } from "./sync-rules.js";
import type { ConnectorSpaceObject } from "./sync-store.port.js";

export type ImportFormat = "auto" | "sync" | "cloud-csv" | "cloud-json";

/** What one import file held. */
export interface ImportedFile {
  format: Exclude<ImportFormat, "auto">;
  /** Connector-space objects copied as they are (the sync format's `objects`). */
  objects: ConnectorSpaceObject[];
  /** Cloud anchor → source anchor pairs. */
  anchors: CloudAnchorMapping[];
  /** Cloud users without onPremisesImmutableId (cloud-only users): nothing to write back. */
  skipped: number;
}

/**
 * The cloud anchor of a Microsoft Graph user (`id`) in the cloud connector space, as Entra
 * Connect writes it ("User_" + object id). An export that has a `cloudAnchor` column wins.
 */
export function cloudAnchorOfGraphId(id: string): string {
  return `User_${id}`;
}

/** RFC 4180 CSV: comma-separated, double quotes around fields with commas, quotes or line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // Excel's byte-order mark
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      field = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
    } else field += ch;
  }
  if (quoted) throw new SyncFileError("CSV: a quoted field is not closed");
  row.push(field);
  if (row.length > 1 || row[0] !== "") rows.push(row);
  return rows;
}

interface CloudUserRecord {
  id?: unknown;
  cloudAnchor?: unknown;
  onPremisesImmutableId?: unknown;
  forest?: unknown;
}

function mappingsOf(records: CloudUserRecord[], where: (i: number) => string): { anchors: CloudAnchorMapping[]; skipped: number } {
  const anchors: CloudAnchorMapping[] = [];
  let skipped = 0;
  records.forEach((r, i) => {
    const immutableId = typeof r.onPremisesImmutableId === "string" ? r.onPremisesImmutableId.trim() : "";
    if (immutableId === "") {
      skipped += 1;
      return;
    }
    const cloudAnchor = typeof r.cloudAnchor === "string" && r.cloudAnchor !== "" ? r.cloudAnchor : typeof r.id === "string" && r.id !== "" ? cloudAnchorOfGraphId(r.id) : undefined;
    const candidate = { cloudAnchor, sourceAnchor: immutableId, ...(typeof r.forest === "string" && r.forest !== "" ? { forest: r.forest } : {}) };
    const parsed = cloudAnchorMappingSchema.safeParse(candidate);
    if (!parsed.success) throw new SyncFileError(`${where(i)}: ${describeIssues(parsed.error)}${cloudAnchor === undefined ? " (no id or cloudAnchor)" : ""}`);
    anchors.push(parsed.data);
  });
  return { anchors, skipped };
}

function detect(file: string, text: string): Exclude<ImportFormat, "auto"> {
  if (extname(file).toLowerCase() === ".csv") return "cloud-csv";
  const start = text.trimStart();
  if (start.startsWith("[")) return "cloud-json";
  if (/^\{\s*"(?:@odata\.[^"]*|value)"/.test(start)) return "cloud-json";
  return "sync";
}

/**
 * Reads one import file: the sync import format (agent/sync/README.md), or an export of the
 * cloud's users — CSV with a header row naming `id` (or `cloudAnchor`) and
 * `onPremisesImmutableId` (optional `forest`), or JSON as Microsoft Graph returns it
 * (`{"value": [...]}`, or a plain array of users). Column names are matched case-insensitively.
 * Errors name the file, line or index and the field; never a value.
 */
export async function readImportFile(file: string, format: ImportFormat = "auto"): Promise<ImportedFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new SyncFileError(`Cannot read the import file ${file}.`);
  }
  const kind = format === "auto" ? detect(file, text) : format;
  if (kind === "cloud-csv") {
    const rows = parseCsv(text);
    const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
    const col = (name: string) => header.indexOf(name.toLowerCase());
    if (col("onPremisesImmutableId") < 0 || (col("id") < 0 && col("cloudAnchor") < 0)) {
      throw new SyncFileError(`${file}: the header row must name onPremisesImmutableId and id (or cloudAnchor)`);
    }
    const cell = (row: string[], name: string) => (col(name) < 0 ? undefined : row[col(name)]);
    const records = rows.slice(1).map((row) => ({ id: cell(row, "id"), cloudAnchor: cell(row, "cloudAnchor"), onPremisesImmutableId: cell(row, "onPremisesImmutableId"), forest: cell(row, "forest") }));
    return { format: kind, objects: [], ...mappingsOf(records, (i) => `${file} row ${i + 2}`) };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SyncFileError(`${file} is not valid JSON.`);
  }
  if (kind === "cloud-json") {
    const list = Array.isArray(raw) ? raw : (raw as { value?: unknown }).value;
    if (!Array.isArray(list)) throw new SyncFileError(`${file}: expected an array of users or {"value": [...]}`);
    return { format: kind, objects: [], ...mappingsOf(list as CloudUserRecord[], (i) => `${file} [${i}]`) };
  }
  const parsed = syncImportFileSchema.safeParse(raw);
  if (!parsed.success) throw new SyncFileError(`The sync import file ${file} is invalid: ${describeIssues(parsed.error)}`);
  const data: SyncImportFile = parsed.data;
  return { format: "sync", objects: data.objects, anchors: data.cloudAnchors, skipped: 0 };
}

/** The cloud connector-space objects of imported pairs: each joined to its source anchor's metaverse object. */
export function cloudObjectsOf(anchors: readonly CloudAnchorMapping[]): ConnectorSpaceObject[] {
  return anchors.map((a) => ({
    connector: CLOUD_CONNECTOR,
    anchor: a.cloudAnchor,
    metaverseId: metaverseIdOf(a.sourceAnchor),
    ...(a.forest === undefined ? {} : { accountForest: a.forest.toLowerCase() }),
  }));
}
