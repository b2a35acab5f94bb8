// Route matching: pure. All given conditions must hold; the first matching route wins.
import type { ResolvedMatch, ResolvedRoute, StringMatch, ValueMatch } from '../config/types.ts';

/** What matching looks at. `header` returns the first value (lower-case name); `query` parses lazily. */
export interface MatchInput {
  readonly method: string;
  /** lower-case host without port ('' when absent) */
  readonly host: string;
  /** path without the query */
  readonly path: string;
  /** raw query string without '?' ('' when none) */
  readonly rawQuery: string;
  readonly header: (lowerName: string) => string | undefined;
  /** the client address after trusted-proxy resolution */
  readonly source: string;
}

export function stringMatches(m: StringMatch, s: string): boolean {
  switch (m.kind) {
    case 'exact':
      return s === m.value;
    case 'prefix':
      return s.startsWith(m.value);
    case 'regex':
      return m.test(s);
  }
}

function valueMatches(m: ValueMatch, value: string | undefined): boolean {
  if (m.kind === 'present') return value !== undefined;
  if (m.kind === 'absent') return value === undefined;
  return value !== undefined && stringMatches(m, value);
}

function queryValue(rawQuery: string, cache: { q?: URLSearchParams }, name: string): string | undefined {
  cache.q ??= new URLSearchParams(rawQuery);
  return cache.q.get(name) ?? undefined;
}

export function routeMatches(m: ResolvedMatch, input: MatchInput, cache: { q?: URLSearchParams } = {}): boolean {
  if (m.host) {
    // Anchored comparisons only: a substring host match routes api.example.com.evil.tld (CVE-2026-55602 class).
    if ('exact' in m.host ? input.host !== m.host.exact : !(input.host.endsWith(m.host.suffix) && input.host.length > m.host.suffix.length))
      return false;
  }
  if (m.methods && !m.methods.includes(input.method)) return false;
  if (m.path && !stringMatches(m.path, input.path)) return false;
  if (m.headers) {
    for (const [name, vm] of m.headers) if (!valueMatches(vm, input.header(name))) return false;
  }
  if (m.query) {
    for (const [name, vm] of m.query) if (!valueMatches(vm, queryValue(input.rawQuery, cache, name))) return false;
  }
  if (m.sources && !m.sources.some((c) => c.contains(input.source))) return false;
  return true;
}

export function matchRoute(routes: readonly ResolvedRoute[], input: MatchInput): ResolvedRoute | undefined {
  const cache = {};
  for (const r of routes) if (routeMatches(r.match, input, cache)) return r;
  return undefined;
}

/** Host header value → lower-case host without port ('' when absent); IPv6 literals keep their brackets. */
export function hostOnly(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  const h = hostHeader.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}
