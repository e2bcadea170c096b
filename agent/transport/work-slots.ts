/**
 * At most `size` holders at once; the others wait in arrival order. The agent's transport
 * holds a slot while the directory works on a request, not while the reply and settlement
 * travel, so `maxConcurrentRequests` bounds the work (LDAP writes) alone.
 */
export class WorkSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError("WorkSlots needs a size of at least 1");
  }

  /** Resolves once a slot is held; the returned function gives it back (only the first call counts). */
  async acquire(): Promise<() => void> {
    if (this.active < this.size) this.active += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter: `active` stays as it is.
      if (next !== undefined) next();
      else this.active -= 1;
    };
  }

  /** Holders and waiters now (for tests and stats). */
  usage(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }
}
