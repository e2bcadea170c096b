/**
 * Lets request work through in event-loop turns of about `budgetMs` each.
 *
 * Requests arrive in bursts (one socket read holds many) and each starts with an RSA
 * decrypt. Run back to back, a burst of 25 holds every reply back ~10 ms and then releases
 * them at once, so the cloud side idles, then floods. Here callers pass one at a time, each
 * once the previous one's synchronous work is done; when a turn's budget is spent, the rest
 * wait for a later turn, and the replies finished so far go out (and new requests come in)
 * in between.
 */
export class CpuTurns {
  private readonly waiting: (() => void)[] = [];
  private passing = false;
  private turnStart = 0;

  constructor(readonly budgetMs: number) {
    if (!(budgetMs > 0)) throw new RangeError("CpuTurns needs a budget above 0 ms");
  }

  /**
   * Resolves when the caller may run its synchronous work. Do that work right after the
   * await: the next caller is let through once it is done.
   */
  take(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      if (this.passing) return;
      this.passing = true;
      this.turnStart = performance.now();
      // Not synchronously: the caller's continuation must be queued before the check behind it.
      queueMicrotask(() => this.passNext());
    });
  }

  /** Callers waiting for their turn (for tests and stats). */
  waitingCount(): number {
    return this.waiting.length;
  }

  private passNext(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.passing = false;
      return;
    }
    next();
    // Queued behind the caller's continuation, so it runs once that synchronous work is done.
    queueMicrotask(() => {
      if (performance.now() - this.turnStart < this.budgetMs) return this.passNext();
      setImmediate(() => {
        this.turnStart = performance.now();
        this.passNext();
      });
    });
  }
}
