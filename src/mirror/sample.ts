// Sampling: pure and deterministic. A sticky key gets the same decision on every request, restart and
// instance, and because the hash depends on the key alone, a mirror at 10% gets a subset of the keys a
// mirror at 30% gets ("the same X% to several targets", asked of Envoy).
import type { SampleBy } from '../config/types.ts';
import type { RequestInfo } from '../core/hooks.ts';

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser so nearby keys spread evenly. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key's position in [0, 100). */
export function keyPoint(key: string): number {
  return (hashKey(key) / 0x1_0000_0000) * 100;
}

export interface SampleInput {
  readonly header: (lowerName: string) => string | undefined;
  readonly cookie: (name: string) => string | undefined;
  readonly query: (name: string) => string | undefined;
  readonly source: string;
}

/** The sticky key, or undefined when the request has none (then sampling falls back to random). */
export function sampleKey(by: SampleBy, input: SampleInput): string | undefined {
  switch (by.kind) {
    case 'random':
      return undefined;
    case 'header':
      return input.header(by.name);
    case 'cookie':
      return input.cookie(by.name);
    case 'query':
      return input.query(by.name);
    case 'source':
      return input.source || undefined;
  }
}

/** Whether to send a copy. `random` is injected (a number in [0, 1)) so tests are deterministic. */
export function shouldSample(percentage: number, key: string | undefined, random: () => number): boolean {
  if (percentage >= 100) return true;
  if (percentage <= 0) return false;
  const point = key === undefined ? random() * 100 : keyPoint(key);
  return point < percentage;
}

/** One cookie's value from a Cookie header (first occurrence), without decoding. */
export function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The sampling input of a request the proxy observed (header, cookie and query looked up on demand). */
export function sampleInputOf(info: RequestInfo): SampleInput {
  const header = (name: string): string | undefined => {
    for (let i = 0; i + 1 < info.headers.length; i += 2) if (info.headers[i]!.toLowerCase() === name) return info.headers[i + 1];
    return undefined;
  };
  let query: URLSearchParams | undefined;
  return {
    header,
    cookie: (n) => cookieValue(header('cookie'), n),
    query: (n) => {
      query ??= new URLSearchParams(info.path.includes('?') ? info.path.slice(info.path.indexOf('?') + 1) : '');
      return query.get(n) ?? undefined;
    },
    source: info.source,
  };
}

/** One policy's decision for a request (capture uses it: the same sticky keys as the mirrors). */
export function sampleRequest(policy: { readonly percentage: number; readonly sampleBy: SampleBy }, info: RequestInfo, random: () => number): boolean {
  if (policy.percentage >= 100) return true;
  return shouldSample(policy.percentage, sampleKey(policy.sampleBy, sampleInputOf(info)), random);
}
