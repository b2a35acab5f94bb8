// The performance view: per (route, endpoint, upstream) and per upstream, request rates over the last 1 and
// 5 minutes, latency percentiles and error ratios over a sliding 5-minute window; the slowest endpoints; the
// busiest sources. Pure: `observe(event)` counts (bucketed by the event's `at`), `snapshot(now)` reads.
//
// - Rates and error counts: 1-second buckets in a ring of 301 per series; a rate is the count of the complete
//   seconds of the window divided by the window (or by the seconds since the view's first event, while it is
//   younger than the window). Errors are 5xx answers and requests the primary did not answer (status 0).
// - Latency: HDR buckets (the compare histograms' layout: 1 µs..60 s, 3 significant digits) counted in a
//   sparse map per minute, a ring of 5 minutes per series (the current one and the 4 before), merged on
//   snapshot; percentiles use hdr's rule (the highest value equivalent to the sample at the percentile).
//   A minute holds at most 1024 distinct fine buckets; past that new values count at 2 digits (≤ 1% low).
// - Bounded: at most `maxEndpoints` endpoint series (more go to one `other` row) and `maxUpstreams` upstream
//   series; series idle for 5 minutes are dropped on snapshot. Busiest sources: one Space-Saving sketch of
//   `heavyHitters` counters per minute (5 of them, merged on snapshot), so a million distinct client
//   addresses cost 5 × heavyHitters counters. Sources are never metric labels (see perfMetricRows).
import * as hdr from 'hdr-histogram-js';
import { HIGHEST_US, LOWEST_US, toMicros } from '../compare/latency.ts';
import { SpaceSaving, mergeSketches } from './sketch.ts';
import { BucketRing, slotOf } from './window.ts';
import type { RequestEvent } from './types.ts';

export interface PerfOptions {
  /** endpoint series (route × endpoint × upstream) before the `other` row. Default 500 */
  readonly maxEndpoints?: number;
  /** upstream series before the `other` row. Default 64 */
  readonly maxUpstreams?: number;
  /** Space-Saving counters per minute for the busiest sources. Default 1000 */
  readonly heavyHitters?: number;
  /** busiest sources listed. Default 20 */
  readonly topSources?: number;
  /** slowest endpoints listed. Default 10 */
  readonly slowest?: number;
  /** an endpoint needs at least this many requests in the window to be among the slowest. Default 20 */
  readonly slowestMinCount?: number;
}

export interface PerfRow {
  readonly route: string;
  readonly endpoint: string;
  readonly upstream: string;
  /** req/s over the last minute */
  readonly rate1m: number;
  /** req/s over the last 5 minutes */
  readonly rate5m: number;
  /** latency percentiles in ms over the last 4–5 minutes; null without samples */
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  /** errors / requests over the last 5 minutes (0 without requests) */
  readonly errorRatio: number;
  /** requests over the last 5 minutes */
  readonly count: number;
  readonly errors: number;
}

export interface UpstreamPerfRow extends Omit<PerfRow, 'route' | 'endpoint'> {
  readonly upstream: string;
}

export interface SourceRow {
  readonly source: string;
  /** estimated requests over the last 4–5 minutes (Space-Saving: within ± error) */
  readonly count: number;
  readonly error: number;
  /** count / all requests in those minutes */
  readonly share: number;
  /** errors (5xx, no answer) counted while the source held its counters: a lower bound */
  readonly errorCount: number;
}

export interface PerfTotals extends Omit<PerfRow, 'route' | 'endpoint' | 'upstream'> {
  readonly endpoints: number;
  readonly upstreams: number;
}

export interface PerfSnapshot {
  readonly at: number;
  /** sorted by rate1m, then rate5m, descending */
  readonly endpoints: readonly PerfRow[];
  readonly upstreams: readonly UpstreamPerfRow[];
  /** by p99 descending, among endpoints with at least slowestMinCount requests */
  readonly slowest: readonly PerfRow[];
  readonly busiestSources: readonly SourceRow[];
  readonly totals: PerfTotals;
  /** memory bounds at work */
  readonly tracking: {
    readonly maxEndpoints: number;
    readonly endpointOverflowEvents: number;
    readonly upstreamOverflowEvents: number;
    readonly lateEvents: number;
    readonly sourceCounters: number;
    readonly sourceEvictions: number;
  };
}

export interface PerformanceView {
  observe(e: RequestEvent): void;
  snapshot(now: number): PerfSnapshot;
}

/** Label names of the performance metrics: all bounded (route and upstream by config, endpoint by the namer and maxEndpoints). */
export const PERF_METRIC_LABELS = ['route', 'endpoint', 'upstream'] as const;

export interface PerfMetricRow {
  readonly labels: { readonly route: string; readonly endpoint: string; readonly upstream: string };
  readonly rate1m: number;
  readonly rate5m: number;
  readonly errorRatio: number;
  /** latency quantiles in seconds (Prometheus' unit); null without samples */
  readonly p50Seconds: number | null;
  readonly p90Seconds: number | null;
  readonly p99Seconds: number | null;
}

/**
 * Rows for Prometheus gauges, one per endpoint series (at most maxEndpoints + 1): labels route, endpoint,
 * upstream only — never a raw path or a client address.
 */
export function perfMetricRows(s: PerfSnapshot): PerfMetricRow[] {
  const sec = (ms: number | null) => (ms === null ? null : ms / 1000);
  return s.endpoints.map((e) => ({
    labels: { route: e.route, endpoint: e.endpoint, upstream: e.upstream },
    rate1m: e.rate1m,
    rate5m: e.rate5m,
    errorRatio: e.errorRatio,
    p50Seconds: sec(e.p50),
    p90Seconds: sec(e.p90),
    p99Seconds: sec(e.p99),
  }));
}

const RATE_1M_S = 60;
const RATE_5M_S = 300;
const MINUTES = 5;
const MINUTE_MS = 60_000;
const OTHER = 'other';

/** The compare histograms' bucket layout, for equivalent values (never recorded into). */
let layout: hdr.Float64Histogram | undefined;
function hdrLayout(): hdr.Float64Histogram {
  layout ??= new hdr.Float64Histogram(LOWEST_US, HIGHEST_US, 3);
  return layout;
}

/** The same range at 2 significant digits: buckets 8× wider, each starting where a 3-digit bucket starts. */
let coarse: hdr.Float64Histogram | undefined;
function coarseLayout(): hdr.Float64Histogram {
  coarse ??= new hdr.Float64Histogram(LOWEST_US, HIGHEST_US, 2);
  return coarse;
}

/** Distinct 3-digit buckets a minute of one series holds before new ones are recorded at 2 digits. */
const FINE_BUCKETS = 1024;

/**
 * Counts per HDR bucket (keyed by the bucket's lowest value, µs). Bounded: past FINE_BUCKETS distinct buckets
 * a new value is counted in its 2-digit bucket (at most ~2,600 of those over 1 µs..60 s), so a percentile
 * falling there reads up to 1% low.
 */
class SparseLatency {
  readonly buckets = new Map<number, number>();
  count = 0;

  /** Counts one sample: `b` its 3-digit bucket, `us` its value. */
  record(b: number, us: number): void {
    let n = this.buckets.get(b);
    if (n === undefined && this.buckets.size >= FINE_BUCKETS) {
      b = coarseLayout().lowestEquivalentValue(us);
      n = this.buckets.get(b);
    }
    this.buckets.set(b, (n ?? 0) + 1);
    this.count++;
  }

  clear(): void {
    this.buckets.clear();
    this.count = 0;
  }
}

/** p50/p90/p99 in ms of several sparse histograms together, as hdr's getValueAtPercentile would give. */
export function sparsePercentiles(parts: Iterable<ReadonlyMap<number, number>>): { count: number; p50: number | null; p90: number | null; p99: number | null } {
  const merged = new Map<number, number>();
  let total = 0;
  for (const p of parts) {
    for (const [b, n] of p) {
      merged.set(b, (merged.get(b) ?? 0) + n);
      total += n;
    }
  }
  if (total === 0) return { count: 0, p50: null, p90: null, p99: null };
  const keys = [...merged.keys()].sort((a, b) => a - b);
  const at = (p: number): number => {
    const fp = (p / 100) * total;
    const want = Math.max(1, Math.ceil(fp - fp * Number.EPSILON));
    let acc = 0;
    for (const k of keys) {
      acc += merged.get(k)!;
      if (acc >= want) return hdrLayout().highestEquivalentValue(k) / 1000;
    }
    return hdrLayout().highestEquivalentValue(keys[keys.length - 1]!) / 1000;
  };
  return { count: total, p50: at(50), p90: at(90), p99: at(99) };
}

const isError = (e: RequestEvent) => e.status >= 500 || e.status === 0;

class Series {
  readonly count = new BucketRing(RATE_5M_S + 1);
  readonly errors = new BucketRing(RATE_5M_S + 1);
  readonly #lat: SparseLatency[] = Array.from({ length: MINUTES }, () => new SparseLatency());
  readonly #latMinute = new Float64Array(MINUTES).fill(Number.NEGATIVE_INFINITY);
  lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly route: string,
    readonly endpoint: string,
    readonly upstream: string,
  ) {}

  /** false when the event is too old for the rings; `us` is the latency in µs, `bucket` its HDR bucket */
  observe(e: RequestEvent, error: boolean, us: number | undefined, bucket: number): boolean {
    if (e.at > this.lastAt) this.lastAt = e.at;
    const ok = this.count.add(e.at);
    if (ok && error) this.errors.add(e.at);
    const m = Math.floor(e.at / MINUTE_MS);
    const slot = slotOf(m, MINUTES);
    const stamp = this.#latMinute[slot]!;
    if (m > stamp) {
      this.#lat[slot]!.clear();
      this.#latMinute[slot] = m;
    }
    if (m >= stamp && us !== undefined) this.#lat[slot]!.record(bucket, us);
    return ok;
  }

  row(nowSec: number, firstSec: number): Omit<PerfRow, 'route' | 'endpoint' | 'upstream'> {
    const last = nowSec - 1;
    const elapsed = Math.max(1, nowSec - firstSec);
    const n1 = this.count.sum(last - RATE_1M_S + 1, last);
    const n5 = this.count.sum(last - RATE_5M_S + 1, last);
    const e5 = this.errors.sum(last - RATE_5M_S + 1, last);
    const nowMin = Math.floor((nowSec * 1000) / MINUTE_MS);
    const parts: Map<number, number>[] = [];
    for (let i = 0; i < MINUTES; i++) {
      const m = this.#latMinute[i]!;
      if (m > nowMin - MINUTES && m <= nowMin) parts.push(this.#lat[i]!.buckets);
    }
    const p = sparsePercentiles(parts);
    return {
      rate1m: n1 / Math.min(RATE_1M_S, elapsed),
      rate5m: n5 / Math.min(RATE_5M_S, elapsed),
      p50: p.p50,
      p90: p.p90,
      p99: p.p99,
      errorRatio: n5 > 0 ? e5 / n5 : 0,
      count: n5,
      errors: e5,
    };
  }
}

class MinuteSketches {
  readonly #sketches: SpaceSaving[];
  readonly #minute = new Float64Array(MINUTES).fill(Number.NEGATIVE_INFINITY);

  constructor(k: number) {
    this.#sketches = Array.from({ length: MINUTES }, () => new SpaceSaving(k));
  }

  offer(at: number, key: string, error: boolean): void {
    const m = Math.floor(at / MINUTE_MS);
    const slot = slotOf(m, MINUTES);
    const stamp = this.#minute[slot]!;
    if (m > stamp) {
      this.#sketches[slot]!.clear();
      this.#minute[slot] = m;
    }
    if (m >= stamp) this.#sketches[slot]!.offer(key, 1, error ? 1 : 0);
  }

  window(nowMin: number): SpaceSaving[] {
    return this.#sketches.filter((_, i) => this.#minute[i]! > nowMin - MINUTES && this.#minute[i]! <= nowMin);
  }

  get counters(): number {
    let n = 0;
    for (const s of this.#sketches) n += s.size;
    return n;
  }

  get evictions(): number {
    let n = 0;
    for (const s of this.#sketches) n += s.evictions;
    return n;
  }
}

/**
 * Series keyed by (route, endpoint, upstream) in nested maps (no key string built per event), capped at `max`
 * with one `other` series past it; idle series are dropped when full.
 */
class SeriesMap {
  readonly #map = new Map<string, Map<string, Map<string, Series>>>();
  #size = 0;
  #other: Series | undefined;
  #overflow = 0;
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(readonly max: number) {}

  get(route: string, endpoint: string, upstream: string, at: number): Series {
    const s = this.#map.get(route)?.get(endpoint)?.get(upstream);
    if (s !== undefined) return s;
    if (this.#size >= this.max && at - this.#lastSweep >= 1000) {
      // full: make room by dropping series idle for the whole window (at most one sweep a second)
      this.#lastSweep = at;
      this.prune(at);
    }
    if (this.#size >= this.max) {
      this.#overflow++;
      this.#other ??= new Series(OTHER, OTHER, OTHER);
      return this.#other;
    }
    let byEndpoint = this.#map.get(route);
    if (byEndpoint === undefined) this.#map.set(route, (byEndpoint = new Map<string, Map<string, Series>>()));
    let byUpstream = byEndpoint.get(endpoint);
    if (byUpstream === undefined) byEndpoint.set(endpoint, (byUpstream = new Map<string, Series>()));
    const made = new Series(route, endpoint, upstream);
    byUpstream.set(upstream, made);
    this.#size++;
    return made;
  }

  prune(now: number): void {
    const stale = now - RATE_5M_S * 1000;
    for (const [route, byEndpoint] of this.#map) {
      for (const [endpoint, byUpstream] of byEndpoint) {
        for (const [upstream, s] of byUpstream) {
          if (s.lastAt < stale) {
            byUpstream.delete(upstream);
            this.#size--;
          }
        }
        if (byUpstream.size === 0) byEndpoint.delete(endpoint);
      }
      if (byEndpoint.size === 0) this.#map.delete(route);
    }
    if (this.#other !== undefined && this.#other.lastAt < stale) this.#other = undefined;
  }

  get overflow(): number {
    return this.#overflow;
  }

  get size(): number {
    return this.#size + (this.#other ? 1 : 0);
  }

  *values(): Generator<Series> {
    for (const byEndpoint of this.#map.values()) for (const byUpstream of byEndpoint.values()) yield* byUpstream.values();
    if (this.#other) yield this.#other;
  }
}

class View implements PerformanceView {
  readonly #maxEndpoints: number;
  readonly #topSources: number;
  readonly #slowest: number;
  readonly #slowestMin: number;
  readonly #endpoints: SeriesMap;
  /** route and endpoint '*' */
  readonly #upstreams: SeriesMap;
  readonly #total = new Series('*', '*', '*');
  readonly #sources: MinuteSketches;
  #firstSec = Number.POSITIVE_INFINITY;
  #late = 0;

  constructor(o: PerfOptions) {
    const int = (v: number | undefined, d: number, name: string) => {
      const x = v ?? d;
      if (!Number.isInteger(x) || x < 1) throw new RangeError(`performance view option ${name} must be an integer ≥ 1`);
      return x;
    };
    this.#maxEndpoints = int(o.maxEndpoints, 500, 'maxEndpoints');
    this.#endpoints = new SeriesMap(this.#maxEndpoints);
    this.#upstreams = new SeriesMap(int(o.maxUpstreams, 64, 'maxUpstreams'));
    this.#topSources = int(o.topSources, 20, 'topSources');
    this.#slowest = int(o.slowest, 10, 'slowest');
    this.#slowestMin = int(o.slowestMinCount, 20, 'slowestMinCount');
    this.#sources = new MinuteSketches(int(o.heavyHitters, 1000, 'heavyHitters'));
  }

  observe(e: RequestEvent): void {
    if (!Number.isFinite(e.at)) return;
    const sec = Math.floor(e.at / 1000);
    if (sec < this.#firstSec) this.#firstSec = sec;
    const error = isError(e);
    const us = toMicros(e.latencyMs);
    const bucket = us === undefined ? 0 : hdrLayout().lowestEquivalentValue(us);
    if (!this.#total.observe(e, error, us, bucket)) this.#late++;
    this.#endpoints.get(e.route, e.endpoint, e.upstream, e.at).observe(e, error, us, bucket);
    this.#upstreams.get('*', '*', e.upstream, e.at).observe(e, error, us, bucket);
    this.#sources.offer(e.at, e.source, error);
  }

  snapshot(now: number): PerfSnapshot {
    const nowSec = Math.floor(now / 1000);
    const first = Number.isFinite(this.#firstSec) ? this.#firstSec : nowSec;
    this.#endpoints.prune(now);
    this.#upstreams.prune(now);
    const endpoints: PerfRow[] = [];
    for (const s of this.#endpoints.values()) endpoints.push({ route: s.route, endpoint: s.endpoint, upstream: s.upstream, ...s.row(nowSec, first) });
    endpoints.sort((a, b) => b.rate1m - a.rate1m || b.rate5m - a.rate5m || cmp(a.route, b.route) || cmp(a.endpoint, b.endpoint) || cmp(a.upstream, b.upstream));
    const upstreams: UpstreamPerfRow[] = [];
    for (const s of this.#upstreams.values()) upstreams.push({ upstream: s.upstream, ...s.row(nowSec, first) });
    upstreams.sort((a, b) => b.rate1m - a.rate1m || b.rate5m - a.rate5m || cmp(a.upstream, b.upstream));
    const slowest = endpoints
      .filter((e) => e.p99 !== null && e.count >= this.#slowestMin)
      .sort((a, b) => b.p99! - a.p99! || b.count - a.count)
      .slice(0, this.#slowest);

    const nowMin = Math.floor(now / MINUTE_MS);
    const window = this.#sources.window(nowMin);
    let total = 0;
    for (const sk of window) total += sk.total;
    const busiestSources: SourceRow[] = mergeSketches(window)
      .sort((a, b) => b.count - a.count || cmp(a.key, b.key))
      .slice(0, this.#topSources)
      .map((h) => ({ source: h.key, count: h.count, error: h.error, share: total > 0 ? h.count / total : 0, errorCount: h.aux }));

    return {
      at: now,
      endpoints,
      upstreams,
      slowest,
      busiestSources,
      totals: { ...this.#total.row(nowSec, first), endpoints: this.#endpoints.size, upstreams: this.#upstreams.size },
      tracking: {
        maxEndpoints: this.#maxEndpoints,
        endpointOverflowEvents: this.#endpoints.overflow,
        upstreamOverflowEvents: this.#upstreams.overflow,
        lateEvents: this.#late,
        sourceCounters: this.#sources.counters,
        sourceEvictions: this.#sources.evictions,
      },
    };
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function createPerformanceView(opts: PerfOptions = {}): PerformanceView {
  return new View(opts);
}
