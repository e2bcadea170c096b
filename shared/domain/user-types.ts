export const AUTH_TYPES = ["passwordHashSync", "federated", "passThrough", "cloudOnly"] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/** Cloud-only users have no on-premises password: nothing to write back. */
export function hasOnPremisesPassword(authType: AuthType): boolean {
  return authType !== "cloudOnly";
}
