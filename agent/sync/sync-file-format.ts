import { z } from "zod";
import type { ConnectorSpaceObject } from "./sync-store.port.js";

/** One connector-space object as written in the store file and in import files (see README.md). */
export const connectorSpaceObjectSchema = z
  .object({
    connector: z.string().min(1).max(255),
    anchor: z.string().min(1).max(512),
    metaverseId: z.string().min(1).max(512).optional(),
    linkRules: z.array(z.string().min(1).max(256)).max(50).optional(),
    domain: z.string().min(1).max(255).optional(),
    distinguishedName: z.string().min(1).max(2048).optional(),
    /** aad objects: the forest whose AD object is the account (an import's `forest`); absent = the enabled account's forest. */
    accountForest: z.string().min(1).max(255).optional(),
  })
  .strict();

export const cloudAnchorMappingSchema = z
  .object({
    cloudAnchor: z.string().min(1).max(512),
    sourceAnchor: z.string().refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s) && Buffer.from(s, "base64").length === 16, "must be base64 of 16 bytes"),
    /** The account forest when the same source anchor exists in several forests. */
    forest: z.string().min(1).max(255).optional(),
  })
  .strict();

export const syncStoreFileSchema = z
  .object({
    version: z.literal(1),
    objects: z.array(connectorSpaceObjectSchema),
    /** Per domain: where the last refresh from AD stopped (opaque to the store; see directory-source.port.ts). */
    watermarks: z.record(z.string().min(1).max(2048)).optional(),
  })
  .strict();

export const syncImportFileSchema = z
  .object({
    version: z.literal(1),
    objects: z.array(connectorSpaceObjectSchema).default([]),
    cloudAnchors: z.array(cloudAnchorMappingSchema).default([]),
  })
  .strict();

export type CloudAnchorMapping = z.infer<typeof cloudAnchorMappingSchema>;
export type SyncImportFile = z.infer<typeof syncImportFileSchema>;

export class SyncFileError extends Error {
  override readonly name = "SyncFileError";
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}

/** Canonical form: connector names lowercase (DNS), AD anchors (objectGUID) lowercase, cloud anchors as given. */
export function normalize(o: ConnectorSpaceObject): ConnectorSpaceObject {
  const connector = o.connector.toLowerCase();
  const out: ConnectorSpaceObject = { connector, anchor: connector === "aad" ? o.anchor : o.anchor.toLowerCase() };
  if (o.metaverseId !== undefined) out.metaverseId = o.metaverseId;
  if (o.linkRules !== undefined) out.linkRules = [...o.linkRules];
  if (o.domain !== undefined) out.domain = o.domain.toLowerCase();
  if (o.distinguishedName !== undefined) out.distinguishedName = o.distinguishedName;
  if (o.accountForest !== undefined) out.accountForest = o.accountForest.toLowerCase();
  return out;
}
