import { readFile } from "node:fs/promises";
import { z } from "zod";
import { EmbeddedDirectory, type EmbeddedDirectoryOptions } from "./embedded-directory.js";

/**
 * Seed file of the embedded directory (JSON):
 *
 * { "domains": [ { "domain": "corp.example.com", "forest": "corp.example.com",
 *     "policy": { "minLength": 8, "complexity": true, "historyLength": 24, "minAgeSeconds": 0,
 *                 "maxAgeSeconds": 3628800, "lockoutThreshold": 5, "lockoutDurationSeconds": 900,
 *                 "lockoutObservationWindowSeconds": 900 },
 *     "users": [ { "sAMAccountName": "alice", "displayName": "Alice Example",
 *                  "userPrincipalName": "alice@corp.example.com",
 *                  "objectGuid": "…", "msDsConsistencyGuid": "<base64 of 16 bytes>",
 *                  "password": "Initial-Passw0rd", "adminCount": 0, "disabled": false,
 *                  "passwordNeverExpires": false, "mustChangePassword": false } ] } ] }
 *
 * Omitted policy settings take Windows' Default Domain Policy values. Initial passwords are
 * hashed while loading; the seed file is test/local-stack material, never production data.
 */
const policySchema = z
  .object({
    minLength: z.number().int().min(0).max(256),
    complexity: z.boolean(),
    historyLength: z.number().int().min(0).max(24),
    minAgeSeconds: z.number().min(0),
    maxAgeSeconds: z.number().min(0),
    lockoutThreshold: z.number().int().min(0).max(999),
    lockoutDurationSeconds: z.number().min(0),
    lockoutObservationWindowSeconds: z.number().min(0),
  })
  .partial()
  .strict();

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a GUID");

const userSchema = z
  .object({
    sAMAccountName: z.string().min(1).max(20),
    displayName: z.string().max(256).optional(),
    userPrincipalName: z.string().max(1024).optional(),
    distinguishedName: z.string().min(1).optional(),
    objectGuid: guid.optional(),
    msDsConsistencyGuid: z
      .string()
      .refine((s) => Buffer.from(s, "base64").length === 16, "must be base64 of 16 bytes")
      .optional(),
    password: z.string().max(256).optional(),
    adminCount: z.union([z.literal(0), z.literal(1)]).optional(),
    disabled: z.boolean().optional(),
    passwordNeverExpires: z.boolean().optional(),
    mustChangePassword: z.boolean().optional(),
    lockedOut: z.boolean().optional(),
  })
  .strict();

export const embeddedSeedSchema = z
  .object({
    domains: z
      .array(
        z
          .object({
            domain: z.string().min(1),
            forest: z.string().min(1).optional(),
            policy: policySchema.optional(),
            users: z.array(userSchema).default([]),
            /** Fine-grained password policies: { name, precedence, appliesTo: [sAMAccountName], policy }. */
            passwordSettings: z
              .array(z.object({ name: z.string().min(1).max(64), precedence: z.number().int().min(1), appliesTo: z.array(z.string().min(1)).max(10_000), policy: policySchema }).strict())
              .default([]),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type EmbeddedSeed = z.input<typeof embeddedSeedSchema>;

export class EmbeddedSeedError extends Error {
  override readonly name = "EmbeddedSeedError";
}

export function directoryFromSeed(seed: unknown, options: EmbeddedDirectoryOptions = {}): EmbeddedDirectory {
  const parsed = embeddedSeedSchema.safeParse(seed);
  if (!parsed.success) {
    // Paths and rule names only: a seed holds initial passwords.
    throw new EmbeddedSeedError(`Invalid directory seed: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const directory = new EmbeddedDirectory(options);
  for (const d of parsed.data.domains) {
    directory.addDomain({ domain: d.domain, forest: d.forest, policy: d.policy });
    for (const pso of d.passwordSettings) directory.addPasswordSettings(d.domain, pso);
    for (const u of d.users) {
      const password = u.password === undefined ? undefined : Buffer.from(u.password, "utf8");
      try {
        const { lockedOut, ...init } = u;
        const ref = directory.addUser(d.domain, {
          ...init,
          password,
          msDsConsistencyGuid: u.msDsConsistencyGuid === undefined ? undefined : Buffer.from(u.msDsConsistencyGuid, "base64"),
        });
        if (lockedOut === true) directory.setAccountFlags(ref, { lockedOut: true });
      } finally {
        password?.fill(0);
      }
    }
  }
  return directory;
}

export async function directoryFromSeedFile(file: string, options: EmbeddedDirectoryOptions = {}): Promise<EmbeddedDirectory> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new EmbeddedSeedError(`Cannot read the directory seed ${file}: ${e instanceof SyntaxError ? "not valid JSON" : "file not readable"}.`);
  }
  return directoryFromSeed(raw, options);
}
