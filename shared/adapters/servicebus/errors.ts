import { isServiceBusError } from "@azure/service-bus";
import { AppError } from "../../errors/app-error.js";

/** Service Bus failures become RELAY_UNAVAILABLE with a safe message (no connection string, no key). */
export function toRelayError(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  if (isServiceBusError(error)) {
    const message =
      error.code === "MessagingEntityNotFound"
        ? `The relay queue for ${what} does not exist; onboard the tenant.`
        : error.code === "UnauthorizedAccess"
          ? "The relay refused the app's credentials."
          : `The relay is unavailable (${error.code}).`;
    return new AppError("RELAY_UNAVAILABLE", { message, cause: error });
  }
  return new AppError("RELAY_UNAVAILABLE", { message: "The relay is unavailable.", cause: error });
}
