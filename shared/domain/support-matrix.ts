import type { Channel, InitiatorKind, PasswordOperation } from "./operations.js";

/**
 * Which operations are written back, from the product spec:
 * - user self-service change (voluntary or expired) from accessPanel, office365 or ssprPortal;
 * - user self-service reset from ssprPortal;
 * - admin reset from azurePortal, entraAdminCenter or ssprPortal (admin self-service).
 * Not written back: user reset/change through PowerShell or Graph; admin reset from the
 * Microsoft 365 admin center, PowerShell or Graph.
 * Unlock-only follows the reset rules (it is offered on the same pages).
 */
const SUPPORTED: Record<InitiatorKind, Record<PasswordOperation, readonly Channel[]>> = {
  user: {
    change: ["accessPanel", "office365", "ssprPortal"],
    reset: ["ssprPortal"],
    unlock: ["ssprPortal"],
  },
  admin: {
    change: ["accessPanel", "office365", "ssprPortal"],
    reset: ["azurePortal", "entraAdminCenter", "ssprPortal"],
    unlock: ["azurePortal", "entraAdminCenter", "ssprPortal"],
  },
};

export function supportedChannels(operation: PasswordOperation, initiator: InitiatorKind): readonly Channel[] {
  return SUPPORTED[initiator][operation];
}

export function isWrittenBack(operation: PasswordOperation, initiator: { kind: InitiatorKind; channel: Channel }): boolean {
  return supportedChannels(operation, initiator.kind).includes(initiator.channel);
}
