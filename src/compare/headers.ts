// Response header diff over RawHeaders (flat [name, value, ...]): names case-insensitive, repeated fields
// joined, a default ignore list of headers that differ on every response (dates, ids, traces, caches,
// framing) plus the user's extras. Path and field `header.<lower-case name>`. Pure.
import type { RawHeaders } from '../core/exchange.ts';
import { REDACTED, isSecretHeader } from '../core/redact.ts';
import type { FieldDiff } from './types.ts';
import { PREVIEW_CHARS, cut } from './diff.ts';

/**
 * Headers never compared by default: they differ per response, per instance or per hop without saying
 * anything about the service's behaviour. content-length is left out because the bodies are compared;
 * content-encoding is compared (a candidate that stops compressing is worth seeing) though bodies are
 * compared decoded. set-cookie is NOT here: it is compared by cookie names only (see cookieNames).
 */
export const DEFAULT_IGNORED_HEADERS: readonly string[] = Object.freeze([
  // time and caching validators
  'date',
  'age',
  'expires',
  'last-modified',
  'etag',
  // the server and its timing
  'server',
  'x-runtime',
  'x-response-time',
  'server-timing',
  'x-envoy-upstream-service-time',
  'x-kong-upstream-latency',
  'x-kong-proxy-latency',
  // request ids and tracing
  'x-request-id',
  'request-id',
  'x-correlation-id',
  'x-amzn-trace-id',
  'x-amzn-requestid',
  'x-amz-request-id',
  'x-amz-id-2',
  'x-trace-id',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-cloud-trace-context',
  // framing and hop-by-hop
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'via',
  // CDNs and caches in front
  'cf-ray',
  'cf-cache-status',
  'x-served-by',
  'x-cache',
  'x-cache-hits',
  'x-timer',
  'x-amz-cf-id',
  'x-amz-cf-pop',
  // tapwire's own marker
  'x-tapwire-mirror',
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface HeaderRules {
  /** lower-case names never compared */
  readonly ignored: ReadonlySet<string>;
}

/** The default ignore list plus `extra` names (any case). Throws on a name that is not an HTTP token. */
export function compileHeaderRules(extra: readonly string[] = []): HeaderRules {
  const ignored = new Set(DEFAULT_IGNORED_HEADERS);
  for (const name of extra) {
    if (typeof name !== 'string' || !TOKEN.test(name)) throw new TypeError(`ignored header ${JSON.stringify(name)} is not a valid header name`);
    ignored.add(name.toLowerCase());
  }
  return { ignored };
}

/** lower-case name → value; repeated fields joined with ', ' (set-cookie with '\n', as it may contain commas). */
export function headerMap(raw: RawHeaders | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (raw === undefined) return m;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!.trim();
    const prev = m.get(name);
    m.set(name, prev === undefined ? value : `${prev}${name === 'set-cookie' ? '\n' : ', '}${value}`);
  }
  return m;
}

/**
 * The cookie names a set-cookie value sets, sorted and joined: values (session ids) and attributes
 * (expiry dates) differ on every response and are secrets, but a cookie that stopped (or started) being
 * set is a real change.
 */
export function cookieNames(joined: string): string {
  const names: string[] = [];
  for (const line of joined.split('\n')) {
    const eq = line.indexOf('=');
    const semi = line.indexOf(';');
    const end = eq === -1 ? (semi === -1 ? line.length : semi) : semi !== -1 && semi < eq ? semi : eq;
    const name = line.slice(0, end).trim();
    if (name !== '') names.push(name);
  }
  return names.sort().join(', ');
}

function shown(name: string, value: string): string {
  return isSecretHeader(name) ? REDACTED : cut(value, PREVIEW_CHARS);
}

/**
 * The differences between two header maps (from headerMap), sorted by name. Secret headers (core/redact)
 * are compared but their values are shown as [REDACTED].
 */
export function diffHeaders(left: ReadonlyMap<string, string>, right: ReadonlyMap<string, string>, rules: HeaderRules): FieldDiff[] {
  const out: FieldDiff[] = [];
  for (const [name, lv0] of left) {
    if (rules.ignored.has(name)) continue;
    const rv0 = right.get(name);
    const path = `header.${name}`;
    const cookie = name === 'set-cookie';
    const lv = cookie ? cookieNames(lv0) : lv0;
    if (rv0 === undefined) {
      out.push({ path, field: path, kind: 'removed', left: cookie ? lv : shown(name, lv) });
      continue;
    }
    const rv = cookie ? cookieNames(rv0) : rv0;
    if (lv !== rv) out.push({ path, field: path, kind: 'changed', left: cookie ? lv : shown(name, lv), right: cookie ? rv : shown(name, rv) });
  }
  for (const [name, rv0] of right) {
    if (rules.ignored.has(name) || left.has(name)) continue;
    const path = `header.${name}`;
    out.push({ path, field: path, kind: 'added', right: name === 'set-cookie' ? cookieNames(rv0) : shown(name, rv0) });
  }
  if (out.length > 1) out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}
