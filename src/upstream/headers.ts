// Header rules shared by the primary and the copies: hop-by-hop removal (RFC 9110 §7.6.1), forwarding headers.
import type { RawHeaders } from '../core/exchange.ts';

/** Headers that describe one connection, never the message (RFC 9110 §7.6.1, plus legacy Proxy-Connection, and
 * HTTP2-Settings, which only means something next to an h2c Upgrade on that same connection: RFC 7540 §3.2.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Headers a Connection option may never remove: routing and framing, and what tapwire itself decides. */
const PROTECTED = new Set(['host', 'content-length', 'content-type']);

/** The marker on every copy; a client can never set it (reliability-anchors §4.2). */
export const MIRROR_MARKER = 'x-tapwire-mirror';

const DECIDED = new Set(['host', 'content-length', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', MIRROR_MARKER]);

/**
 * Whether tapwire itself decides this (lower-case) header on the way to an upstream: framing, Host, hop-by-hop
 * headers, Expect, the X-Forwarded-* it sets, the mirror marker. A client header that only differs from one of these
 * by `_` for `-` is refused (reliability-anchors §2 row 7): CGI-style servers map both spellings to one variable.
 */
export function decidedByTapwire(lower: string): boolean {
  return HOP_BY_HOP.has(lower) || DECIDED.has(lower) || forProxies(lower);
}

/**
 * `Proxy-*` headers address a proxy, never the origin (reliability-anchors §2 row 14), and `Proxy` alone is httpoxy
 * (CVE-2016-5385: CGI turns it into HTTP_PROXY, the outbound proxy of the application). None is forwarded.
 */
function forProxies(lower: string): boolean {
  return lower.startsWith('proxy') && (lower.length === 5 || lower.charCodeAt(5) === 0x2d);
}

/** Lower-case names listed in Connection headers (RFC 9110 §7.6.1: these are hop-by-hop too). */
function connectionOptions(raw: RawHeaders): Set<string> | undefined {
  let names: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase();
      if (name && !PROTECTED.has(name)) (names ??= new Set()).add(name);
    }
  }
  return names;
}

export interface ForwardContext {
  /** the peer address to append to X-Forwarded-For */
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
  /** headers tapwire strips from client requests on top of hop-by-hop ones (lower-case) */
  readonly strip?: ReadonlySet<string>;
  /** keep `Transfer-Encoding: chunked` because the body is streamed without a length */
  readonly chunked: boolean;
}

/**
 * The request headers sent to the primary: client headers in their order, minus hop-by-hop ones, Proxy-*, the
 * mirror marker and Expect (tapwire answered it), then X-Forwarded-For/-Proto/-Host. Host is preserved.
 */
export function requestHeaders(raw: RawHeaders, ctx: ForwardContext): string[] {
  const named = connectionOptions(raw);
  const out: string[] = [];
  let xff: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === 'expect' || lower === MIRROR_MARKER || forProxies(lower)) continue;
    if (named?.has(lower) || ctx.strip?.has(lower)) continue;
    if (lower === 'x-forwarded-for') {
      xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      continue;
    }
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host') continue;
    if (lower === 'host') host = raw[i + 1]!;
    out.push(name, raw[i + 1]!);
  }
  if (ctx.chunked) out.push('Transfer-Encoding', 'chunked');
  out.push('X-Forwarded-For', xff === undefined ? ctx.clientAddress : `${xff}, ${ctx.clientAddress}`);
  out.push('X-Forwarded-Proto', ctx.proto);
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  return out;
}

/** The response headers given to the client: the primary's, minus hop-by-hop ones (Node re-frames the body). */
export function responseHeaders(raw: RawHeaders): string[] {
  const named = connectionOptions(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
