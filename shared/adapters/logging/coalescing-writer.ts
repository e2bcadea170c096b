/** Past this many buffered characters a turn's lines are written at once. */
const MAX_BUFFERED_CHARS = 64 * 1024;

export interface CoalescingWriter {
  write(line: string): void;
  /** Writes whatever is buffered now. */
  flush(): void;
}

/**
 * Hands the lines written during one event-loop turn to `sink` as one chunk. A pipe write is
 * a synchronous syscall on Linux: under load the agent logs a line per request, and one write
 * per turn instead of one per line is what keeps logging off the hot path. Order is kept; a
 * line waits at most until the end of the turn, and the process flushes on exit.
 */
export function coalescingWriter(sink: (chunk: string) => void): CoalescingWriter {
  let pending = "";
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === "") return;
    const chunk = pending;
    pending = "";
    sink(chunk);
  };
  process.on("exit", flush);
  return {
    write(line: string) {
      pending += line;
      if (pending.length >= MAX_BUFFERED_CHARS) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
