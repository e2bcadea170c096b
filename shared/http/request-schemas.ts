import { z } from "zod";
import { AUTH_TYPES } from "../domain/user-types.js";
import { CHANNELS, INITIATOR_KINDS } from "../domain/operations.js";
import { MAX_MESSAGE_BYTES, sealedRequestBytes } from "../protocol/envelope.js";
import { BANNED_PASSWORD_MODES, MAX_CUSTOM_TERM_CHARS, MAX_CUSTOM_TERMS, MIN_CUSTOM_TERM_CHARS } from "../domain/banned-passwords/custom-terms.js";

// Whole-string patterns (zod string checks) rather than refine(): in zod 3 each refine() wraps
// the schema in an effect that cost ~5–8 µs per parse here, most of a reset body's ~35 µs.
// Lone UTF-16 surrogates would be silently replaced when encoded: refuse them. Each pattern
// walks the string once: any allowed code unit, or a high surrogate followed by a low one.
/** No lone surrogate, no NUL. */
const PASSWORD_TEXT = /^(?:[^\u0000\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;
/** No lone surrogate, no control character. */
const PLAIN_TEXT = /^(?:[^\u0000-\u001f\u007f\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;
/** No lone surrogate. */
const WELL_FORMED = /^(?:[^\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

export const MAX_PASSWORD_CHARS = 256;
/**
 * Limits in UTF-8 bytes, which is what the 1 KiB envelope holds. A cloud anchor (Entra's
 * `User_<guid>`, a base64 source anchor) is ASCII in practice; 128 bytes leave room for 64
 * two-byte characters. The passwords get exactly what the envelope has left once the anchor
 * is at its maximum, so a body that passes these checks always seals (a property test holds it).
 */
export const MAX_CLOUD_ANCHOR_BYTES = 128;
export const MAX_USER_PRINCIPAL_NAME_BYTES = 256;
export const MAX_PASSWORD_BYTES_TOGETHER = MAX_MESSAGE_BYTES - sealedRequestBytes(MAX_CLOUD_ANCHOR_BYTES, 0, 0);
/** The same when the user carries onPremisesImmutableId: its 16 bytes travel in the envelope too. */
export const MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR = MAX_MESSAGE_BYTES - sealedRequestBytes(MAX_CLOUD_ANCHOR_BYTES, 0, 0, true);

/** Entra's onPremisesImmutableId as Entra Connect / Cloud Sync write it: base64 of 16 bytes (ms-DS-ConsistencyGuid or objectGUID). */
const IMMUTABLE_ID = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8");

export const passwordSchema = z
  .string()
  .min(1)
  .max(MAX_PASSWORD_CHARS)
  .regex(PASSWORD_TEXT, "invalid Unicode or NUL");

export const userSchema = z
  .object({
    cloudAnchor: z
      .string()
      .min(1)
      .max(64)
      .regex(PLAIN_TEXT, "invalid characters"),
    userPrincipalName: z
      .string()
      .min(3)
      .max(113)
      .regex(/^[^@\s]+@[^@\s]+$/, "not a user principal name")
      .regex(WELL_FORMED, "invalid Unicode"),
    authType: z.enum(AUTH_TYPES),
    onPremisesImmutableId: z.string().regex(IMMUTABLE_ID, "must be base64 of 16 bytes (ms-DS-ConsistencyGuid / objectGUID)").optional(),
  })
  .strict();

/** The byte limits, judged once per body (one refinement, not one per field: each costs µs in zod 3). */
function withinByteLimits(b: { user: UserRef; newPassword?: string; currentPassword?: string }, ctx: z.RefinementCtx): void {
  if (utf8Bytes(b.user.cloudAnchor) > MAX_CLOUD_ANCHOR_BYTES) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "cloud anchor too long once encoded", path: ["user", "cloudAnchor"] });
  if (utf8Bytes(b.user.userPrincipalName) > MAX_USER_PRINCIPAL_NAME_BYTES) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "user principal name too long once encoded", path: ["user", "userPrincipalName"] });
  const passwords = (b.newPassword === undefined ? 0 : utf8Bytes(b.newPassword)) + (b.currentPassword === undefined ? 0 : utf8Bytes(b.currentPassword));
  const budget = b.user.onPremisesImmutableId === undefined ? MAX_PASSWORD_BYTES_TOGETHER : MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR;
  if (passwords > budget) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "passwords too long once encoded", path: ["newPassword"] });
}

export const initiatorSchema = z.object({ kind: z.enum(INITIATOR_KINDS), channel: z.enum(CHANNELS) }).strict();

const requestId = z.string().uuid().optional();

export const precheckBodySchema = z.object({ user: userSchema }).strict().superRefine(withinByteLimits);

export const resetBodySchema = z
  .object({
    requestId,
    user: userSchema,
    newPassword: passwordSchema,
    initiator: initiatorSchema,
    unlockAccount: z.boolean().optional().default(false),
    forceChangeAtNextLogon: z.boolean().optional().default(false),
  })
  .strict()
  .superRefine(withinByteLimits);

export const changeBodySchema = z
  .object({
    requestId,
    user: userSchema,
    currentPassword: passwordSchema,
    newPassword: passwordSchema,
    reason: z.enum(["voluntary", "expired"]),
    initiator: initiatorSchema,
  })
  .strict()
  .superRefine(withinByteLimits);

export const unlockBodySchema = z.object({ requestId, user: userSchema, initiator: initiatorSchema }).strict().superRefine(withinByteLimits);

export const settingsBodySchema = z
  .object({ enabled: z.boolean(), allowUnlockWithoutReset: z.boolean(), bannedPasswordMode: z.enum(BANNED_PASSWORD_MODES).optional() })
  .strict();

const bannedTerm = z
  .string()
  .regex(PLAIN_TEXT, "invalid characters")
  .refine((t) => t.trim().length >= MIN_CUSTOM_TERM_CHARS && t.trim().length <= MAX_CUSTOM_TERM_CHARS, `${MIN_CUSTOM_TERM_CHARS}–${MAX_CUSTOM_TERM_CHARS} characters`);

/** Changes to the tenant's custom banned terms: removals first, then additions. */
export const bannedTermsChangeSchema = z
  .object({ add: z.array(bannedTerm).max(MAX_CUSTOM_TERMS).default([]), remove: z.array(z.string().max(64)).max(MAX_CUSTOM_TERMS).default([]) })
  .strict()
  .refine((b) => b.add.length + b.remove.length > 0, { message: "nothing to change", path: ["add"] });

export const agentRegistrationBodySchema = z
  .object({
    publicKeyPem: z.string().min(100).max(2000),
    agentId: z.string().min(1).max(100).optional(),
  })
  .strict();

export type PrecheckBody = z.infer<typeof precheckBodySchema>;
export type ResetBody = z.infer<typeof resetBodySchema>;
export type ChangeBody = z.infer<typeof changeBodySchema>;
export type UnlockBody = z.infer<typeof unlockBodySchema>;
export type SettingsBody = z.infer<typeof settingsBodySchema>;
export type BannedTermsChange = z.infer<typeof bannedTermsChangeSchema>;
export type AgentRegistrationBody = z.infer<typeof agentRegistrationBodySchema>;
export type UserRef = z.infer<typeof userSchema>;
