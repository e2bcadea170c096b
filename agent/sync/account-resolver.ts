import type { Logger } from "../../shared/ports/logger.port.js";
import { silentLogger } from "../../shared/ports/logger.port.js";
import { AppError } from "../../shared/errors/app-error.js";
import type { SourceAnchorLocator, SourceAnchorMatch } from "./directory-source.port.js";
import type { ResolveResult, SyncStore } from "./sync-store.port.js";

export interface AccountResolverOptions {
  store: SyncStore;
  /** Live lookup by source anchor (the directory); without it every request goes through the store. */
  locator?: SourceAnchorLocator | undefined;
  logger?: Logger;
}

/**
 * Which AD account a request is for.
 *
 * With the cloud user's source anchor (onPremisesImmutableId), live in every configured forest:
 * - one account has it → that one (disabled or not: the write path answers ACCOUNT_DISABLED);
 * - several → the one whose account is **enabled**: the object the sync engine links with the
 *   `Microsoft.InfromADUserAccountEnabled` rule (an account/resource forest pair: the resource
 *   forest's linked mailbox object is disabled). Two or more enabled → USER_AMBIGUOUS; all
 *   disabled → the first (ACCOUNT_DISABLED, nothing written);
 * - none → the sync store by cloud anchor (deployments whose anchor is another attribute),
 *   else USER_NOT_FOUND.
 * A forest that does not answer: when the others hold exactly one enabled account it is used
 * (it cannot be the same account twice with the rule above unless the down forest also holds
 * an enabled copy, which a working sync would have refused); with no match elsewhere the answer is
 * ONPREM_DIRECTORY_UNAVAILABLE, never USER_NOT_FOUND — the account may be in the forest that is down.
 *
 * Without a source anchor: the sync store (cloud anchor → metaverse → AccountEnabled link).
 */
export class AccountResolver {
  private readonly logger: Logger;

  constructor(private readonly o: AccountResolverOptions) {
    this.logger = o.logger ?? silentLogger;
  }

  async resolve(cloudAnchor: string, sourceAnchor?: Uint8Array): Promise<ResolveResult> {
    if (sourceAnchor === undefined || this.o.locator === undefined) return this.o.store.resolve(cloudAnchor);
    const answers = await this.o.locator.findBySourceAnchor(sourceAnchor);
    const matches: SourceAnchorMatch[] = answers.flatMap((a) => a.matches ?? []);
    const failed = answers.filter((a) => a.error !== undefined).map((a) => a.domain);
    const enabled = matches.filter((m) => !m.disabled);
    if (matches.length === 0) {
      const stored = await this.o.store.resolve(cloudAnchor);
      if (stored.kind !== "notFound") return stored;
      if (failed.length > 0) throw new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: `Domain(s) ${failed.join(", ")} did not answer the source-anchor lookup.` });
      return { kind: "notFound", detail: "no account with this source anchor in any configured forest" };
    }
    if (failed.length > 0) this.logger.warn("source-anchor lookup: some domains did not answer", { domains: failed.join(","), matches: matches.length });
    if (enabled.length > 1) {
      return { kind: "ambiguous", detail: `enabled accounts with this source anchor in ${enabled.map((m) => m.domain).join(", ")}` };
    }
    if (enabled.length === 0 && failed.length > 0) {
      throw new AppError("ONPREM_DIRECTORY_UNAVAILABLE", { message: `Only disabled accounts found; domain(s) ${failed.join(", ")} did not answer.` });
    }
    const account = enabled[0] ?? matches[0]!;
    return { kind: "found", domain: account.domain, distinguishedName: account.distinguishedName, objectGuid: account.objectGuid };
  }
}
