// The compare processor: turns trials into compared trials (endpoint name, one PairResult per candidate and
// secondary against the primary) and folds them into the aggregator. Pure and synchronous: it runs on the
// compare worker thread, or on the main thread when the worker is off; either way it never sees a socket.
import type { Exchange, RawHeaders } from '../core/exchange.ts';
import { createAggregator, type Aggregator, type OtherSide, type SideResult } from './aggregate.ts';
import { createEndpointNamer, type EndpointNamer } from './endpoint.ts';
import { comparePair, compilePairOptions, type PairOptions, type Side, type SideMemo } from './pair.ts';
import type { CompareBatch } from './types.ts';

/** What the processor needs to know about one route (plain data: it crosses to the worker thread). */
export interface RouteCompareSettings {
  readonly route: string;
  readonly ignoreHeaders: readonly string[];
  readonly ignore: readonly string[];
  readonly arrays: Readonly<Record<string, string>>;
  readonly tolerance: { readonly absolute: number; readonly relative: number };
  readonly headers: boolean;
  readonly endpoints: readonly string[];
  readonly maxEndpoints: number;
}

export interface ProcessorSettings {
  readonly routes: readonly RouteCompareSettings[];
  readonly limits: {
    readonly maxDecodedBytes: number;
    readonly maxExpansionRatio: number;
    readonly maxJsonBytes: number;
    readonly maxDepth: number;
    readonly maxDiffs: number;
    readonly maxNodes: number;
  };
  readonly examples: { readonly first: number; readonly reservoir: number };
  readonly redact: { readonly headers: readonly string[]; readonly jsonPaths: readonly string[] };
}

/** A trial as it crosses to the worker: only what compare reads, bodies as bytes. */
export interface TrialMessage {
  readonly id: string;
  readonly route: string;
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly headers: RawHeaders;
  readonly body?: Uint8Array;
  readonly primary: ExchangeMessage;
  readonly others: readonly ExchangeMessage[];
}

export interface ExchangeMessage {
  readonly role: Exchange['role'];
  readonly upstream: string;
  readonly status?: number;
  readonly headers?: RawHeaders;
  readonly body?: Uint8Array;
  readonly bodyBytes: number;
  readonly truncated: boolean;
  readonly totalMs: number;
  readonly failed: boolean;
}

export function exchangeMessage(e: Exchange): ExchangeMessage {
  return {
    role: e.role,
    upstream: e.upstream,
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(e.headers ? { headers: e.headers } : {}),
    ...(e.body ? { body: e.body } : {}),
    bodyBytes: e.bodyBytes,
    // a body kept shorter than it was is compared by length and hash only
    truncated: e.truncated || (e.body?.length ?? 0) < e.bodyBytes,
    totalMs: e.timings.totalMs,
    failed: e.error !== undefined || e.status === undefined,
  };
}

const asBuffer = (u: Uint8Array | undefined): Buffer | undefined =>
  u === undefined ? undefined : Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);

interface RouteState {
  readonly namer: EndpointNamer;
  readonly pair: PairOptions;
  readonly headers: boolean;
  /** what the namer was built from: a reload keeps the namer (and what it learnt) when unchanged */
  readonly namerKey: string;
}

export interface ProcessorStats {
  /** trials compared since start */
  readonly trials: number;
  /** trials of a route without compare settings (a reload removed them) */
  readonly unknownRoute: number;
  /** pairs compared since start */
  readonly pairs: number;
}

export class CompareProcessor {
  #routes = new Map<string, RouteState>();
  readonly #aggregator: Aggregator;
  #trials = 0;
  #unknown = 0;
  #pairs = 0;

  constructor(settings: ProcessorSettings, opts: { now: () => number; random: () => number }) {
    this.#aggregator = createAggregator({
      now: opts.now,
      random: opts.random,
      firstN: settings.examples.first,
      reservoir: settings.examples.reservoir,
      secretHeaders: settings.redact.headers,
      redactJsonPaths: settings.redact.jsonPaths,
    });
    this.apply(settings);
  }

  /** New route settings (a reload). Endpoint namers of unchanged routes keep what they learnt. */
  apply(settings: ProcessorSettings): void {
    const next = new Map<string, RouteState>();
    for (const r of settings.routes) {
      const old = this.#routes.get(r.route);
      const pair = compilePairOptions({
        ignoreHeaders: [...r.ignoreHeaders],
        ignore: [...r.ignore],
        arrays: { ...r.arrays } as Record<string, 'index' | 'set' | `key:${string}`>,
        tolerance: r.tolerance,
        limits: settings.limits,
      });
      const namerKey = JSON.stringify([r.endpoints, r.maxEndpoints]);
      const namer = old && old.namerKey === namerKey ? old.namer : createEndpointNamer({ templates: r.endpoints, maxEndpoints: r.maxEndpoints });
      next.set(r.route, { namer, pair, headers: r.headers, namerKey });
    }
    this.#routes = next;
  }

  process(t: TrialMessage): void {
    const state = this.#routes.get(t.route);
    if (!state) {
      this.#unknown++;
      return;
    }
    this.#trials++;
    const endpoint = state.namer.name(t.method, t.path);
    const primary = side(t.primary);
    // the primary is compared with every other side: decoded and parsed once
    const left = pairSide(t.primary, {});
    const others: OtherSide[] = t.others.map((o) => {
      const s = side(o);
      const role = o.role === 'secondary' ? 'secondary' : 'candidate';
      if (primary.failed || s.failed) return { ...s, role };
      this.#pairs++;
      let result = comparePair(left, pairSide(o), state.pair);
      if (!state.headers) result = { ...result, diffs: result.diffs.filter((d) => !d.field.startsWith('header.')) };
      return { ...s, role, result };
    });
    const body = asBuffer(t.body);
    this.#aggregator.add({
      trialId: t.id,
      route: t.route,
      endpoint,
      at: t.at,
      request: { method: t.method, path: t.path, headers: t.headers, ...(body ? { body } : {}) },
      primary,
      others,
    });
  }

  flush(): CompareBatch | undefined {
    return this.#aggregator.flush();
  }

  stats(): ProcessorStats & ReturnType<Aggregator['stats']> {
    return { trials: this.#trials, unknownRoute: this.#unknown, pairs: this.#pairs, ...this.#aggregator.stats() };
  }
}

function side(e: ExchangeMessage): SideResult {
  const body = asBuffer(e.body);
  return {
    upstream: e.upstream,
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(e.headers ? { headers: e.headers } : {}),
    ...(body ? { body } : {}),
    truncated: e.truncated,
    totalMs: e.totalMs,
    failed: e.failed,
  };
}

function pairSide(e: ExchangeMessage, memo?: SideMemo): Side {
  const body = asBuffer(e.body);
  return {
    ...(memo ? { memo } : {}),
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(e.headers ? { headers: e.headers } : {}),
    ...(body ? { body } : {}),
    bodyBytes: e.bodyBytes,
    truncated: e.truncated,
  };
}

/** The processor settings of a config's compare-enabled routes. */
export function processorSettings(
  routes: ReadonlyArray<{ readonly name: string; readonly compare?: Omit<RouteCompareSettings, 'route'> & object }>,
  global: Omit<ProcessorSettings, 'routes'>,
): ProcessorSettings {
  return {
    routes: routes.flatMap((r) =>
      r.compare
        ? [
            {
              route: r.name,
              ignoreHeaders: r.compare.ignoreHeaders,
              ignore: r.compare.ignore,
              arrays: r.compare.arrays,
              tolerance: r.compare.tolerance,
              headers: r.compare.headers,
              endpoints: r.compare.endpoints,
              maxEndpoints: r.compare.maxEndpoints,
            },
          ]
        : [],
    ),
    limits: global.limits,
    examples: global.examples,
    redact: global.redact,
  };
}
