import { AppError } from "../../shared/errors/app-error.js";
import type { RelayClient, RelayClientStats, RelayReplyMessage, RelayRequest, ReplyOpener } from "../../shared/ports/relay-client.port.js";

/** What the far side does with a request: a sealed reply, or nothing (the agent never answers). */
export type InProcessResponder = (request: RelayRequest) => Promise<Uint8Array | undefined>;

/**
 * A RelayClient for unit tests: hands the sealed request to an in-process responder (the
 * agent core) and opens its reply with the real ReplyOpener. No Service Bus involved.
 */
export class InProcessRelay<TReply> implements RelayClient<TReply> {
  private readonly counters: RelayClientStats = { sent: 0, repliesMatched: 0, lateReplies: 0, rejectedReplies: 0, unexpectedReplies: 0, timeouts: 0 };
  readonly sentBodies: Uint8Array[] = [];

  constructor(
    private responder: InProcessResponder,
    private readonly openReply: ReplyOpener<TReply>,
  ) {}

  setResponder(responder: InProcessResponder): void {
    this.responder = responder;
  }

  async request(request: RelayRequest, options: { timeoutMs: number }): Promise<TReply> {
    this.counters.sent += 1;
    this.sentBodies.push(request.body);
    const reply = await this.responder(request);
    if (reply === undefined) {
      this.counters.timeouts += 1;
      await new Promise((r) => setTimeout(r, Math.min(options.timeoutMs, 50)));
      throw new AppError("AGENT_TIMEOUT");
    }
    const message: RelayReplyMessage = { tenantId: request.tenantId, correlationId: request.requestId, body: reply, ...(request.keyVersion === undefined ? {} : { keyVersion: request.keyVersion }) };
    try {
      const opened = await this.openReply(message);
      this.counters.repliesMatched += 1;
      return opened;
    } catch (e) {
      this.counters.rejectedReplies += 1;
      this.counters.timeouts += 1;
      throw new AppError("AGENT_TIMEOUT", { cause: e });
    }
  }

  stats(): RelayClientStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {}
}
