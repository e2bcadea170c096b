/**
 * The vocabulary of a password operation: what is asked, by whom, through which channel.
 * The wire format (protocol/), the request schemas (http/) and the rules (domain/) use these.
 */
export type PasswordOperation = "reset" | "change" | "unlock";

export const INITIATOR_KINDS = ["user", "admin"] as const;
export type InitiatorKind = (typeof INITIATOR_KINDS)[number];

export const CHANNELS = [
  "ssprPortal",
  "accessPanel",
  "office365",
  "azurePortal",
  "entraAdminCenter",
  "m365AdminCenter",
  "powershell",
  "graph",
] as const;
export type Channel = (typeof CHANNELS)[number];

/** Who asked, and where. */
export interface Initiator {
  kind: InitiatorKind;
  channel: Channel;
}
