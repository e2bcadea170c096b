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
}

export interface DirectorySource {
  /** Every user object of one domain (DNS name). Throws AppError ONPREM_DIRECTORY_UNAVAILABLE when unreachable. */
  listUsers(domain: string): AsyncIterable<DirectoryUserEntry>;
}
