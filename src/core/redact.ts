// Header redaction: secrets are replaced before anything is stored, logged or shown (PRODUCT.md, "Safety defaults").
// Pure: it returns a copy and never touches its input, so a caller can redact a view and still forward the original.

export const REDACTED = '[REDACTED]';

/** Headers that always carry credentials, lower-case. */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
]);

/**
 * Names that look like they carry a secret even though we have never heard of them (x-csrf-token,
 * x-session-id, x-client-secret, x-apikey): redacting an innocent header costs less than leaking a key.
 */
export const SECRET_NAME_PATTERN = /token|secret|session|password|api[-_]?key/i;

export type HeaderValue = string | number | readonly string[] | undefined;
export type HeaderRecord = Readonly<Record<string, HeaderValue>>;

/** True when a header of this name must never be shown; `extra` names come from the config (any case). */
export function isSecretHeader(name: string, extra?: readonly string[]): boolean {
  const lower = name.toLowerCase();
  if (SECRET_HEADERS.has(lower) || SECRET_NAME_PATTERN.test(lower)) return true;
  if (extra === undefined) return false;
  for (const e of extra) if (e.toLowerCase() === lower) return true;
  return false;
}

/**
 * A copy of the headers with every secret value replaced by `[REDACTED]`.
 * Accepts the raw flat list (`[name, value, name, value, …]`, as in `req.rawHeaders`) or a record
 * (`req.headers`) and returns the same shape; array values keep their length so a reader still sees
 * how many cookies were sent without seeing one.
 */
export function redactHeaders(raw: readonly string[], extra?: readonly string[]): string[];
export function redactHeaders(raw: HeaderRecord, extra?: readonly string[]): Record<string, HeaderValue>;
export function redactHeaders(
  raw: readonly string[] | HeaderRecord,
  extra?: readonly string[],
): string[] | Record<string, HeaderValue> {
  if (isStringList(raw)) {
    const out = raw.slice();
    for (let i = 0; i + 1 < out.length; i += 2) {
      if (isSecretHeader(out[i]!, extra)) out[i + 1] = REDACTED;
    }
    return out;
  }
  const out: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(raw)) {
    const safe = value === undefined || !isSecretHeader(name, extra) ? value : redactValue(value);
    // defineProperty, not assignment: a header literally named __proto__ must stay a plain key.
    Object.defineProperty(out, name, { value: safe, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function redactValue(value: string | number | readonly string[]): string | string[] {
  return typeof value === 'object' ? value.map(() => REDACTED) : REDACTED;
}

function isStringList(raw: readonly string[] | HeaderRecord): raw is readonly string[] {
  return Array.isArray(raw);
}
