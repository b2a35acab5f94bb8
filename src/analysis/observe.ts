// The analysis side of the proxy hooks: for every request of an analysed route, keep what the detectors need
// (method, path, query, source, a few headers, a bounded prefix of the body) and, once the primary answered,
// hand one RequestEvent to the sink. Nothing here waits or grows: the body prefix is capped per request.
import type { Exchange } from '../core/exchange.ts';
import type { ProxyHooks, RequestInfo, RequestObserver } from '../core/hooks.ts';
import { createEndpointNamer, type EndpointNamer } from '../compare/endpoint.ts';
import type { RequestEvent } from './types.ts';

/** Request headers analysis looks at (lower-case). Secret ones are matched, never stored (evidence.ts). */
export const ANALYSED_HEADERS: ReadonlySet<string> = new Set(['user-agent', 'referer', 'content-type', 'origin', 'x-forwarded-for', 'cookie', 'authorization', 'x-api-version', 'accept']);

/** Header names as clients spell them → the analysed lower-case name, or null: names repeat, lower-casing each costs. */
const seenNames = new Map<string, string | null>();
const SEEN_NAMES_MAX = 512;

function analysedName(raw: string): string | undefined {
  const known = seenNames.get(raw);
  if (known !== undefined) return known ?? undefined;
  const lower = raw.toLowerCase();
  const name = ANALYSED_HEADERS.has(lower) ? lower : null;
  if (seenNames.size >= SEEN_NAMES_MAX) seenNames.clear();
  seenNames.set(raw, name);
  return name ?? undefined;
}

export interface AnalysisRouteSettings {
  readonly route: string;
  readonly endpoints: readonly string[];
  readonly maxEndpoints: number;
}

export interface AnalysisHooksOptions {
  readonly routes: readonly AnalysisRouteSettings[];
  /** request body bytes kept for signatures */
  readonly bodyBytes: number;
  readonly sink: (e: RequestEvent) => void;
}

export class AnalysisHooks implements ProxyHooks {
  #routes = new Map<string, { settings: AnalysisRouteSettings; namer: EndpointNamer; key: string }>();
  #bodyBytes: number;
  readonly #sink: (e: RequestEvent) => void;

  constructor(opts: AnalysisHooksOptions) {
    this.#sink = opts.sink;
    this.#bodyBytes = opts.bodyBytes;
    this.apply(opts.routes, opts.bodyBytes);
  }

  /** New settings (a reload): unchanged routes keep their endpoint namers. */
  apply(routes: readonly AnalysisRouteSettings[], bodyBytes: number): void {
    const next = new Map<string, { settings: AnalysisRouteSettings; namer: EndpointNamer; key: string }>();
    for (const r of routes) {
      const key = JSON.stringify([r.endpoints, r.maxEndpoints]);
      const old = this.#routes.get(r.route);
      next.set(r.route, { settings: r, key, namer: old && old.key === key ? old.namer : createEndpointNamer({ templates: r.endpoints, maxEndpoints: r.maxEndpoints }) });
    }
    this.#routes = next;
    this.#bodyBytes = bodyBytes;
  }

  observe(info: RequestInfo): RequestObserver | undefined {
    const route = this.#routes.get(info.route);
    if (!route) return undefined;
    return new AnalysisObserver(info, route.namer, this.#bodyBytes, this.#sink);
  }
}

/** One request followed for analysis: one object per request (no closures), built on every analysed request. */
class AnalysisObserver implements RequestObserver {
  readonly wantsPrimaryBody = false;
  readonly #info: RequestInfo;
  readonly #namer: EndpointNamer;
  readonly #cap: number;
  readonly #sink: (e: RequestEvent) => void;
  #chunks: Buffer[] | undefined;
  #kept = 0;
  #bodyBytes = 0;

  constructor(info: RequestInfo, namer: EndpointNamer, cap: number, sink: (e: RequestEvent) => void) {
    this.#info = info;
    this.#namer = namer;
    this.#cap = cap;
    this.#sink = sink;
  }

  data(chunk: Buffer): void {
    this.#bodyBytes += chunk.length;
    const cap = this.#cap;
    if (this.#kept >= cap) return;
    const part = this.#kept + chunk.length <= cap ? chunk : chunk.subarray(0, cap - this.#kept);
    (this.#chunks ??= []).push(part);
    this.#kept += part.length;
  }

  end(): void {}

  abort(): void {}

  primaryDone(exchange: Exchange): void {
    const info = this.#info;
    const q = info.path.indexOf('?');
    const headers: string[] = [];
    for (let i = 0; i + 1 < info.headers.length; i += 2) {
      const lower = analysedName(info.headers[i]!);
      if (lower !== undefined) headers.push(lower, info.headers[i + 1]!);
    }
    // Built field by field, optional fields only when present: this runs once per analysed request.
    const e: { -readonly [K in keyof RequestEvent]: RequestEvent[K] } = {
      at: info.at,
      route: info.route,
      endpoint: this.#namer.name(info.method, info.path),
      method: info.method,
      path: q < 0 ? info.path : info.path.slice(0, q),
      query: q < 0 ? '' : info.path.slice(q + 1),
      source: info.source,
      headers,
      bodyBytes: this.#bodyBytes,
      upstream: exchange.upstream,
      status: exchange.error ? 0 : (exchange.status ?? 0),
      latencyMs: exchange.timings.totalMs,
    };
    const chunks = this.#chunks;
    if (chunks) e.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (exchange.error) e.error = exchange.error;
    this.#sink(e);
  }
}
