import type { ServiceBusMessage, ServiceBusMessageBatch, ServiceBusSender } from "@azure/service-bus";

interface Pending {
  message: ServiceBusMessage;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Sends the messages handed over during one event-loop turn together: as one batch (one AMQP
 * transfer, one settlement) per session id instead of one transfer each. Under load many
 * resets reach the relay in the same turn, and per-transfer work (SDK send path, framing,
 * a TCP write on each side, the broker's settlement) is most of what the relay costs.
 *
 * Each caller's promise settles with its own batch: a failed batch rejects exactly the
 * messages it carried, with the SDK's error, as if each had been sent alone. A message too
 * large for any batch is sent alone, so the caller gets the SDK's own size error.
 */
export class BatchingSender {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly sender: ServiceBusSender) {}

  /** Closes the underlying sender; messages not yet sent are rejected with its error. */
  close(): Promise<void> {
    return this.sender.close();
  }

  send(message: ServiceBusMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks of this turn: everything they produced goes out together.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.pending;
    this.pending = [];
    // A batch holds one session's messages (what Service Bus requires of session batches).
    const bySession = new Map<string, Pending[]>();
    for (const item of items) {
      const key = item.message.sessionId ?? "";
      const group = bySession.get(key);
      if (group === undefined) bySession.set(key, [item]);
      else group.push(item);
    }
    for (const group of bySession.values()) {
      if (group.length === 1) this.sendAlone(group[0] as Pending);
      else void this.sendInBatches(group);
    }
  }

  private sendAlone(item: Pending): void {
    this.sender.sendMessages(item.message).then(item.resolve, item.reject);
  }

  private async sendInBatches(group: Pending[]): Promise<void> {
    let rest = group;
    while (rest.length > 0) {
      let batch: ServiceBusMessageBatch;
      try {
        batch = await this.sender.createMessageBatch();
      } catch (e) {
        for (const item of rest) item.reject(e);
        return;
      }
      const members: Pending[] = [];
      let i = 0;
      for (; i < rest.length; i++) {
        const item = rest[i] as Pending;
        if (!batch.tryAddMessage(item.message)) break;
        members.push(item);
      }
      if (members.length === 0) {
        // Too large even for an empty batch: alone, it fails with the SDK's size error.
        this.sendAlone(rest[0] as Pending);
        rest = rest.slice(1);
        continue;
      }
      rest = rest.slice(i);
      this.sender.sendMessages(batch).then(
        () => {
          for (const m of members) m.resolve();
        },
        (e: unknown) => {
          for (const m of members) m.reject(e);
        },
      );
    }
  }
}
