// The copy's request headers: the forwarded request's, with the mirror's header rules, host mode, a new
// trace span and the marker. Pure.
import { randomBytes } from 'node:crypto';
import type { HostMode, ResolvedMirror } from '../config/types.ts';
import type { RawHeaders } from '../core/exchange.ts';

/** Framing is recomputed for the copy (its body is complete), Expect never goes to a mirror. */
const RECOMPUTED = new Set(['content-length', 'transfer-encoding', 'expect', 'host']);

export const MARKER = 'x-tapwire-mirror';

function hostFor(mode: HostMode, clientHost: string, upstreamHost: string): string {
  switch (mode.kind) {
    case 'preserve':
      return clientHost || upstreamHost;
    case 'upstream':
      return upstreamHost;
    case 'literal':
      return mode.value;
    case 'suffix': {
      // Envoy's convention: cluster1 becomes cluster1-shadow; the port stays where it was.
      const h = clientHost || upstreamHost;
      const m = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(h);
      return m ? `${m[1]}${mode.suffix}${m[2] ?? ''}` : h + mode.suffix;
    }
  }
}

/** W3C traceparent with the same trace id and a fresh span id: the copy is a sibling span of the primary. */
export function childTraceparent(value: string): string | undefined {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value.trim());
  if (!m) return undefined;
  return `${m[1]}-${m[2]}-${randomBytes(8).toString('hex')}-${m[4]}`;
}

export function copyHeaders(forwarded: RawHeaders, mirror: ResolvedMirror, clientHost: string, upstreamHost: string): string[] {
  const out: string[] = ['host', hostFor(mirror.host, clientHost, upstreamHost)];
  const set = mirror.setHeaders;
  const remove = mirror.removeHeaders;
  for (let i = 0; i < forwarded.length; i += 2) {
    const name = forwarded[i]!;
    const lower = name.toLowerCase();
    if (RECOMPUTED.has(lower) || lower === MARKER) continue;
    if (remove.length && remove.includes(lower)) continue;
    if (set.length && set.some(([n]) => n === lower)) continue;
    let value = forwarded[i + 1]!;
    if (lower === 'traceparent') value = childTraceparent(value) ?? value;
    out.push(name, value);
  }
  for (const [n, v] of set) out.push(n, v);
  out.push(MARKER, '1');
  return out;
}
