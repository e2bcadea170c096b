import { randomUUID } from "node:crypto";
import { decide, inWindow, type RateLimitOptions } from "../../domain/rate-limit-window.js";
import type { AgentHeartbeat, AgentHeartbeatStore } from "../../ports/agent-heartbeat-store.port.js";
import type { AuditLog, AuditRow } from "../../ports/audit-log.port.js";
import type { BegunOperation, OperationRecord, OperationStore } from "../../ports/operation-store.port.js";
import type { RateLimitDecision, RateLimiter, RateLimitSnapshot } from "../../ports/rate-limiter.port.js";
import { ConcurrencyConflictError, type StoredTenantSettings, type TenantSettings, type TenantSettingsStore } from "../../ports/tenant-settings-store.port.js";
import type { PolicyReason } from "../../errors/catalog.js";
import { LazyTable, statusOf } from "./table-client.js";

const MAX_CONCURRENCY_RETRIES = 20;

export async function retryOnConflict<T>(attempt: () => Promise<T | typeof RETRY>): Promise<T> {
  for (let i = 0; i < MAX_CONCURRENCY_RETRIES; i++) {
    const r = await attempt();
    if (r !== RETRY) return r;
    await new Promise((res) => setTimeout(res, Math.random() * 20 * (i + 1)));
  }
  throw new ConcurrencyConflictError("too much contention");
}
export const RETRY = Symbol("retry");
export const isConflict = (e: unknown) => statusOf(e) === 412 || statusOf(e) === 409;

interface SettingsEntity {
  enabled: boolean;
  allowUnlockWithoutReset: boolean;
  /** Rows written before the banned-password check have neither. */
  bannedPasswordMode?: string;
  customBannedTerms?: string;
  updatedAt: string;
}

function fromSettingsEntity(tenantId: string, e: SettingsEntity & { etag?: string }): StoredTenantSettings {
  let terms: unknown = [];
  try {
    terms = JSON.parse(e.customBannedTerms ?? "[]");
  } catch {
    // A row edited by hand: no custom terms rather than no writeback.
  }
  return {
    tenantId,
    enabled: e.enabled,
    allowUnlockWithoutReset: e.allowUnlockWithoutReset,
    bannedPasswordMode: e.bannedPasswordMode === "audit" ? "audit" : "enforce",
    customBannedTerms: Array.isArray(terms) ? terms.filter((t): t is string => typeof t === "string") : [],
    updatedAt: new Date(e.updatedAt),
    etag: e.etag ?? "",
  };
}

export class TableTenantSettingsStore implements TenantSettingsStore {
  constructor(private readonly t: LazyTable) {}

  async get(tenantId: string): Promise<StoredTenantSettings | undefined> {
    try {
      const e = await this.t.run((c) => c.getEntity<SettingsEntity>(tenantId, "settings"));
      return fromSettingsEntity(tenantId, e);
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async put(settings: TenantSettings, expectedEtag?: string | null): Promise<StoredTenantSettings> {
    const entity = {
      partitionKey: settings.tenantId,
      rowKey: "settings",
      enabled: settings.enabled,
      allowUnlockWithoutReset: settings.allowUnlockWithoutReset,
      bannedPasswordMode: settings.bannedPasswordMode ?? "enforce",
      // In the settings row, so a reset reads it with the settings (no extra round trip).
      // 1,000 terms of at most 16 characters stay under a string property's 32 K characters.
      customBannedTerms: JSON.stringify(settings.customBannedTerms ?? []),
      updatedAt: settings.updatedAt.toISOString(),
    };
    try {
      const r =
        expectedEtag === null
          ? await this.t.run((c) => c.createEntity(entity))
          : typeof expectedEtag === "string"
            ? await this.t.run((c) => c.updateEntity(entity, "Replace", { etag: expectedEtag }))
            : await this.t.run((c) => c.upsertEntity(entity, "Replace"));
      return { ...settings, etag: r.etag ?? randomUUID() };
    } catch (e) {
      if (isConflict(e)) throw new ConcurrencyConflictError("settings changed meanwhile");
      throw e;
    }
  }

  async list(): Promise<StoredTenantSettings[]> {
    const out: StoredTenantSettings[] = [];
    await this.t.run(async (c) => {
      for await (const e of c.listEntities<SettingsEntity>()) out.push(fromSettingsEntity(e.partitionKey ?? "", e));
    });
    return out;
  }
}

interface HeartbeatEntity {
  agentId: string;
  agentVersion: string;
  sentAt: string;
  receivedAt: string;
  policy: string;
  connectors: string;
  keyVersions: string;
  signingKeyId?: string;
}

export class TableAgentHeartbeatStore implements AgentHeartbeatStore {
  constructor(private readonly t: LazyTable) {}

  private async read(tenantId: string) {
    try {
      return await this.t.run((c) => c.getEntity<HeartbeatEntity>(tenantId, "heartbeat"));
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async record(h: AgentHeartbeat): Promise<void> {
    const entity = {
      partitionKey: h.tenantId,
      rowKey: "heartbeat",
      agentId: h.agentId,
      agentVersion: h.agentVersion,
      sentAt: h.sentAt.toISOString(),
      receivedAt: h.receivedAt.toISOString(),
      policy: JSON.stringify(h.policy),
      connectors: JSON.stringify(h.connectors),
      keyVersions: JSON.stringify(h.keyVersions),
      ...(h.signingKeyId === undefined ? {} : { signingKeyId: h.signingKeyId }),
    };
    await retryOnConflict(async () => {
      const existing = await this.read(h.tenantId);
      // Ordered by the cloud's clock of receipt, not the agent's: an agent clock set back (NTP,
      // a rebuilt server) must not make a live agent look offline until its clock catches up.
      if (existing !== undefined && Date.parse(existing.receivedAt) > h.receivedAt.getTime()) return undefined;
      try {
        if (existing === undefined) await this.t.run((c) => c.createEntity(entity));
        else await this.t.run((c) => c.updateEntity(entity, "Replace", { etag: existing.etag }));
        return undefined;
      } catch (e) {
        if (isConflict(e)) return RETRY;
        throw e;
      }
    });
  }

  async latest(tenantId: string): Promise<AgentHeartbeat | undefined> {
    const e = await this.read(tenantId);
    if (e === undefined) return undefined;
    return {
      tenantId,
      agentId: e.agentId,
      agentVersion: e.agentVersion,
      sentAt: new Date(e.sentAt),
      receivedAt: new Date(e.receivedAt),
      policy: JSON.parse(e.policy) as AgentHeartbeat["policy"],
      connectors: JSON.parse(e.connectors) as AgentHeartbeat["connectors"],
      keyVersions: JSON.parse(e.keyVersions) as number[],
      ...(e.signingKeyId === undefined ? {} : { signingKeyId: e.signingKeyId }),
    };
  }
}

interface OperationEntity {
  operation: string;
  fingerprint: string;
  cloudAnchor: string;
  initiatorKind: string;
  channel: string;
  status: string;
  startedAt: string;
  expiresAt: string;
  outcome?: string;
  reason?: string;
  completedAt?: string;
  attempt?: string;
}

export function toEntity(r: OperationRecord): OperationEntity {
  return {
    operation: r.operation,
    fingerprint: r.fingerprint,
    cloudAnchor: r.cloudAnchor,
    initiatorKind: r.initiatorKind,
    channel: r.channel,
    status: r.status,
    startedAt: r.startedAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    ...(r.outcome === undefined ? {} : { outcome: r.outcome }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.completedAt === undefined ? {} : { completedAt: r.completedAt.toISOString() }),
    ...(r.attempt === undefined ? {} : { attempt: r.attempt }),
  };
}

function toRecord(tenantId: string, requestId: string, e: OperationEntity): OperationRecord {
  return {
    tenantId,
    requestId,
    operation: e.operation as OperationRecord["operation"],
    fingerprint: e.fingerprint,
    cloudAnchor: e.cloudAnchor,
    initiatorKind: e.initiatorKind as OperationRecord["initiatorKind"],
    channel: e.channel as OperationRecord["channel"],
    status: e.status as OperationRecord["status"],
    startedAt: new Date(e.startedAt),
    expiresAt: new Date(e.expiresAt),
    outcome: e.outcome,
    reason: e.reason as PolicyReason | undefined,
    completedAt: e.completedAt === undefined ? undefined : new Date(e.completedAt),
    attempt: e.attempt,
  };
}

export class TableOperationStore implements OperationStore {
  constructor(private readonly t: LazyTable) {}

  async begin(r: OperationRecord): Promise<{ created: true; begun: BegunOperation } | { created: false; existing: OperationRecord }> {
    try {
      const created = await this.t.run((c) => c.createEntity({ partitionKey: r.tenantId, rowKey: r.requestId, ...toEntity(r) }));
      // Without an ETag (never seen from Azure or Azurite) complete() simply reads first.
      return { created: true, begun: { record: { ...r }, version: created.etag ?? "" } };
    } catch (e) {
      if (statusOf(e) !== 409) throw e;
      const stored = await this.load(r.tenantId, r.requestId);
      if (stored === undefined) throw e;
      // Our own insert, applied before its answer was lost and retried by the SDK: it is ours.
      if (r.attempt !== undefined && stored.record.attempt === r.attempt) return { created: true, begun: { record: stored.record, version: stored.etag } };
      return { created: false, existing: stored.record };
    }
  }

  async complete(tenantId: string, requestId: string, o: { outcome: string; reason?: PolicyReason | undefined; completedAt: Date }, begun?: BegunOperation): Promise<OperationRecord | undefined> {
    const completed = (r: OperationRecord): OperationRecord => ({ ...r, status: "completed", outcome: o.outcome, reason: o.reason, completedAt: o.completedAt });
    if (begun !== undefined && begun.version !== "" && begun.record.tenantId === tenantId && begun.record.requestId === requestId && begun.record.status === "pending") {
      // The record as begun, unchanged since if its ETag still matches: one write, no read.
      const next = completed(begun.record);
      try {
        await this.replace(next, begun.version);
        return next;
      } catch (err) {
        // Changed (another outcome got there first) or gone: decide on what is stored.
        if (!isConflict(err) && statusOf(err) !== 404) throw err;
      }
    }
    return retryOnConflict(async () => {
      const stored = await this.load(tenantId, requestId);
      if (stored === undefined) return undefined;
      // First outcome wins: a completed record is never changed again.
      if (stored.record.status === "completed") return stored.record;
      const next = completed(stored.record);
      try {
        await this.replace(next, stored.etag);
      } catch (err) {
        if (isConflict(err)) return RETRY;
        throw err;
      }
      return next;
    });
  }

  async get(tenantId: string, requestId: string): Promise<OperationRecord | undefined> {
    return (await this.load(tenantId, requestId))?.record;
  }

  /** The stored record and its ETag; undefined when there is none. */
  async load(tenantId: string, requestId: string): Promise<{ record: OperationRecord; etag: string } | undefined> {
    try {
      const e = await this.t.run((c) => c.getEntity<OperationEntity>(tenantId, requestId));
      return { record: toRecord(tenantId, requestId, e), etag: e.etag };
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  /** Replaces the record only if it is still at `etag`. */
  async replace(r: OperationRecord, etag: string): Promise<void> {
    await this.t.run((c) => c.updateEntity({ partitionKey: r.tenantId, rowKey: r.requestId, ...toEntity(r) }, "Replace", { etag }));
  }
}

/**
 * A subject's rate-limit row. It lives in the operations table, in the tenant's partition, so
 * that counting an attempt and inserting its record are one entity-group transaction; the
 * prefix keeps it apart from operation rows (keyed by requestId, a UUID). Row keys can't hold
 * '/', '\\', '#', '?': keep the subject readable but safe.
 */
export function rateLimitRowKey(subject: string): string {
  return `rate|${encodeURIComponent(subject).replace(/%/g, "_")}`;
}

function parseAttempts(json: string): number[] {
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.filter((t): t is number => typeof t === "number") : [];
}

/** Rows written before write ids were kept have none. */
function parseWriteIds(json: string | undefined): string[] {
  if (json === undefined) return [];
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === "string") : [];
}

/** How many recent write ids a rate-limit row keeps: far more than race within one retry loop. */
const RATE_LIMIT_WRITE_HISTORY = 16;

export interface RateLimitRow extends RateLimitSnapshot {
  /** Ids of the latest writes, each carried forward by the next writer. */
  writes: string[];
}

export class TableRateLimiter implements RateLimiter {
  constructor(
    private readonly t: LazyTable,
    private readonly o: RateLimitOptions,
  ) {}

  /** The row as a snapshot; it carries the write ids, which consume() needs from it. */
  read(tenantId: string, subject: string): Promise<RateLimitSnapshot> {
    return this.readRow(tenantId, subject);
  }

  async readRow(tenantId: string, subject: string): Promise<RateLimitRow> {
    try {
      const e = await this.t.run((c) => c.getEntity<{ attempts: string; writes?: string }>(tenantId, rateLimitRowKey(subject)));
      return { attempts: parseAttempts(e.attempts), version: e.etag, writes: parseWriteIds(e.writes) };
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
      return { attempts: [], version: undefined, writes: [] };
    }
  }

  /** A snapshot that carries write ids can be written on; one from elsewhere is read afresh. */
  usable(snapshot: RateLimitSnapshot | undefined): RateLimitRow | undefined {
    return snapshot !== undefined && isRateLimitRow(snapshot) ? snapshot : undefined;
  }

  /**
   * One attempt on the window as `seen`: the decision and, when allowed, the row to write
   * conditionally on `seen.version` (an insert when there is no row yet).
   */
  next(tenantId: string, subject: string, seen: RateLimitRow, now: Date, writeId: string): { decision: RateLimitDecision; entity?: { partitionKey: string; rowKey: string; attempts: string; writes: string } } {
    // Denials are decided on the snapshot too: a stale one can only hold fewer attempts than stored.
    const { decision, kept } = decide(seen.attempts, now.getTime(), this.o);
    if (!decision.allowed) return { decision };
    const writes = [...seen.writes, writeId].slice(-RATE_LIMIT_WRITE_HISTORY);
    return { decision, entity: { partitionKey: tenantId, rowKey: rateLimitRowKey(subject), attempts: JSON.stringify(kept), writes: JSON.stringify(writes) } };
  }

  /** The decision for an attempt already stored under `writeId`, if it is. */
  alreadyCounted(seen: RateLimitRow, writeId: string, now: Date): RateLimitDecision | undefined {
    return seen.writes.includes(writeId) ? counted(seen.attempts, now.getTime(), this.o) : undefined;
  }

  async consume(tenantId: string, subject: string, now: Date, snapshot?: RateLimitSnapshot): Promise<RateLimitDecision> {
    // Names this attempt's write. A write whose answer was lost is retried by the SDK and then
    // refused (412/409) because it already landed: finding the id stored (or carried forward by
    // a later writer) tells that apart from losing a race, so the attempt counts once.
    const writeId = randomUUID();
    let wrote = false;
    // A snapshot from elsewhere lacks the write ids, which the next write must carry on: read afresh.
    let given = this.usable(snapshot);
    return retryOnConflict(async () => {
      const seen = given ?? (await this.readRow(tenantId, subject));
      given = undefined; // a retry always reads afresh
      const done = wrote ? this.alreadyCounted(seen, writeId, now) : undefined;
      if (done !== undefined) return done;
      const { decision, entity } = this.next(tenantId, subject, seen, now, writeId);
      if (entity === undefined) return decision;
      try {
        wrote = true;
        // The ETag makes two instances racing for the last slot: only one write wins.
        const version = seen.version;
        if (version === undefined) await this.t.run((c) => c.createEntity(entity));
        else await this.t.run((c) => c.updateEntity(entity, "Replace", { etag: version }));
      } catch (e) {
        if (isConflict(e)) return RETRY;
        throw e;
      }
      return decision;
    });
  }
}

function isRateLimitRow(snapshot: RateLimitSnapshot): snapshot is RateLimitRow {
  return Array.isArray((snapshot as Partial<RateLimitRow>).writes);
}

/** The decision for an attempt already stored: allowed, with what the window has left. */
function counted(attempts: readonly number[], now: number, o: RateLimitOptions): RateLimitDecision {
  return { allowed: true, retryAfterSeconds: 0, remaining: Math.max(0, o.maxOperations - inWindow(attempts, now, o).length) };
}

const AUDIT_PREFIX = "audit|";

/**
 * An audit row's entity. Audit rows live in the operations table, in the tenant's partition,
 * so an outcome and its audit row are one entity-group transaction; the prefix keeps them
 * apart from operation rows, and the inverted time after it lists a partition newest first.
 */
export function auditEntity(row: AuditRow) {
  const inverted = String(8_640_000_000_000_000 - row.at.getTime()).padStart(16, "0");
  return {
    partitionKey: row.tenantId,
    rowKey: `${AUDIT_PREFIX}${inverted}_${row.requestId}_${randomUUID().slice(0, 8)}`,
    requestId: row.requestId,
    operation: row.operation,
    initiatorKind: row.initiatorKind,
    channel: row.channel,
    cloudAnchor: row.cloudAnchor,
    outcome: row.outcome,
    ...(row.reason === undefined ? {} : { reason: row.reason }),
    ...(row.bannedPasswordCheck === undefined ? {} : { bannedPasswordCheck: row.bannedPasswordCheck }),
    durationMs: row.durationMs,
    at: row.at.toISOString(),
  };
}

export class TableAuditLog implements AuditLog {
  constructor(private readonly t: LazyTable) {}

  async append(row: AuditRow): Promise<void> {
    const entity = auditEntity(row);
    try {
      await this.t.run((c) => c.createEntity(entity));
    } catch (e) {
      // The key is this append's alone: "already exists" is our insert, applied and retried.
      if (statusOf(e) !== 409) throw e;
    }
  }

  async list(tenantId: string, limit: number): Promise<AuditRow[]> {
    const rows: AuditRow[] = [];
    await this.t.run(async (c) => {
      // "}" follows "|": the range holds exactly the audit rows.
      const filter = `PartitionKey eq '${tenantId.replace(/'/g, "''")}' and RowKey gt '${AUDIT_PREFIX}' and RowKey lt 'audit}'`;
      for await (const e of c.listEntities<Omit<AuditRow, "at" | "tenantId"> & { at: string }>({ queryOptions: { filter } })) {
        rows.push({ tenantId, requestId: e.requestId, operation: e.operation, initiatorKind: e.initiatorKind, channel: e.channel, cloudAnchor: e.cloudAnchor, outcome: e.outcome, reason: e.reason, ...(e.bannedPasswordCheck === undefined ? {} : { bannedPasswordCheck: e.bannedPasswordCheck }), durationMs: e.durationMs, at: new Date(e.at) });
        if (rows.length >= limit) break;
      }
    });
    return rows;
  }
}

/** Rate-limit and audit rows live in the operations table (see rateLimitRowKey, auditEntity); key versions have their own (see TableKeyVersionAllocator). */
export const TABLE_NAMES = { settings: "WritebackSettings", heartbeats: "AgentHeartbeats", operations: "PasswordOperations", keyVersions: "KeyVersions" } as const;
