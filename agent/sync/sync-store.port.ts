/**
 * The agent's embedded copy of the sync engine's view: connector-space objects and the
 * metaverse links between them, used to go from a cloud anchor to an AD account.
 */
export interface ConnectorSpaceObject {
  /** "aad" for the cloud connector, else the AD forest (DNS name). */
  connector: string;
  /** Cloud anchor for the aad connector; objectGUID for AD connectors. */
  anchor: string;
  /** Metaverse object this connector object is joined to, if any. */
  metaverseId?: string | undefined;
  /** Sync rules on the join link, e.g. "Microsoft.InfromADUserAccountEnabled.xxx". */
  linkRules?: string[] | undefined;
  /** For AD objects: where to write. */
  domain?: string | undefined;
  distinguishedName?: string | undefined;
  /** For aad objects: the forest whose AD object is the account, when an import named it. */
  accountForest?: string | undefined;
}

export type ResolveResult =
  | { kind: "found"; domain: string; distinguishedName: string; objectGuid: string }
  | { kind: "notFound"; detail: string }
  | { kind: "misconfigured"; detail: string }
  | { kind: "ambiguous"; detail: string };

export interface SyncStore {
  resolve(cloudAnchor: string): Promise<ResolveResult>;
  upsert(objects: ConnectorSpaceObject[]): Promise<void>;
  close(): Promise<void>;
}
