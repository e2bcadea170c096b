/**
 * Reads user objects from AD to populate the sync store. Implemented by the LDAP adapter
 * (paged search of (objectCategory=person)(objectClass=user) under the domain's naming
 * context) and by the embedded directory.
 */
export interface DirectoryUserEntry {
  /** objectGUID as a lowercase GUID string (the same form as AccountRef.objectGuid). */
  objectGuid: string;
  /** ms-DS-ConsistencyGuid exactly as stored in AD (16 raw bytes), when set. */
  msDsConsistencyGuid?: Uint8Array | undefined;
  distinguishedName: string;
  userPrincipalName: string | undefined;
  sAMAccountName: string;
  /** userAccountControl ACCOUNTDISABLE: the account cannot sign in (not the account forest's object). */
  disabled?: boolean | undefined;
}

/** An account found live by its source anchor. */
export interface SourceAnchorMatch {
  /** DNS name of the domain it is in. */
  domain: string;
  /** The AD connector's name (forest root DNS name). */
  forest: string;
  objectGuid: string;
  distinguishedName: string;
  disabled: boolean;
}

/**
 * Finds accounts by source anchor (Entra's onPremisesImmutableId) in every configured domain
 * at once, live: ms-DS-ConsistencyGuid equal to the anchor, or — for objects without one —
 * objectGUID in AD byte order equal to it.
 */
export interface SourceAnchorLocator {
  /** Per domain: its matches, or the failure that kept it from answering. */
  findBySourceAnchor(sourceAnchor: Uint8Array): Promise<{ domain: string; matches?: SourceAnchorMatch[]; error?: unknown }[]>;
}

/** What changed in one domain since a watermark. */
export interface DirectoryChanges {
  /** Where this read stopped: pass it to the next changesSince (opaque; stored by the sync store). */
  watermark: string;
  /**
   * true: `changed` is every user of the domain (no watermark, a watermark from another DC, or
   * deletions could not be read): objects of this domain not in it are gone.
   */
  full: boolean;
  /** Users created, changed, moved or renamed since the watermark (all users when full). */
  changed: AsyncIterable<DirectoryUserEntry>;
  /** objectGUIDs of users deleted since the watermark (empty when full). Read after `changed` is consumed. */
  deleted(): Promise<string[]>;
}

export interface DirectorySource {
  /** Every user object of one domain (DNS name). Throws AppError ONPREM_DIRECTORY_UNAVAILABLE when unreachable. */
  listUsers(domain: string): AsyncIterable<DirectoryUserEntry>;
  /**
   * Incremental read: AD's uSNChanged on one DC (the watermark names the DC and its
   * highestCommittedUSN; another DC's watermark means a full read), deletions from the
   * tombstones (show-deleted control).
   */
  changesSince(domain: string, watermark: string | undefined): Promise<DirectoryChanges>;
  /** The forest (AD connector name) a configured domain belongs to. */
  forestOf(domain: string): string;
  /** The configured domains (DNS names, lowercase). */
  domainNames(): string[];
}
