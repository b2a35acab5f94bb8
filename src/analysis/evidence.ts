// Evidence: a request kept with a finding, redacted as it is built (secret headers, secret query values),
// the body cut to a preview. Nothing a client sent reaches a finding, the store or an alert unredacted.
import { REDACTED, SECRET_NAME_PATTERN, isSecretHeader } from '../core/redact.ts';
import type { Evidence, RequestEvent } from './types.ts';

const MAX_TARGET = 2048;
const MAX_BODY = 1024;
const MAX_MATCH = 200;

/** Replaces the values of query parameters whose names look secret (`token`, `session`, `api_key`, ...). */
export function redactQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        /* keep the raw name */
      }
      return eq >= 0 && SECRET_NAME_PATTERN.test(decoded) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
}

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/** A body prefix as text when it is UTF-8 text, else a placeholder with its size. */
function bodyPreview(body: Buffer | undefined, total: number): string | undefined {
  if (!body || body.length === 0) return undefined;
  const slice = body.subarray(0, MAX_BODY);
  const text = slice.toString('utf8');
  // U+FFFD means invalid UTF-8 (or a cut multi-byte character at the very end)
  const bad = text.slice(0, -1).includes('\uFFFD');
  if (bad) return `<${total} bytes>`;
  return total > slice.length ? `${text}…` : text;
}

/** The evidence of one request, redacted; `match` says what a signature matched (its text cut short). */
export function buildEvidence(e: RequestEvent, match?: Evidence['match']): Evidence {
  const headers: string[] = [];
  for (let i = 0; i + 1 < e.headers.length; i += 2) {
    const name = e.headers[i]!;
    headers.push(name, isSecretHeader(name) ? REDACTED : cut(e.headers[i + 1]!, 512));
  }
  const query = redactQuery(e.query);
  const body = bodyPreview(e.body, e.bodyBytes);
  return {
    at: e.at,
    method: e.method,
    target: cut(query ? `${e.path}?${query}` : e.path, MAX_TARGET),
    source: e.source,
    headers,
    ...(body !== undefined ? { body } : {}),
    status: e.status,
    ...(match ? { match: { ...match, text: match.name && isSecretHeader(match.name) ? REDACTED : cut(match.text, MAX_MATCH) } } : {}),
  };
}
