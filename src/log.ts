/*
 * Every line this Worker logs goes through here, as one JSON object, with credentials removed
 * whatever produced the text: an error message from the driver can quote the connection string,
 * and a stack can quote anything. Two nets: the secret values this Worker was configured with, and
 * the shapes credentials take in text (`scheme://user:password@`, `password=...`, `Bearer ...`).
 */

const REDACTED = "[redacted]";

// Both nets, in order: a URL's user-info password, a key=value password, a bearer credential.
const CREDENTIAL_SHAPES: [RegExp, string][] = [
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@]*@/gi, `$1:${REDACTED}@`],
  [/(password=)[^\s&"']*/gi, `$1${REDACTED}`],
  [/(bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi, `$1${REDACTED}`],
];

// Text none of the shapes can match: each needs "://", "password=" or "bearer" in it. Most strings
// in a line (ids, outcomes, reasons) are of this kind, and one scan for all three is cheaper than
// the three replacements: the check's line is on every request.
const MAY_HOLD_A_SHAPE = /:\/\/|password=|bearer/i;

/** `text` with every secret value and every credential-shaped substring replaced. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let result = text;
  for (const secret of secrets) {
    // Very short values would blank out ordinary words; config refuses secrets that short anyway.
    if (secret.length >= 4 && result.includes(secret)) result = result.split(secret).join(REDACTED);
  }
  if (!MAY_HOLD_A_SHAPE.test(result)) return result;
  for (const [shape, replacement] of CREDENTIAL_SHAPES) result = result.replace(shape, replacement);
  return result;
}

/** One JSON log line: `console.log` for what happened, `console.error` for what went wrong. */
export function logEvent(
  level: "info" | "error",
  event: { event: string } & Record<string, unknown>,
  secrets: readonly string[] = [],
): void {
  const line = serialize(event, secrets);
  if (level === "error") console.error(line);
  else console.log(line);
}

/**
 * The line with every string in it redacted. Most lines hold nothing to redact (the check's line,
 * on every request, is ids, outcomes and a number), so the event is first written without a
 * replacer, the engine's fast path (a replacer cost about 0.01 ms of CPU per check), and that text
 * is kept when it shows no secret and no credential's shape: redacting each string could not have
 * changed it. JSON writes the shapes' characters as they are, and a secret that JSON leaves as it
 * is appears in the text wherever it appears in a string. Any other line, or any secret JSON would
 * escape, takes the slow path: each string redacted before it is escaped, so a secret with a quote
 * or backslash in it is found as written.
 */
function serialize(event: Record<string, unknown>, secrets: readonly string[]): string {
  const plain = JSON.stringify(event);
  if (!MAY_HOLD_A_SHAPE.test(plain) && secrets.every((secret) => cannotBeIn(plain, secret))) return plain;
  return JSON.stringify(event, (_key, value: unknown) => (typeof value === "string" ? redact(value, secrets) : value));
}

/** Whether JSON text `text` certainly holds no string with `secret` in it (redact() skips values under 4 characters). */
function cannotBeIn(text: string, secret: string): boolean {
  if (secret.length < 4) return true;
  return JSON.stringify(secret) === `"${secret}"` && !text.includes(secret);
}
