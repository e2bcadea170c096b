import { ERROR_CATALOG, type ErrorCode } from "./catalog.js";

/** Languages the end-user messages are written in; English is the default. */
export const LANGUAGES = ["en", "es"] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = "en";

/**
 * The catalog's user messages in Spanish, in the terms of the product's Spanish documentation
 * (escritura diferida de contraseñas, restablecimiento, directiva de contraseñas, Active
 * Directory local, agente local). Addressed as "usted", as that documentation does.
 */
export const USER_MESSAGES_ES = {
  INVALID_REQUEST: "La solicitud no es válida.",
  PAYLOAD_TOO_LARGE: "La solicitud es demasiado grande.",
  UNSUPPORTED_MEDIA_TYPE: "La solicitud debe estar en formato JSON.",
  UNAUTHENTICATED: "Debe volver a iniciar sesión.",
  FORBIDDEN: "No tiene permiso para realizar esta acción.",
  NOT_FOUND: "No se encontró.",
  METHOD_NOT_ALLOWED: "Acción no permitida.",
  RATE_LIMITED: "Se han realizado demasiadas operaciones de contraseña para esta cuenta. Inténtelo de nuevo más tarde.",
  REQUEST_ID_CONFLICT: "Esta solicitud ya se envió con datos distintos.",
  SETTINGS_CONFLICT: "Otra persona cambió la configuración al mismo tiempo.",
  OPERATION_NOT_FOUND: "No existe esa operación de contraseña.",
  OPERATION_NOT_SUPPORTED: "La escritura diferida de contraseñas no admite este tipo de operación.",
  NOT_APPLICABLE_CLOUD_ONLY: "Su cuenta no tiene una contraseña local que actualizar.",
  WRITEBACK_DISABLED: "Su organización tiene desactivada la escritura diferida de contraseñas.",
  UNLOCK_NOT_ENABLED: "Su organización no permite desbloquear una cuenta sin restablecer su contraseña.",
  AGENT_NOT_REGISTERED: "La escritura diferida de contraseñas todavía no está configurada para su organización.",
  KEYS_NOT_ACKNOWLEDGED: "La escritura diferida de contraseñas todavía no está lista. Inténtelo de nuevo dentro de unos minutos.",
  AGENT_SIGNING_KEY_MISMATCH: "La escritura diferida de contraseñas todavía no está lista. Póngase en contacto con el departamento de soporte técnico.",
  AGENT_OFFLINE: "No se puede cambiar su contraseña en este momento porque el servicio local no está disponible. Inténtelo de nuevo más tarde.",
  AGENT_TIMEOUT: "El servicio local no respondió a tiempo. Es posible que su contraseña se haya cambiado o no; compruébelo antes de volver a intentarlo.",
  KEY_STORE_UNAVAILABLE: "La escritura diferida de contraseñas no está disponible temporalmente. Inténtelo de nuevo más tarde.",
  RELAY_UNAVAILABLE: "La escritura diferida de contraseñas no está disponible temporalmente. Inténtelo de nuevo más tarde.",
  STORAGE_UNAVAILABLE: "La escritura diferida de contraseñas no está disponible temporalmente. Inténtelo de nuevo más tarde.",
  INTERNAL_ERROR: "Se ha producido un error. Inténtelo de nuevo más tarde.",
  PASSWORD_POLICY_VIOLATION: "La nueva contraseña no cumple la directiva de contraseñas de su organización.",
  WRONG_CURRENT_PASSWORD: "La contraseña actual no es correcta.",
  USER_NOT_FOUND: "No se encontró su cuenta local.",
  USER_AMBIGUOUS: "No se pudo identificar su cuenta local.",
  PROTECTED_ACCOUNT: "La contraseña de esta cuenta no se puede cambiar desde aquí.",
  ACCOUNT_DISABLED: "Su cuenta está deshabilitada.",
  ACCOUNT_LOCKED: "Su cuenta está bloqueada.",
  ONPREM_PERMISSION_DENIED: "No se puede cambiar su contraseña en este momento. Póngase en contacto con el departamento de soporte técnico.",
  ONPREM_DIRECTORY_UNAVAILABLE: "No se puede cambiar su contraseña en este momento. Inténtelo de nuevo más tarde.",
  ONPREM_CONFIGURATION_ERROR: "No se puede cambiar su contraseña en este momento. Póngase en contacto con el departamento de soporte técnico.",
} as const satisfies Record<ErrorCode, string>;

/** The message an end user sees for a code, in the given language. */
export function userMessage(code: ErrorCode, language: Language): string {
  return language === "es" ? USER_MESSAGES_ES[code] : ERROR_CATALOG[code].userMessage;
}
