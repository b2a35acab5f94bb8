// Traffic detectors: floods (single-source and distributed), rate spikes, path scans, credential stuffing and
// 5xx bursts, as pure state machines over time-bucketed windows. `observe(event)` only counts (O(1), bucketed
// by the event's own `at`); `tick(now)` judges the complete seconds before `now` and returns one signal per
// key whose condition holds (every tick while it holds: the findings tracker dedupes and resolves).
//
// The model:
// - Rates are judged over the last `rateWindowS` complete seconds (5xx over `errorWindowS`) against an EWMA
//   baseline (half-life `baselineHalfLifeS`) that lags behind the judged window, so a burst is never part of
//   its own baseline, and that is frozen while its key is in alarm, so a long flood is not learnt as normal.
//   A key first seen late starts with a baseline of zeros for the time before it existed (an endpoint
//   nobody used has a baseline of 0, not "unknown").
// - Warm-up: before `earlyWarmupS` seconds of history only absolute floors judge (global and endpoint
//   traffic, failures, a source above `floodSourceHardRps`); until `warmupS` traffic baselines judge at twice
//   their factors (a flood in the first seconds is caught, a start-up ramp is not a spike); then at their
//   factors. A source is judged against max(its own baseline, the typical source) once baselines judge, or at
//   once when it first turned up after the first second of traffic: only the sources there from the start
//   have no history to tell a heavy client from a flood. Above `floodSourceHardRps` a source is a flood at any
//   time. Every threshold needs a minimum absolute rate as well as a ratio.
// - Hysteresis: once in alarm, a key stays until its numbers drop below `exitRatio` × the entry thresholds.
// - Single vs distributed: a traffic spike (global or per endpoint) whose top source explains at least
//   `singleSourceShare` of the excess over the baseline is that source's flood (reported per source); with at
//   least `distributedMinSources` more sources than usual and no source above `distributedMaxTopShare` of the
//   excess it is a distributed flood; otherwise a `rate_spike`.
// - Bounded memory: per-source state in an LRU of `maxSources` (evictions counted), endpoints and upstreams
//   capped with an overflow key, distinct counts in fixed bitmaps, top sources in small Space-Saving sketches,
//   one recent request per key (body dropped) for evidence.
import { REDACTED, isSecretHeader } from '../core/redact.ts';
import { buildEvidence } from './evidence.ts';
import { SegmentedTop } from './sketch.ts';
import { BucketRing, DistinctBitmap, DistinctRing, Ewma, Segments, hash32 } from './window.ts';
import type { DetectorName, RequestEvent, Severity, Signal } from './types.ts';

export interface DetectorOptions {
  /** seconds of complete buckets a rate is judged over (floods, spikes, distributed stuffing); default 5 */
  readonly rateWindowS: number;
  /** seconds of history before traffic baselines judge at their factors (before: at twice the factors, see earlyWarmupS). Default 15 */
  readonly warmupS: number;
  /**
   * seconds of history before any baseline judges: until then only absolute floors do. From then until warmupS,
   * traffic baselines judge at twice their factors (a flood in the first seconds is caught, a start-up ramp is
   * not a spike), and sources against max(own baseline, typical source). Default 5
   */
  readonly earlyWarmupS: number;
  /** half-life of every EWMA baseline, seconds. Default 30: follows a ×10 change over a couple of minutes well inside spikeFactor */
  readonly baselineHalfLifeS: number;
  /** hysteresis: an alarm holds until its numbers fall below this fraction of the entry thresholds. Default 0.7 */
  readonly exitRatio: number;

  /** a single source must reach this many req/s to be a flood. Default 100 (benign sources browse at ≤ ~80 req/s) */
  readonly floodSourceMinRps: number;
  /** ... and this many times max(its own baseline, the typical source's rate: the upper quartile of active sources). Default 3 */
  readonly floodFactor: number;
  /** a source at or above this rate is a flood whatever its history (the only rule for sources there from the start, until earlyWarmupS). Default 1000 */
  readonly floodSourceHardRps: number;

  /** traffic must reach this many times its baseline to spike (global and per endpoint). Default 3 */
  readonly spikeFactor: number;
  /** minimum global rate of a spike, req/s. Default 100 */
  readonly spikeGlobalMinRps: number;
  /** before earlyWarmupS, global traffic at or above this rate is a spike. Default 5000 */
  readonly spikeGlobalHardRps: number;
  /** minimum endpoint rate of a spike, req/s. Default 50 */
  readonly spikeEndpointMinRps: number;
  /** before earlyWarmupS, an endpoint at or above this rate is a spike. Default 2000 */
  readonly spikeEndpointHardRps: number;
  /** a source surge: this many times the usual number of active sources ... Default 2.5 */
  readonly surgeSourceFactor: number;
  /** ... while global traffic is at least this many times its baseline, is a spike too. Default 1.25 */
  readonly surgeRateFactor: number;
  /** a spike from at least this many more distinct sources than usual, none dominating, is 'distributed'. Default 10 */
  readonly distributedMinSources: number;
  /** ... where "none dominating" means the top source explains at most this share of the excess over the baseline. Default 0.3 */
  readonly distributedMaxTopShare: number;
  /** a spike whose top source explains at least this share of the excess is that source's flood (reported per source). Default 0.5 */
  readonly singleSourceShare: number;

  /** per-source scan window, seconds (two tumbling halves: covers half to all of it). Default 30 */
  readonly scanWindowS: number;
  /** a scan: at least this many 404/410 answers ... Default 15 */
  readonly scanNotFound: number;
  /** ... making up at least this share of the source's requests (benign: ~1%). Default 0.2 */
  readonly scanNotFoundRatio: number;
  /** or: at least this many distinct paths ... Default 100 */
  readonly scanDistinctPaths: number;
  /** ... with at least this share of its requests to distinct paths ... Default 0.9 */
  readonly scanDistinctRatio: number;
  /** ... and at least this share answered 4xx (benign: ~1.5%). Default 0.1 */
  readonly scanClientErrorRatio: number;
  /** or, whatever the answers: at least this many distinct paths with ≥ 95% of requests distinct (enumeration). Default 1000 */
  readonly scanEnumerationPaths: number;

  /** per-source credential-stuffing window, seconds (two tumbling halves). Default 30 */
  readonly stuffingWindowS: number;
  /** stuffing: at least this many 401/403 answers to one source ... Default 10 */
  readonly stuffingFailures: number;
  /** ... making up at least this share of its requests (benign: ~0.5%) ... Default 0.3 */
  readonly stuffingRatio: number;
  /** ... mostly repeated on one endpoint (share of failures on the same endpoint as the one before; a scanner's 403s are not). Default 0.5 */
  readonly stuffingRepeatRatio: number;
  /** distributed stuffing on one endpoint: 401/403 per second (over rateWindowS) at least this ... Default 5 */
  readonly stuffingEndpointMinRps: number;
  /** ... and spikeFactor × the endpoint's failure baseline; before earlyWarmupS, at least this rate instead. Default 25 */
  readonly stuffingEndpointHardRps: number;
  /** ... from at least this many distinct sources, none with singleSourceShare of the failures. Default 3 */
  readonly stuffingMinSources: number;

  /** per-upstream 5xx window, seconds. Default 10 */
  readonly errorWindowS: number;
  /** a burst: at least this many 5xx (or no answer) in the window ... Default 50 */
  readonly errorBurstMin5xx: number;
  /** ... and at least this share of the upstream's requests and spikeFactor × its usual share. Default 0.1 (benign < 0.5%) */
  readonly errorBurstRatio: number;

  /** per-source states kept (LRU; evictions counted). Default 10000 */
  readonly maxSources: number;
  /** endpoints tracked (route × endpoint); more share one `* other` key. Default 1000 */
  readonly maxEndpoints: number;
  /** upstreams tracked; more share one `other` key. Default 256 */
  readonly maxUpstreams: number;
  /** signals returned by one tick at most (the rest are counted in stats.signalsDropped). Default 1000 */
  readonly maxSignalsPerTick: number;
}

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = Object.freeze({
  rateWindowS: 5,
  warmupS: 15,
  earlyWarmupS: 5,
  baselineHalfLifeS: 30,
  exitRatio: 0.7,
  floodSourceMinRps: 100,
  floodFactor: 3,
  floodSourceHardRps: 1000,
  spikeFactor: 3,
  spikeGlobalMinRps: 100,
  spikeGlobalHardRps: 5000,
  spikeEndpointMinRps: 50,
  spikeEndpointHardRps: 2000,
  surgeSourceFactor: 2.5,
  surgeRateFactor: 1.25,
  distributedMinSources: 10,
  distributedMaxTopShare: 0.3,
  singleSourceShare: 0.5,
  scanWindowS: 30,
  scanNotFound: 15,
  scanNotFoundRatio: 0.2,
  scanDistinctPaths: 100,
  scanDistinctRatio: 0.9,
  scanClientErrorRatio: 0.1,
  scanEnumerationPaths: 1000,
  stuffingWindowS: 30,
  stuffingFailures: 10,
  stuffingRatio: 0.3,
  stuffingRepeatRatio: 0.5,
  stuffingEndpointMinRps: 5,
  stuffingEndpointHardRps: 25,
  stuffingMinSources: 3,
  errorWindowS: 10,
  errorBurstMin5xx: 50,
  errorBurstRatio: 0.1,
  maxSources: 10_000,
  maxEndpoints: 1000,
  maxUpstreams: 256,
  maxSignalsPerTick: 1000,
});

export interface Detectors {
  /** Counts one request (bucketed by its `at`). Never throws, never allocates per-key state beyond the caps. */
  observe(e: RequestEvent): void;
  /** Judges the complete seconds before `now` (epoch ms); call about once a second. */
  tick(now: number): Signal[];
  /** Counters for metrics and tests: tracked keys, evictions, late events, signals. */
  stats(): Record<string, number>;
}

/** Ticks may be this many seconds apart (minus 2) before a per-key ring loses unfolded seconds. */
const RING_SLACK = 12;
/** per source (a million-source flood resets one per request): ticks at most ~6 s apart */
const SOURCE_RING_SLACK = 8;
/** Bits of the distinct-source bitmaps: 1024 per endpoint (saturates at ~7000 per window), 4096 globally. */
const ENDPOINT_BITS = 1024;
const GLOBAL_BITS = 4096;
const PATH_BITS = 1024;
/** Space-Saving counters per endpoint for "which source dominates". */
const TOP_K = 8;
/** sources seen within this long of the first request are there "from the start": no history tells a heavy client from a flood */
const FOUNDER_MS = 1000;
const OVERFLOW_UPSTREAM = '\u0000other';

const isNotFound = (s: number) => s === 404 || s === 410;
const isAuthFailure = (s: number) => s === 401 || s === 403;
const isServerError = (e: RequestEvent) => e.status >= 500 || e.status === 0;

const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);

/**
 * The event as kept for evidence: a small copy without its body (a login body holds a password), secret
 * header values already replaced, path, query and header values cut (buildEvidence cuts further).
 */
function compact(e: RequestEvent): RequestEvent {
  const headers: string[] = [];
  for (let i = 0; i + 1 < e.headers.length && i < 32; i += 2) {
    const name = e.headers[i]!;
    headers.push(cut(name, 64), isSecretHeader(name) ? REDACTED : cut(e.headers[i + 1]!, 256));
  }
  return {
    at: e.at,
    route: e.route,
    endpoint: e.endpoint,
    method: cut(e.method, 32),
    path: cut(e.path, 1024),
    query: cut(e.query, 1024),
    source: cut(e.source, 64),
    headers,
    bodyBytes: e.bodyBytes,
    upstream: e.upstream,
    status: e.status,
    latencyMs: e.latencyMs,
    ...(e.error !== undefined ? { error: e.error } : {}),
  };
}

/** One recent request of a key, for evidence: a compact copy, taken at most once a second (bounded cost and memory). */
class Kept {
  event: RequestEvent | undefined;
  #sec = Number.NEGATIVE_INFINITY;

  offer(e: RequestEvent, sec: number): void {
    if (sec === this.#sec) return;
    this.#sec = sec;
    this.event = compact(e);
  }

  clear(): void {
    this.event = undefined;
    this.#sec = Number.NEGATIVE_INFINITY;
  }
}

/** Folds seconds from+1..to of `ring` into `ewma` (seconds outside the ring count 0). */
function foldRing(ewma: Ewma, ring: BucketRing, from: number, to: number): void {
  if (to <= from) return;
  const lo = Math.max(from + 1, ring.head - ring.length + 1);
  const hi = Math.min(to, ring.head);
  if (!(hi >= lo)) {
    ewma.zeros(to - from);
    return;
  }
  ewma.zeros(lo - (from + 1));
  for (let s = lo; s <= hi; s++) ewma.update(ring.get(s));
  ewma.zeros(to - hi);
}

/**
 * Folds, for seconds from+1..to, the distinct keys of the window of `w` seconds ending there (`ring` holds the
 * keys, `req` the counts of the same events: its head says which seconds are still held).
 */
function foldDistinct(ewma: Ewma, ring: DistinctRing, req: BucketRing, w: number, from: number, to: number): void {
  if (to <= from) return;
  const lo = Math.max(from + 1, req.head - Math.min(req.length, ring.length) + w);
  const hi = Math.min(to, req.head);
  if (!(hi >= lo)) {
    ewma.zeros(to - from);
    return;
  }
  ewma.zeros(lo - (from + 1));
  for (let s = lo; s <= hi; s++) ewma.update(ring.estimate(s - w + 1, s));
  ewma.zeros(to - hi);
}

/** Rounded for titles and details: integers from 100, one decimal from 1, else two. */
function r(x: number): number {
  if (!Number.isFinite(x)) return 0;
  const a = Math.abs(x);
  return a >= 100 ? Math.round(x) : a >= 1 ? Math.round(x * 10) / 10 : Math.round(x * 100) / 100;
}
const pct = (x: number) => `${r(x * 100)}%`;

class SourceState {
  key = '';
  firstSec = 0;
  /** ms of its first request */
  firstAt = 0;
  lastSec = 0;
  /** the second its LRU position was last refreshed */
  touchSec = Number.NEGATIVE_INFINITY;
  /** LRU list: toward the most recently seen (newer) and the least (older) */
  newer: SourceState | undefined;
  older: SourceState | undefined;
  readonly req: BucketRing;
  readonly ewma: Ewma;
  folded = 0;
  /** requests, 404/410, 4xx */
  readonly scan: Segments;
  pathsCur = new DistinctBitmap(PATH_BITS);
  pathsPrev = new DistinctBitmap(PATH_BITS);
  /** requests, 401/403, repeated failures on the same endpoint */
  readonly stuff: Segments;
  lastFailHash = -1;
  rate = 0;
  /** requests since it was (re)tracked */
  events = 0;
  flood = false;
  scanning = false;
  stuffing = false;
  readonly last = new Kept();
  /** the latest 404/410/401/403 */
  readonly notable = new Kept();

  constructor(o: DetectorOptions) {
    this.req = new BucketRing(o.rateWindowS + SOURCE_RING_SLACK);
    this.ewma = new Ewma(o.baselineHalfLifeS);
    this.scan = new Segments(3, (o.scanWindowS * 1000) / 2);
    this.stuff = new Segments(3, (o.stuffingWindowS * 1000) / 2);
  }

  reset(key: string, at: number, folded: number, history: number): void {
    const sec = Math.floor(at / 1000);
    this.key = key;
    this.firstSec = sec;
    this.firstAt = at;
    this.lastSec = sec;
    this.touchSec = Number.NEGATIVE_INFINITY;
    this.req.clear();
    this.ewma.reset();
    this.ewma.zeros(history);
    this.folded = folded;
    this.scan.clear();
    this.pathsCur.clear();
    this.pathsPrev.clear();
    this.stuff.clear();
    this.lastFailHash = -1;
    this.rate = 0;
    this.events = 0;
    this.flood = this.scanning = this.stuffing = false;
    this.last.clear();
    this.notable.clear();
  }

  /** Rolls the scan segments (and their path bitmaps) to `at`: -1 too old, -2 previous segment, else current. */
  rollScan(at: number): number {
    const moved = this.scan.roll(at);
    if (moved === 1) {
      const t = this.pathsPrev;
      this.pathsPrev = this.pathsCur;
      this.pathsCur = t;
      t.clear();
    } else if (moved === 2) {
      this.pathsCur.clear();
      this.pathsPrev.clear();
    }
    return moved;
  }
}

class EndpointState {
  readonly signalKey: string;
  readonly route: string;
  readonly endpoint: string;
  readonly firstSec: number;
  lastSec: number;
  readonly req: BucketRing;
  readonly fail: BucketRing;
  readonly reqEwma: Ewma;
  readonly failEwma: Ewma;
  /** distinct sources per window */
  readonly srcEwma: Ewma;
  folded: number;
  readonly sources: DistinctRing;
  readonly failSources: DistinctRing;
  readonly top: SegmentedTop;
  readonly failTop: SegmentedTop;
  spike = false;
  stuffing = false;
  readonly last = new Kept();
  readonly lastFail = new Kept();

  constructor(o: DetectorOptions, route: string, endpoint: string, sec: number, folded: number, history: number) {
    this.route = route;
    this.endpoint = endpoint;
    this.signalKey = `endpoint:${route} ${endpoint}`;
    this.firstSec = this.lastSec = sec;
    const len = 2 * o.rateWindowS + RING_SLACK;
    this.req = new BucketRing(len);
    this.fail = new BucketRing(len);
    this.reqEwma = new Ewma(o.baselineHalfLifeS);
    this.failEwma = new Ewma(o.baselineHalfLifeS);
    this.srcEwma = new Ewma(o.baselineHalfLifeS);
    this.reqEwma.zeros(history);
    this.failEwma.zeros(history);
    this.srcEwma.zeros(history);
    this.folded = folded;
    this.sources = new DistinctRing(len, ENDPOINT_BITS);
    this.failSources = new DistinctRing(o.rateWindowS + 1, ENDPOINT_BITS);
    this.top = new SegmentedTop(TOP_K, o.rateWindowS * 1000);
    this.failTop = new SegmentedTop(TOP_K, o.rateWindowS * 1000);
  }
}

class UpstreamState {
  readonly name: string;
  lastSec: number;
  readonly req: BucketRing;
  readonly err: BucketRing;
  readonly reqEwma: Ewma;
  readonly errEwma: Ewma;
  folded: number;
  burst = false;
  readonly lastErr = new Kept();

  constructor(o: DetectorOptions, name: string, sec: number, folded: number, history: number) {
    this.name = name;
    this.lastSec = sec;
    const len = o.errorWindowS + RING_SLACK;
    this.req = new BucketRing(len);
    this.err = new BucketRing(len);
    this.reqEwma = new Ewma(o.baselineHalfLifeS);
    this.errEwma = new Ewma(o.baselineHalfLifeS);
    this.reqEwma.zeros(history);
    this.errEwma.zeros(history);
    this.folded = folded;
  }
}

function checkOptions(o: DetectorOptions): void {
  for (const [k, v] of Object.entries(o)) {
    if (!Object.hasOwn(DEFAULT_DETECTOR_OPTIONS, k)) throw new RangeError(`unknown detector option ${k} (known: ${Object.keys(DEFAULT_DETECTOR_OPTIONS).join(', ')})`);
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new RangeError(`detector option ${k} must be a number ≥ 0`);
  }
  for (const k of ['rateWindowS', 'baselineHalfLifeS', 'scanWindowS', 'stuffingWindowS', 'errorWindowS', 'maxSources', 'maxEndpoints', 'maxUpstreams'] as const) {
    if (!(o[k] >= 1) || !Number.isInteger(o[k])) throw new RangeError(`detector option ${k} must be an integer ≥ 1`);
  }
  if (o.exitRatio > 1) throw new RangeError('detector option exitRatio must be at most 1');
}

class DetectorEngine implements Detectors {
  readonly #o: DetectorOptions;
  readonly #sources = new Map<string, SourceState>();
  /** the LRU list's ends */
  #newest: SourceState | undefined;
  #oldest: SourceState | undefined;
  /** route → endpoint → state */
  readonly #endpoints = new Map<string, Map<string, EndpointState>>();
  #endpointCount = 0;
  #overflowEndpoint: EndpointState | undefined;
  readonly #upstreams = new Map<string, UpstreamState>();
  readonly #rates: Float64Array;
  // global
  #firstSec = Number.POSITIVE_INFINITY;
  #firstAt = Number.POSITIVE_INFINITY;
  readonly #req: BucketRing;
  readonly #ewma: Ewma;
  readonly #srcRing: DistinctRing;
  readonly #srcEwma: Ewma;
  #folded = Number.NEGATIVE_INFINITY;
  #spike = false;
  readonly #last = new Kept();
  #lastNowSec = Number.NEGATIVE_INFINITY;
  // stats
  #events = 0;
  #late = 0;
  #ignored = 0;
  #sourceEvictions = 0;
  #endpointOverflow = 0;
  #upstreamOverflow = 0;
  #ticks = 0;
  #signals = 0;
  #dropped = 0;
  #typical = 0;

  constructor(o: DetectorOptions) {
    checkOptions(o);
    this.#o = o;
    this.#rates = new Float64Array(o.maxSources);
    this.#req = new BucketRing(2 * o.rateWindowS + RING_SLACK);
    this.#ewma = new Ewma(o.baselineHalfLifeS);
    this.#srcRing = new DistinctRing(2 * o.rateWindowS + RING_SLACK, GLOBAL_BITS);
    this.#srcEwma = new Ewma(o.baselineHalfLifeS);
  }

  /** Seconds of history a new key's baseline starts with (zeros: it had no traffic before). */
  #history(): number {
    return Number.isFinite(this.#folded) ? Math.max(0, this.#folded - this.#firstSec + 1) : 0;
  }

  /** How baselines judge now: 0 not yet (absolute floors only), 2 at twice their factors, 1 at their factors. */
  #judge(): 0 | 1 | 2 {
    const h = this.#history();
    return h >= this.#o.warmupS ? 1 : h >= this.#o.earlyWarmupS ? 2 : 0;
  }

  observe(e: RequestEvent): void {
    const at = e.at;
    // an arrival more than a minute after the latest tick is not a real timestamp: it would wipe the rings
    if (!Number.isFinite(at) || (Number.isFinite(this.#lastNowSec) && at > (this.#lastNowSec + 60) * 1000)) {
      this.#ignored++;
      return;
    }
    this.#events++;
    const sec = Math.floor(at / 1000);
    if (at < this.#firstAt) this.#firstAt = at;
    if (sec < this.#firstSec) {
      if (!Number.isFinite(this.#firstSec)) this.#folded = sec - 1;
      this.#firstSec = sec;
    }
    if (!this.#req.addToBucket(sec)) this.#late++;
    const srcHash = hash32(e.source);
    this.#srcRing.addToBucket(sec, srcHash);
    this.#last.offer(e, sec);
    const status = e.status;

    // per source
    const st = this.#source(e.source, sec, at);
    st.req.addToBucket(sec);
    if (sec > st.lastSec) st.lastSec = sec;
    // a source's first request is not kept: a single request raises nothing, and a million-source flood
    // would copy every request
    if (++st.events > 1) st.last.offer(e, sec);
    const scanSeg = st.rollScan(at);
    if (scanSeg !== -1) {
      const prev = scanSeg === -2;
      st.scan.add(0, 1, prev);
      if (isNotFound(status)) {
        st.scan.add(1, 1, prev);
      }
      if (status >= 400 && status < 500) st.scan.add(2, 1, prev);
      (prev ? st.pathsPrev : st.pathsCur).add(hash32(e.path));
    }
    const stuffSeg = st.stuff.roll(at);
    const fail = isAuthFailure(status);
    if (stuffSeg !== -1) {
      const prev = stuffSeg === -2;
      st.stuff.add(0, 1, prev);
      if (fail) {
        st.stuff.add(1, 1, prev);
        // the endpoint, or the path once the namer ran out of names (a scanner's 403s are on many paths)
        const h = hash32(e.endpoint === 'other' ? e.path : e.endpoint);
        if (h === st.lastFailHash) st.stuff.add(2, 1, prev);
        st.lastFailHash = h;
      }
    }
    if ((fail || isNotFound(status)) && st.events > 1) st.notable.offer(e, sec);

    // per endpoint
    const ep = this.#endpoint(e.route, e.endpoint, sec);
    ep.req.addToBucket(sec);
    if (sec > ep.lastSec) ep.lastSec = sec;
    ep.sources.addToBucket(sec, srcHash);
    ep.top.offer(at, e.source);
    ep.last.offer(e, sec);
    if (fail) {
      ep.fail.addToBucket(sec);
      ep.failSources.addToBucket(sec, srcHash);
      ep.failTop.offer(at, e.source);
      ep.lastFail.offer(e, sec);
    }

    // per upstream
    const up = this.#upstream(e.upstream, sec);
    up.req.addToBucket(sec);
    if (sec > up.lastSec) up.lastSec = sec;
    if (isServerError(e)) {
      up.err.addToBucket(sec);
      up.lastErr.offer(e, sec);
    }
  }

  #source(key: string, sec: number, at: number): SourceState {
    let st = this.#sources.get(key);
    if (st !== undefined) {
      // LRU refresh at most once a second per source
      if (st.touchSec !== sec) {
        st.touchSec = sec;
        this.#unlink(st);
        this.#pushNewest(st);
      }
      return st;
    }
    if (this.#sources.size >= this.#o.maxSources && this.#oldest !== undefined) {
      // evict the least recently seen and reuse its state (no allocation under a million-source flood)
      st = this.#oldest;
      this.#unlink(st);
      this.#sources.delete(st.key);
      this.#sourceEvictions++;
    } else st = new SourceState(this.#o);
    st.reset(key, at, this.#folded, this.#history());
    st.touchSec = sec;
    this.#sources.set(key, st);
    this.#pushNewest(st);
    return st;
  }

  #unlink(st: SourceState): void {
    if (st.newer) st.newer.older = st.older;
    else this.#newest = st.older;
    if (st.older) st.older.newer = st.newer;
    else this.#oldest = st.newer;
    st.newer = st.older = undefined;
  }

  #pushNewest(st: SourceState): void {
    st.older = this.#newest;
    st.newer = undefined;
    if (this.#newest) this.#newest.newer = st;
    this.#newest = st;
    this.#oldest ??= st;
  }

  #endpoint(route: string, endpoint: string, sec: number): EndpointState {
    let byName = this.#endpoints.get(route);
    if (byName === undefined) {
      byName = new Map();
      this.#endpoints.set(route, byName);
    }
    let ep = byName.get(endpoint);
    if (ep !== undefined) return ep;
    if (this.#endpointCount >= this.#o.maxEndpoints) {
      this.#endpointOverflow++;
      if (byName.size === 0) this.#endpoints.delete(route);
      this.#overflowEndpoint ??= new EndpointState(this.#o, '*', 'other', sec, this.#folded, this.#history());
      return this.#overflowEndpoint;
    }
    ep = new EndpointState(this.#o, route, endpoint, sec, this.#folded, this.#history());
    byName.set(endpoint, ep);
    this.#endpointCount++;
    return ep;
  }

  /** Every endpoint state, the overflow one last. */
  *#allEndpoints(): Generator<EndpointState> {
    for (const byName of this.#endpoints.values()) yield* byName.values();
    if (this.#overflowEndpoint) yield this.#overflowEndpoint;
  }

  #upstream(name: string, sec: number): UpstreamState {
    let up = this.#upstreams.get(name);
    if (up !== undefined) return up;
    if (this.#upstreams.size >= this.#o.maxUpstreams) {
      this.#upstreamOverflow++;
      up = this.#upstreams.get(OVERFLOW_UPSTREAM);
      if (up !== undefined) return up;
      up = new UpstreamState(this.#o, 'other', sec, this.#folded, this.#history());
      this.#upstreams.set(OVERFLOW_UPSTREAM, up);
      return up;
    }
    up = new UpstreamState(this.#o, name, sec, this.#folded, this.#history());
    this.#upstreams.set(name, up);
    return up;
  }

  tick(now: number): Signal[] {
    this.#ticks++;
    if (!Number.isFinite(now) || !Number.isFinite(this.#firstSec)) return [];
    const o = this.#o;
    const nowSec = Math.max(Math.floor(now / 1000), this.#lastNowSec);
    this.#lastNowSec = nowSec;
    const last = nowSec - 1;
    const W = o.rateWindowS;
    const from = last - W + 1;
    const foldTo = last - W;
    const out: Signal[] = [];
    const emit = (detector: DetectorName, key: string, severity: Severity, title: string, detail: Signal['detail'], ev: RequestEvent | undefined) => {
      if (out.length >= o.maxSignalsPerTick) {
        this.#dropped++;
        return;
      }
      out.push({ detector, key, severity, title, detail, at: now, ...(ev ? { evidence: buildEvidence(ev) } : {}) });
    };

    // ---- global baseline (frozen while in alarm, once baselines judge)
    const judgeBefore = this.#judge();
    if (foldTo > this.#folded) {
      if (!(this.#spike && judgeBefore > 0)) {
        foldRing(this.#ewma, this.#req, this.#folded, foldTo);
        foldDistinct(this.#srcEwma, this.#srcRing, this.#req, this.#o.rateWindowS, this.#folded, foldTo);
      }
      this.#folded = foldTo;
    }
    const judge = this.#judge();
    const warm = judge > 0;
    /** factor multiplier while the baselines are young */
    const m = judge === 2 ? 2 : 1;
    const weff = (first: number) => Math.min(W, Math.max(2, last - first + 1));

    // ---- sources, pass 1: baselines and rates; the typical source (upper quartile of active ones)
    const maxWin = Math.max(W, o.scanWindowS, o.stuffingWindowS) + 1;
    let active = 0;
    let top: SourceState | undefined;
    for (const st of this.#sources.values()) {
      if (st.lastSec < last - maxWin && !st.flood && !st.scanning && !st.stuffing) {
        st.rate = 0;
        continue;
      }
      if (foldTo > st.folded) {
        if (!st.flood) foldRing(st.ewma, st.req, st.folded, foldTo);
        st.folded = foldTo;
      }
      const n = st.req.sum(from, last);
      st.rate = n / weff(st.firstSec);
      if (n > 0 && active < this.#rates.length) this.#rates[active++] = st.rate;
      if (top === undefined || st.rate > top.rate) top = st;
    }
    const typical = active === 0 ? 0 : quantile(this.#rates.subarray(0, active), 0.75);
    this.#typical = typical;

    // ---- sources, pass 2: flood, scan, stuffing
    const x = o.exitRatio;
    const gRate = this.#req.sum(from, last) / weff(this.#firstSec);
    for (const st of this.#sources.values()) {
      if (st.lastSec < last - maxWin && !st.flood && !st.scanning && !st.stuffing) continue;
      // single-source flood
      // judged on its history once there is some, or at once when it turned up after the first second (sources
      // there from the start are the ones with no history to tell a heavy client from a flood)
      const isNew = st.firstAt >= this.#firstAt + FOUNDER_MS;
      const judged = warm || isNew;
      const base = judged ? st.ewma.value : 0;
      const kx = st.flood ? x : 1;
      st.flood =
        st.rate >= o.floodSourceHardRps * kx ||
        (judged && st.rate >= Math.max(o.floodSourceMinRps, o.floodFactor * Math.max(base, typical)) * kx);
      if (st.flood) {
        const share = gRate > 0 ? st.rate / gRate : 1;
        emit(
          'flood',
          `source:${st.key}`,
          'high',
          `single-source flood from ${st.key}: ${r(st.rate)} req/s (baseline ${r(base)} req/s, typical source ${r(typical)} req/s)`,
          { kind: 'single', source: st.key, rate: r(st.rate), baseline: r(base), typical: r(typical), share: r(Math.min(1, share)), windowS: W, warm, newSource: isNew },
          st.last.event,
        );
      }
      // scan
      st.rollScan(now);
      const req = st.scan.value(0);
      const notFound = st.scan.value(1);
      const clientErrors = st.scan.value(2);
      const distinct = req === 0 ? 0 : Math.min(req, st.pathsCur.estimateUnion(st.pathsPrev));
      const ks = st.scanning ? x : 1;
      const byNotFound = notFound >= o.scanNotFound * ks && notFound >= o.scanNotFoundRatio * ks * req;
      const byDistinct =
        distinct >= o.scanDistinctPaths * ks && distinct >= o.scanDistinctRatio * ks * req && clientErrors >= o.scanClientErrorRatio * ks * req;
      const byEnumeration = distinct >= o.scanEnumerationPaths * ks && distinct >= 0.95 * ks * req;
      st.scanning = req > 0 && (byNotFound || byDistinct || byEnumeration);
      if (st.scanning) {
        emit(
          'scan',
          `source:${st.key}`,
          'medium',
          `path scan from ${st.key}: ${Math.round(distinct)} distinct paths, ${notFound} not found of ${req} requests in ≤ ${o.scanWindowS} s`,
          {
            source: st.key,
            requests: req,
            distinctPaths: Math.round(distinct),
            notFound,
            clientErrors,
            notFoundRatio: r(notFound / req),
            by: byNotFound ? 'not_found' : byDistinct ? 'distinct_paths' : 'enumeration',
            windowS: o.scanWindowS,
          },
          st.notable.event ?? st.last.event,
        );
      }
      // credential stuffing (one source)
      st.stuff.roll(now);
      const sreq = st.stuff.value(0);
      const failures = st.stuff.value(1);
      const repeats = st.stuff.value(2);
      const kf = st.stuffing ? x : 1;
      st.stuffing =
        failures >= o.stuffingFailures * kf && failures >= o.stuffingRatio * kf * sreq && repeats >= o.stuffingRepeatRatio * kf * (failures - 1);
      if (st.stuffing) {
        const ev = st.notable.event ?? st.last.event;
        const target = ev ? `${ev.route} ${ev.endpoint}` : '';
        emit(
          'credential_stuffing',
          `source:${st.key}`,
          'high',
          `credential stuffing from ${st.key}: ${failures} failed authentications (401/403) of ${sreq} requests in ≤ ${o.stuffingWindowS} s${target ? ` on ${target}` : ''}`,
          { kind: 'single', source: st.key, failures, requests: sreq, failureRatio: r(failures / sreq), endpoint: target, windowS: o.stuffingWindowS },
          ev,
        );
      }
    }

    // ---- global traffic: spike, source surge, distributed flood
    const gSources = this.#srcRing.estimate(from, last);
    const gBase = this.#ewma.value;
    const srcBase = this.#srcEwma.value;
    const kg = this.#spike ? x : 1;
    const spike = warm ? gRate >= o.spikeGlobalMinRps * kg && gRate >= o.spikeFactor * m * gBase * kg : gRate >= o.spikeGlobalHardRps * kg;
    const surge =
      warm &&
      gSources >= o.distributedMinSources * kg &&
      gSources >= o.surgeSourceFactor * m * srcBase * kg &&
      gRate >= o.surgeRateFactor * m * gBase * kg &&
      gRate >= o.spikeGlobalMinRps * kg;
    this.#spike = spike || surge;
    if (this.#spike) {
      this.#spikeSignal(emit, {
        key: 'global',
        where: '',
        rate: gRate,
        base: gBase,
        sources: gSources,
        srcBase,
        topKey: top?.key,
        topRate: top?.rate ?? 0,
        topIsFlood: top?.flood ?? false,
        warm,
        extra: { by: spike ? 'rate' : 'sources' },
        ev: this.#last.event,
      });
    }

    // ---- endpoints: spikes, distributed floods, distributed stuffing
    for (const ep of this.#allEndpoints()) {
      if (ep.lastSec < last - maxWin && !ep.spike && !ep.stuffing) continue;
      if (foldTo > ep.folded) {
        if (!(ep.spike && warm)) {
          foldRing(ep.reqEwma, ep.req, ep.folded, foldTo);
          foldDistinct(ep.srcEwma, ep.sources, ep.req, W, ep.folded, foldTo);
        }
        if (!(ep.stuffing && warm)) foldRing(ep.failEwma, ep.fail, ep.folded, foldTo);
        ep.folded = foldTo;
      }
      const w = weff(ep.firstSec);
      const rate = ep.req.sum(from, last) / w;
      const base = ep.reqEwma.value;
      const ke = ep.spike ? x : 1;
      ep.spike = warm ? rate >= o.spikeEndpointMinRps * ke && rate >= o.spikeFactor * m * base * ke : rate >= o.spikeEndpointHardRps * ke;
      if (ep.spike) {
        ep.top.roll(now);
        const t = ep.top.max();
        const topRate = t && t.total > 0 ? (t.count / t.total) * rate : 0;
        this.#spikeSignal(emit, {
          key: ep.signalKey,
          where: `${ep.route} ${ep.endpoint}`,
          rate,
          base,
          sources: ep.sources.estimate(from, last),
          srcBase: ep.srcEwma.value,
          topKey: t?.key,
          topRate,
          topIsFlood: t ? (this.#sources.get(t.key)?.flood ?? false) : false,
          warm,
          extra: { route: ep.route, endpoint: ep.endpoint },
          ev: ep.last.event,
        });
      }
      // distributed credential stuffing
      const fRate = ep.fail.sum(from, last) / w;
      const fBase = ep.failEwma.value;
      const kf = ep.stuffing ? x : 1;
      ep.stuffing = warm
        ? fRate >= Math.max(o.stuffingEndpointMinRps, o.spikeFactor * m * fBase) * kf
        : fRate >= o.stuffingEndpointHardRps * kf;
      if (ep.stuffing) {
        ep.failTop.roll(now);
        const t = ep.failTop.max();
        const topShare = t && t.total > 0 ? Math.min(1, t.count / t.total) : 0;
        const sources = ep.failSources.estimate(from, last);
        if (topShare < o.singleSourceShare && sources >= o.stuffingMinSources) {
          emit(
            'credential_stuffing',
            ep.signalKey,
            'high',
            `distributed credential stuffing on ${ep.route} ${ep.endpoint}: ${r(fRate)} failed authentications/s (401/403) from ${Math.round(sources)} sources (baseline ${r(warm ? fBase : 0)}/s; top source ${pct(topShare)})`,
            {
              kind: 'distributed',
              route: ep.route,
              endpoint: ep.endpoint,
              failureRate: r(fRate),
              baseline: r(warm ? fBase : 0),
              sources: Math.round(sources),
              topSource: t?.key ?? '',
              topShare: r(topShare),
              windowS: W,
              warm,
            },
            ep.lastFail.event,
          );
        }
      }
    }

    // ---- upstreams: 5xx bursts
    const E = o.errorWindowS;
    const eFrom = last - E + 1;
    const eFoldTo = last - E;
    for (const up of this.#upstreams.values()) {
      if (up.lastSec < last - E - 1 && !up.burst) continue;
      if (eFoldTo > up.folded) {
        if (!(up.burst && warm)) {
          foldRing(up.reqEwma, up.req, up.folded, eFoldTo);
          foldRing(up.errEwma, up.err, up.folded, eFoldTo);
        }
        up.folded = eFoldTo;
      }
      const n = up.req.sum(eFrom, last);
      const errors = up.err.sum(eFrom, last);
      const ratio = n > 0 ? errors / n : 0;
      const baseRatio = warm && up.reqEwma.value > 0 ? up.errEwma.value / up.reqEwma.value : 0;
      const ku = up.burst ? x : 1;
      up.burst = errors >= o.errorBurstMin5xx * ku && ratio >= Math.max(o.errorBurstRatio, o.spikeFactor * m * baseRatio) * ku;
      if (up.burst) {
        emit(
          'error_burst',
          `upstream:${up.name}`,
          'high',
          `5xx burst on upstream ${up.name}: ${r(errors / E)} errors/s, ${pct(ratio)} of requests (usually ${pct(baseRatio)})`,
          { upstream: up.name, errors, requests: n, rate: r(errors / E), ratio: r(ratio), baselineRatio: r(baseRatio), windowS: E, warm },
          up.lastErr.event,
        );
      }
    }

    this.#signals += out.length;
    return out;
  }

  /**
   * A traffic spike (global or one endpoint) as a signal. What part of the excess over the baseline the top
   * source explains, and how many sources are new (over the usual number), say what it is: that source's
   * flood (already reported per source: nothing more), a distributed flood, or a plain rate spike.
   */
  #spikeSignal(
    emit: (detector: DetectorName, key: string, severity: Severity, title: string, detail: Signal['detail'], ev: RequestEvent | undefined) => void,
    p: {
      key: string;
      /** '' for global traffic */
      where: string;
      rate: number;
      base: number;
      sources: number;
      srcBase: number;
      topKey: string | undefined;
      topRate: number;
      topIsFlood: boolean;
      warm: boolean;
      extra: Record<string, string | number | boolean>;
      ev: RequestEvent | undefined;
    },
  ): void {
    const o = this.#o;
    const base = p.warm ? p.base : 0;
    const srcBase = p.warm ? p.srcBase : 0;
    const excess = Math.max(p.rate - base, 0);
    const newSources = Math.max(p.sources - srcBase, 0);
    const topShare = excess > 0 ? Math.min(1, p.topRate / excess) : 1;
    const detail = {
      ...p.extra,
      rate: r(p.rate),
      baseline: r(base),
      sources: Math.round(p.sources),
      baselineSources: r(srcBase),
      newSources: Math.round(newSources),
      topSource: p.topKey ?? '',
      topShare: r(topShare),
      windowS: o.rateWindowS,
      warm: p.warm,
    };
    const on = p.where ? ` on ${p.where}` : '';
    if (topShare >= o.singleSourceShare) {
      if (p.topIsFlood) return;
    } else if (newSources >= o.distributedMinSources && topShare <= o.distributedMaxTopShare) {
      emit(
        'flood',
        p.key,
        'high',
        `distributed flood${on}: ${r(p.rate)} req/s from ${Math.round(p.sources)} sources (baseline ${r(base)} req/s from ${r(srcBase)} sources; top source ${pct(topShare)} of the excess)`,
        { kind: 'distributed', ...detail },
        p.ev,
      );
      return;
    }
    emit(
      'rate_spike',
      p.key,
      'medium',
      `traffic spike${on}: ${r(p.rate)} req/s (baseline ${r(base)} req/s) from ${Math.round(p.sources)} sources; top source ${p.topKey ?? '?'} ${pct(topShare)} of the excess`,
      detail,
      p.ev,
    );
  }

  stats(): Record<string, number> {
    return {
      events: this.#events,
      lateEvents: this.#late,
      ignoredEvents: this.#ignored,
      sources: this.#sources.size,
      maxSources: this.#o.maxSources,
      sourceEvictions: this.#sourceEvictions,
      endpoints: this.#endpointCount + (this.#overflowEndpoint ? 1 : 0),
      endpointOverflowEvents: this.#endpointOverflow,
      upstreams: this.#upstreams.size,
      upstreamOverflowEvents: this.#upstreamOverflow,
      ticks: this.#ticks,
      signals: this.#signals,
      signalsDropped: this.#dropped,
      /** 0: absolute floors only, 1: young baselines (judging at twice their factors), 2: baselines judge */
      warmStage: [0, 2, 1][this.#judge()]!,
      baselineRps: r(this.#ewma.value),
      baselineSources: r(this.#srcEwma.value),
      typicalSourceRps: r(this.#typical),
    };
  }
}

/** The q-quantile (0..1) of `xs` (sorted in place). */
function quantile(xs: Float64Array, q: number): number {
  xs.sort();
  const i = Math.min(xs.length - 1, Math.max(0, Math.floor(q * (xs.length - 1))));
  return xs[i]!;
}

export function createDetectors(opts?: Partial<DetectorOptions>): Detectors {
  return new DetectorEngine({ ...DEFAULT_DETECTOR_OPTIONS, ...opts });
}
