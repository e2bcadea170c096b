import type { AuditLog, AuditRow } from "../../ports/audit-log.port.js";

export class MemoryAuditLog implements AuditLog {
  private readonly entries: AuditRow[] = [];

  async append(row: AuditRow): Promise<void> {
    this.entries.push({ ...row });
  }

  async list(tenantId: string, limit: number): Promise<AuditRow[]> {
    return this.entries
      .filter((r) => r.tenantId === tenantId)
      .sort((a, b) => b.at.getTime() - a.at.getTime())
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  /** Every row, oldest first (tests). */
  rows(): AuditRow[] {
    return this.entries.map((r) => ({ ...r }));
  }
}
