import type { KeyObject } from "node:crypto";
import {
  openDisable,
  openKeyDelivery,
  openRequest,
  peekHeader,
  sealReply,
  type OpenedPasswordRequest,
} from "../../shared/protocol/envelope.js";
import type { RelayRequest } from "../../shared/ports/relay-client.port.js";

export interface ScriptedOutcome {
  outcome: string;
  reason?: string;
  /** No reply at all (the agent is gone). */
  silent?: boolean;
}

/**
 * A minimal far side for handler tests: really opens each request with the agent's private
 * key (proving what the cloud sealed), records what it saw, and answers what the test scripts.
 */
export class ScriptedAgent {
  readonly keys = new Map<number, Buffer>();
  readonly seen: OpenedPasswordRequest[] = [];
  readonly seenPasswords: string[] = [];
  next: (request: OpenedPasswordRequest) => ScriptedOutcome = () => ({ outcome: "succeeded" });

  constructor(
    private readonly tenantId: string,
    private readonly privateKey: KeyObject,
  ) {}

  readonly respond = async (request: RelayRequest): Promise<Uint8Array | undefined> => {
    const { header } = peekHeader(request.body);
    if (header.kind === "control" && header.operation === "deliverKey") {
      const { key, delivery } = openKeyDelivery(request.body, this.tenantId, this.privateKey);
      this.keys.set(delivery.keyVersion, key);
      return this.reply(header.requestId, "deliverKey", delivery.keyVersion, header.expiresAt, "succeeded", "");
    }
    if (header.kind === "control" && header.operation === "disable") {
      const notice = openDisable(request.body, this.tenantId, (v) => this.keys.get(v));
      const key = this.keys.get(notice.keyVersion);
      this.keys.clear();
      return key === undefined ? undefined : this.sealWith(key, notice.requestId, "disable", notice.keyVersion, header.expiresAt, "succeeded", "");
    }
    const opened = openRequest(request.body, { tenantId: this.tenantId, keyFor: (v) => this.keys.get(v), agentPrivateKey: this.privateKey });
    this.seen.push(opened);
    if (opened.newPassword !== undefined) this.seenPasswords.push(opened.newPassword.toString("utf8"));
    const scripted = this.next(opened);
    if (scripted.silent === true) return undefined;
    return this.reply(opened.requestId, opened.operation, opened.keyVersion, opened.expiresAt, scripted.outcome, scripted.reason ?? "");
  };

  private reply(requestId: string, operation: "reset" | "change" | "unlock" | "policy" | "deliverKey", keyVersion: number, expiresAt: Date, outcome: string, reason: string): Uint8Array {
    const key = this.keys.get(keyVersion);
    if (key === undefined) throw new Error("scripted agent has no key for its reply");
    return this.sealWith(key, requestId, operation, keyVersion, expiresAt, outcome, reason);
  }

  private sealWith(key: Buffer, requestId: string, operation: "reset" | "change" | "unlock" | "policy" | "deliverKey" | "disable", keyVersion: number, expiresAt: Date, outcome: string, reason: string): Uint8Array {
    return sealReply({ requestId, operation, keyVersion, expiresAt, completedAt: new Date(), outcome, reason, agentVersion: "test", diagnostic: "" }, this.tenantId, key);
  }
}
