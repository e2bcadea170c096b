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
  /**
   * The cloud's banned-password check refused the new password ("refused": enforce mode,
   * nothing was sent), or would have ("wouldRefuse": audit mode, sent anyway). Never the term.
   */
  bannedPasswordCheck?: "refused" | "wouldRefuse" | undefined;
  durationMs: number;
  at: Date;
}

export interface AuditLog {
  append(row: AuditRow): Promise<void>;
  /** Newest first. */
  list(tenantId: string, limit: number): Promise<AuditRow[]>;
}
