export const AUTH_TYPES = ["passwordHashSync", "federated", "passThrough", "cloudOnly"] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/** The user an operation is for, as the cloud directory knows them. */
export interface UserRef {
  cloudAnchor: string;
  userPrincipalName: string;
  authType: AuthType;
}

/** Cloud-only users have no on-premises password: nothing to write back. */
export function hasOnPremisesPassword(authType: AuthType): boolean {
  return authType !== "cloudOnly";
}
