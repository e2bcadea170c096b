/** Who called: the verified token's subject, tenant and roles. */
export interface Principal {
  subject: string;
  tenantId: string;
  roles: readonly string[];
}

/** Verifies a request's Authorization header; throws AppError UNAUTHENTICATED when it does not hold. */
export type TokenVerifier = (authorization: string | null) => Promise<Principal>;
