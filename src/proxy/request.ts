// Request checks before routing: framing ambiguities, limits, the target form, and the client address.
// Strict llhttp already rejects most smuggling shapes; these are the ones it leaves to us.
import type { IncomingMessage } from 'node:http';
import type { Cidr, ResolvedLimits } from '../config/types.ts';
import type { ErrorCode } from '../core/errors.ts';

export interface Rejection {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface Target {
  /** origin-form path with query, as forwarded */
  readonly path: string;
  /** path without query */
  readonly pathname: string;
  /** query without '?' */
  readonly rawQuery: string;
}

const bad = (message: string): Rejection => ({ status: 400, code: 'TW_ERR_BAD_REQUEST', message });

/** Headers that must appear at most once: two of them are an ambiguity someone downstream resolves differently. */
const SINGLETONS = new Set(['host', 'content-length', 'transfer-encoding', 'authorization', 'content-type']);

export function checkRequest(req: IncomingMessage, limits: ResolvedLimits): Rejection | undefined {
  const raw = req.rawHeaders;
  if (raw.length > limits.maxHeaders * 2) {
    return { status: 431, code: 'TW_ERR_HEADERS_TOO_LARGE', message: `more than ${limits.maxHeaders} header fields` };
  }
  const url = req.url ?? '';
  if (url.length + req.method!.length + 10 > limits.maxRequestLineBytes) {
    return { status: 414, code: 'TW_ERR_URI_TOO_LONG', message: `request line longer than ${limits.maxRequestLineBytes} bytes` };
  }
  let seen: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (!SINGLETONS.has(lower)) continue;
    seen ??= new Set();
    if (seen.has(lower)) return bad(`duplicate ${lower} header`);
    seen.add(lower);
    if (lower === 'host' && !validHost(raw[i + 1]!)) return bad('invalid Host header');
  }
  const te = req.headers['transfer-encoding'];
  // llhttp accepts a final "chunked" after other codings; tapwire forwards only plain chunked framing.
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return bad('unsupported Transfer-Encoding');
  return undefined;
}

/** Host = uri-host [":" port]: letters, digits, '-', '.', '_' or an IPv6 literal; no userinfo, no path. */
function validHost(h: string): boolean {
  return /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/.test(h);
}

/** Origin-form or absolute-form (whose authority must equal Host: it never picks a destination). */
export function parseTarget(req: IncomingMessage): Target | Rejection {
  let url = req.url ?? '';
  if (!url.startsWith('/')) {
    const m = /^(https?):\/\/([^/?#]+)(.*)$/i.exec(url);
    if (!m) return bad('request target must be origin-form or absolute-form');
    const host = req.headers.host;
    if (host === undefined || m[2]!.toLowerCase() !== host.toLowerCase()) return bad('absolute-form authority differs from Host');
    url = m[3] === '' ? '/' : m[3]!;
    if (!url.startsWith('/')) {
      if (!url.startsWith('?')) return bad('invalid absolute-form target');
      url = `/${url}`;
    }
  }
  if (url.includes('#')) return bad('fragment in request target');
  const q = url.indexOf('?');
  return q < 0 ? { path: url, pathname: url, rawQuery: '' } : { path: url, pathname: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

export function isRejection(x: Target | Rejection): x is Rejection {
  return 'status' in x;
}

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) is reported as the IPv4 address. */
export function plainAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * The client address: the peer, unless the peer is a trusted proxy; then the right-most X-Forwarded-For
 * entry that is not itself trusted (entries left of it could be forged by the client).
 */
function within(ranges: readonly Cidr[], address: string): boolean {
  try {
    return ranges.some((c) => c.contains(address));
  } catch {
    return false; // a forged, unparsable X-Forwarded-For entry is never trusted
  }
}

export function clientAddress(peer: string, xff: string | undefined, trusted: readonly Cidr[]): string {
  if (trusted.length === 0 || xff === undefined || !within(trusted, peer)) return peer;
  const hops = xff.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i]!.trim());
    if (!hop) continue;
    if (!within(trusted, hop)) return hop;
  }
  return peer;
}
