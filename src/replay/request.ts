// A captured entry → the request a replay sends: the recorded method, path with query, headers and body, minus
// what belongs to the recorded connection (hop-by-hop headers, Content-Length, Host, HTTP/2 pseudo-headers), plus
// the --header overrides. Redacted values (`hmac:…`) are sent as recorded: a target that needs a real credential
// gets it from --header. Pure.
import type { HarEntry } from '../capture/har.ts';

export interface ReplayRequest {
  readonly method: string;
  /** path and query, as recorded */
  readonly path: string;
  /** flat [name, value, …] */
  readonly headers: string[];
  readonly body?: Buffer;
}

/** Why an entry was not sent. */
export type SkipReason = 'filtered' | 'body_truncated' | 'bad_url' | 'bad_method';

/** One `--header 'Name: value'`: set on every request, replacing a recorded header of the same name. */
export interface HeaderOverride {
  readonly name: string;
  readonly lower: string;
  readonly value: string;
}

export class HeaderError extends Error {}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseHeaderOverride(spec: string): HeaderOverride {
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new HeaderError(`--header ${JSON.stringify(spec)}: expected 'Name: value'`);
  const name = spec.slice(0, colon).trim();
  const value = spec.slice(colon + 1).trim();
  if (!TOKEN.test(name)) throw new HeaderError(`--header ${JSON.stringify(spec)}: ${JSON.stringify(name)} is not a header name`);
  if (/[\r\n\0]/.test(value)) throw new HeaderError(`--header ${JSON.stringify(name)}: the value may not contain CR, LF or NUL`);
  return { name, lower: name.toLowerCase(), value };
}

/** Headers that describe the recorded connection or message framing, never replayed as recorded. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'host',
  'expect',
  'http2-settings',
]);

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The path and query of a recorded URL (absolute, or already origin-form). */
export function pathOf(url: string): string | undefined {
  if (url.startsWith('/')) return url;
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  } catch {
    return undefined;
  }
}

export function replayRequest(entry: HarEntry, overrides: readonly HeaderOverride[]): ReplayRequest | SkipReason {
  const r = entry.request;
  if (!METHOD.test(r.method)) return 'bad_method';
  const path = pathOf(r.url);
  if (path === undefined) return 'bad_url';
  const post = r.postData;
  // A body cut at capture.maxBodyBytes cannot be replayed faithfully: the target would read a different request.
  if (post?._truncated === true) return 'body_truncated';
  const replaced = new Set(overrides.map((o) => o.lower));
  const headers: string[] = [];
  for (const h of r.headers) {
    const lower = h.name.toLowerCase();
    if (lower.startsWith(':') || DROPPED.has(lower) || replaced.has(lower)) continue;
    if (/[\r\n\0]/.test(h.value) || !TOKEN.test(h.name)) continue;
    headers.push(h.name, h.value);
  }
  for (const o of overrides) headers.push(o.name, o.value);
  const body = post && post.text !== '' ? Buffer.from(post.text, post.encoding === 'base64' ? 'base64' : 'utf8') : undefined;
  return { method: r.method, path, headers, ...(body ? { body } : {}) };
}
