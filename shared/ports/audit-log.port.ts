export interface AuditRow {
  tenantId: string;
  requestId: string;
  operation: string;
  initiatorKind: string;
  channel: string;
  cloudAnchor: string;
  /** "succeeded" or an error code. */
  outcome: string;
  reason?: string | undefined;
  durationMs: number;
  at: Date;
}

export interface AuditLog {
  append(row: AuditRow): Promise<void>;
  /** Newest first. */
  list(tenantId: string, limit: number): Promise<AuditRow[]>;
}
