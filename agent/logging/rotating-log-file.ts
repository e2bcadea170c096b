import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export interface RotatingLogFileOptions {
  file: string;
  /** Rotate once the file would pass this size (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept next to it: file.1 (newest) … file.N (default 5). Older ones are deleted. */
  maxFiles?: number;
}

export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;

/**
 * An append-only log file bounded in size: when a write would take it past maxBytes, the file
 * becomes file.1 (file.1 → file.2, …, the oldest is deleted) and a new one is started, so the
 * agent's logs never use more than about maxBytes × (maxFiles + 1). Writes are synchronous
 * (the caller hands one chunk per event-loop turn), so a crash loses nothing already written.
 * Files are created mode 0640 (the service's group may read them; others not).
 */
export class RotatingLogFile {
  private fd: number;
  private size: number;
  private readonly maxBytes: number;
  private readonly maxFiles: number;

  constructor(private readonly o: RotatingLogFileOptions) {
    this.maxBytes = o.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
    this.maxFiles = o.maxFiles ?? DEFAULT_LOG_MAX_FILES;
    if (this.maxBytes < 1024) throw new RangeError("log maxBytes must be at least 1024");
    if (this.maxFiles < 1) throw new RangeError("log maxFiles must be at least 1");
    mkdirSync(dirname(o.file), { recursive: true, mode: 0o750 });
    this.fd = openSync(o.file, "a", 0o640);
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: string): void {
    const bytes = Buffer.from(chunk, "utf8");
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
  }

  close(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    closeSync(this.fd);
    const name = (n: number) => `${this.o.file}.${n}`;
    rmSync(name(this.maxFiles), { force: true });
    for (let n = this.maxFiles - 1; n >= 1; n -= 1) if (existsSync(name(n))) renameSync(name(n), name(n + 1));
    renameSync(this.o.file, name(1));
    this.fd = openSync(this.o.file, "a", 0o640);
    this.size = 0;
  }
}
