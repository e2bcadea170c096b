/**
 * The `code` an SDK or Node error carries (Service Bus: "SessionLockLost", Node: "ECONNRESET"),
 * if any. For logs and for branching on an outside error; the product's own errors are AppError.
 */
export function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
}
