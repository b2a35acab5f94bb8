// Request checks before routing: framing ambiguities, limits, the target form, and the client address.
// Strict llhttp already rejects most smuggling shapes; these are the ones it leaves to us.
import type { IncomingMessage } from 'node:http';
import type { Cidr, ResolvedLimits } from '../config/types.ts';
import type { ErrorCode } from '../core/errors.ts';
import { decidedByTapwire } from '../upstream/headers.ts';

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
  // llhttp also reads HTTP/0.9 request lines (no version, so a raw CR LF in the target splits it into "headers")
  // and any N.N version; what is forwarded is always HTTP/1.1, so only what can be re-framed as such is taken.
  const version = req.httpVersion;
  if (version !== '1.1' && version !== '1.0') return bad(`HTTP/${version} is not supported (HTTP/1.0 or HTTP/1.1 only)`);
  const raw = req.rawHeaders;
  if (raw.length > limits.maxHeaders * 2) {
    return { status: 431, code: 'TW_ERR_HEADERS_TOO_LARGE', message: `more than ${limits.maxHeaders} header fields` };
  }
  const url = req.url ?? '';
  if (url.length + req.method!.length + 10 > limits.maxRequestLineBytes) {
    return { status: 414, code: 'TW_ERR_URI_TOO_LONG', message: `request line longer than ${limits.maxRequestLineBytes} bytes` };
  }
  let seen: Set<string> | undefined;
  let underscored: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower.includes('_')) (underscored ??= []).push(lower);
    if (!SINGLETONS.has(lower)) continue;
    seen ??= new Set();
    if (seen.has(lower)) return bad(`duplicate ${lower} header`);
    seen.add(lower);
    if (lower === 'host' && !validHost(raw[i + 1]!)) return bad('invalid Host header');
  }
  // node's own check (requireHostHeader) answers a bare 400 that nobody counts: tapwire answers it itself.
  if (version === '1.1' && !seen?.has('host')) return bad('missing Host header');
  if (underscored) {
    // X_Forwarded_For, Content_Length, Transfer_Encoding... are one variable to a CGI-style upstream (HTTP_X_FORWARDED_FOR):
    // a second, unchecked copy of a header tapwire decides or of another header of the request (Envoy rejects them too).
    for (const lower of underscored) {
      const dashed = lower.replaceAll('_', '-');
      if (decidedByTapwire(dashed) || SINGLETONS.has(dashed)) return bad(`header ${lower} collides with ${dashed}`);
    }
    const spelled = new Map<string, string>();
    for (let i = 0; i < raw.length; i += 2) {
      const lower = raw[i]!.toLowerCase();
      const cgi = lower.replaceAll('_', '-');
      const other = spelled.get(cgi);
      if (other !== undefined && other !== lower) return bad(`header ${lower} collides with ${other}`);
      spelled.set(cgi, lower);
    }
  }
  const cl = req.headers['content-length'];
  // llhttp takes leading zeros; a parser that reads them as octal would frame 010 as 8 bytes (http-garden).
  if (cl !== undefined && !/^(?:0|[1-9][0-9]*)$/.test(cl.trim())) return bad('Content-Length must be a decimal number without leading zeros');
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    // llhttp accepts a final "chunked" after other codings; tapwire forwards only plain chunked framing.
    if (te.trim().toLowerCase() !== 'chunked') return bad('unsupported Transfer-Encoding');
    // HTTP/1.0 has no chunked coding: RFC 9112 §6.1 says to treat its framing as faulty.
    if (version === '1.0') return bad('Transfer-Encoding in an HTTP/1.0 request');
  }
  return undefined;
}

/** Host = uri-host [":" port]: letters, digits, '-', '.', '_' or an IPv6 literal; no userinfo, no path; port ≤ 65535. */
function validHost(h: string): boolean {
  const m = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(h);
  return m !== null && (m[1] === undefined || Number(m[1]) <= 65535);
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
  const pathname = q < 0 ? url : url.slice(0, q);
  const ambiguity = ambiguousPath(pathname);
  if (ambiguity) return bad(`ambiguous path: ${ambiguity}`);
  return q < 0 ? { path: url, pathname: url, rawQuery: '' } : { path: url, pathname, rawQuery: url.slice(q + 1) };
}

/**
 * Path policy (reliability-anchors §2 row 25): tapwire routes on, and forwards, exactly the path it received; it
 * never rewrites one. So that "exactly" means the same thing to tapwire and to an upstream that normalises
 * (RFC 3986 §6, Tomcat's `;` parameters, slash merging, backslashes), a path that normalisation would change is
 * refused: dot-segments (also with `;params`), empty segments (`//`), a backslash, and percent-escapes of `/`, `\`,
 * NUL or an unreserved character (`%2e`, `%61`, ...), which normalisers decode. Returns the reason, or undefined.
 */
export function ambiguousPath(pathname: string): string | undefined {
  if (pathname.includes('\\')) return 'backslash';
  if (pathname.includes('%')) {
    for (const m of pathname.matchAll(/%([0-9A-Fa-f]{2})/g)) {
      const c = parseInt(m[1]!, 16);
      if (c === 0x2f || c === 0x5c || c === 0 || UNRESERVED.test(String.fromCharCode(c))) return `escaped "${m[0]}"`;
    }
  }
  if (pathname.includes('//')) return 'empty segment';
  // A dot-segment starts right after a slash: most paths have no "/." and need no split.
  if (pathname.includes('/.')) {
    for (const seg of pathname.split('/')) {
      const name = seg.split(';', 1)[0];
      if (name === '.' || name === '..') return 'dot-segment';
    }
  }
  return undefined;
}
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

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
