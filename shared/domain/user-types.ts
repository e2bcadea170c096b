export const AUTH_TYPES = ["passwordHashSync", "federated", "passThrough", "cloudOnly"] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/** The user an operation is for, as the cloud directory knows them. */
export interface UserRef {
  cloudAnchor: string;
  userPrincipalName: string;
  authType: AuthType;
  /** The cloud user's onPremisesImmutableId (base64 of 16 bytes): lets the agent find the account live. */
  onPremisesImmutableId?: string | undefined;
}

/** Cloud-only users have no on-premises password: nothing to write back. */
export function hasOnPremisesPassword(authType: AuthType): boolean {
  return authType !== "cloudOnly";
}
