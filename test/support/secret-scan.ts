/**
 * Finds secrets in captured text: each secret in plain UTF-8 and in the forms it could take
 * on the way out (base64 of UTF-8 and of UTF-16LE — AD's unicodePwd form —, hex, JSON and
 * URL escaping).
 */
/** encodeURIComponent throws on a lone surrogate; such a string is escaped as its UTF-8 (with U+FFFD) would be. */
function urlEscaped(secret: string): string {
  try {
    return encodeURIComponent(secret);
  } catch {
    return encodeURIComponent(secret.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD"));
  }
}

export function secretForms(secret: string): string[] {
  const utf8 = Buffer.from(secret, "utf8");
  const utf16 = Buffer.from(secret, "utf16le");
  const quoted16 = Buffer.from(`"${secret}"`, "utf16le");
  const forms = new Set<string>([
    secret,
    utf8.toString("base64"),
    utf8.toString("base64url"),
    utf16.toString("base64"),
    quoted16.toString("base64"),
    utf8.toString("hex"),
    utf16.toString("hex"),
    JSON.stringify(secret).slice(1, -1),
    urlEscaped(secret),
  ]);
  // Short secrets would match by chance inside other base64 text; demand at least 8 characters.
  return [...forms].filter((f) => f.length >= 8);
}

export interface SecretFinding {
  secretIndex: number;
  form: string;
  where: string;
}

export function findSecrets(secrets: readonly string[], haystacks: Record<string, string>): SecretFinding[] {
  const findings: SecretFinding[] = [];
  secrets.forEach((secret, secretIndex) => {
    for (const form of secretForms(secret)) {
      for (const [where, text] of Object.entries(haystacks)) {
        if (text.includes(form)) findings.push({ secretIndex, form: form === secret ? "plain" : "encoded", where });
      }
    }
  });
  return findings;
}
