import { z } from "zod";
import { AUTH_TYPES } from "../domain/user-types.js";
import { CHANNELS, INITIATOR_KINDS } from "../protocol/envelope.js";

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
/** What the 1 KiB envelope leaves for passwords once the rest is at its maximum. */
export const MAX_PASSWORD_BYTES_TOGETHER = 592;

const password = z
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
  })
  .strict();

export const initiatorSchema = z.object({ kind: z.enum(INITIATOR_KINDS), channel: z.enum(CHANNELS) }).strict();

const requestId = z.string().uuid().optional();

export const precheckBodySchema = z.object({ user: userSchema }).strict();

export const resetBodySchema = z
  .object({
    requestId,
    user: userSchema,
    newPassword: password,
    initiator: initiatorSchema,
    unlockAccount: z.boolean().optional().default(false),
    forceChangeAtNextLogon: z.boolean().optional().default(false),
  })
  .strict()
  .refine((b) => Buffer.byteLength(b.newPassword, "utf8") <= MAX_PASSWORD_BYTES_TOGETHER, {
    message: "password too long once encoded",
    path: ["newPassword"],
  });

export const changeBodySchema = z
  .object({
    requestId,
    user: userSchema,
    currentPassword: password,
    newPassword: password,
    reason: z.enum(["voluntary", "expired"]),
    initiator: initiatorSchema,
  })
  .strict()
  .refine((b) => Buffer.byteLength(b.currentPassword, "utf8") + Buffer.byteLength(b.newPassword, "utf8") <= MAX_PASSWORD_BYTES_TOGETHER, {
    message: "passwords too long once encoded",
    path: ["newPassword"],
  });

export const unlockBodySchema = z.object({ requestId, user: userSchema, initiator: initiatorSchema }).strict();

export const settingsBodySchema = z.object({ enabled: z.boolean(), allowUnlockWithoutReset: z.boolean() }).strict();

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
export type AgentRegistrationBody = z.infer<typeof agentRegistrationBodySchema>;
export type UserRef = z.infer<typeof userSchema>;
