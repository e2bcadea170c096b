import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";

export type { TokenCredential };

/** The app's Azure identity: the managed identity in Azure, the developer's sign-in locally. */
export function appCredential(): TokenCredential {
  return new DefaultAzureCredential();
}
