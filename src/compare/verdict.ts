// The verdict: from summed EndpointAggregate rows (a Store's view), one entry per (route, endpoint,
// candidate upstream) saying pass, fail or insufficient_data and why, in stable machine-readable reasons,
// and one overall verdict. Pure and deterministic: the same rows give the same report, byte for byte.
import { latencyPercentiles, mergeLatency, type LatencyPercentiles } from './latency.ts';
import { fieldRates, findNoiseMark, isRegression } from './noise.ts';
import type { EndpointAggregate, LatencyPercentile, NoiseMark, Thresholds, Verdict } from './types.ts';

export interface FieldRegression {
  readonly field: string;
  readonly raw: number;
  readonly rawRate: number;
  readonly noise: number;
  readonly noiseRate: number;
}

/** A field that differed but does not count: the noise explains it, or a mark says it is noise. */
export interface NoisyField extends FieldRegression {
  readonly why: 'noise' | 'marked';
}

export type VerdictReason =
  | { readonly code: 'min_samples'; readonly compared: number; readonly needed: number; readonly message: string }
  | {
      readonly code: 'field_regression';
      readonly field: string;
      readonly rawRate: number;
      readonly noiseRate: number;
      readonly message: string;
    }
  | {
      readonly code: 'latency';
      /** the percentile compared (thresholds.latencyPercentile) */
      readonly percentile: LatencyPercentile;
      readonly ratio: number;
      readonly limit: number;
      /** that percentile of each side, ms */
      readonly primaryMs: number;
      readonly candidateMs: number;
      readonly message: string;
    }
  | {
      readonly code: 'errors';
      readonly delta: number;
      readonly limit: number;
      readonly primary: number;
      readonly candidate: number;
      readonly message: string;
    };

export type ReasonCode = VerdictReason['code'];

export interface SidePercentiles {
  readonly count: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

export interface EndpointVerdict {
  readonly route: string;
  readonly endpoint: string;
  /** the candidate upstream */
  readonly upstream: string;
  readonly verdict: Verdict;
  /** why it failed or has too little data; empty for a pass */
  readonly reasons: readonly VerdictReason[];
  readonly compared: number;
  readonly differing: number;
  /** differing / compared (0 when nothing was compared) */
  readonly diffRate: number;
  /** the noise the fields were judged against: secondary pairs compared (0 without a secondary) */
  readonly noiseCompared: number;
  /** sorted by how far the raw rate exceeds the noise rate, then by field */
  readonly regressions: readonly FieldRegression[];
  /** sorted by field */
  readonly noisyFields: readonly NoisyField[];
  readonly latency: {
    readonly primary: SidePercentiles;
    readonly candidate: SidePercentiles;
    /** candidate / primary; null unless both sides have values */
    readonly ratioP50: number | null;
    readonly ratioP99: number | null;
  };
  /** (errors5xx + failed) / exchanges per side, and candidate − primary */
  readonly errorRate: { readonly primary: number; readonly candidate: number; readonly delta: number };
}

export interface VerdictReport {
  /** epoch ms, as the caller passed it */
  readonly generatedAt: number;
  readonly verdict: Verdict;
  readonly thresholds: Thresholds;
  readonly summary: { readonly endpoints: number; readonly pass: number; readonly fail: number; readonly insufficient_data: number };
  /** sorted by route, endpoint, upstream */
  readonly endpoints: readonly EndpointVerdict[];
}

/** Rows of one role summed (a primary or secondary upstream renamed over time gives several rows). */
interface Summed {
  exchanges: number;
  compared: number;
  differing: number;
  errors5xx: number;
  failed: number;
  fields: Map<string, number>;
  latency: string[];
}

interface Group {
  route: string;
  endpoint: string;
  primary: Summed | undefined;
  secondary: Summed | undefined;
  candidates: Map<string, Summed>;
}

function emptySum(): Summed {
  return { exchanges: 0, compared: 0, differing: 0, errors5xx: 0, failed: 0, fields: new Map(), latency: [] };
}

function addRow(s: Summed, r: EndpointAggregate): void {
  s.exchanges += r.exchanges;
  s.compared += r.compared;
  s.differing += r.differing;
  s.errors5xx += r.errors5xx;
  s.failed += r.failed;
  for (const [f, n] of Object.entries(r.fields)) s.fields.set(f, (s.fields.get(f) ?? 0) + n);
  if (r.latency !== '') s.latency.push(r.latency);
}

function errorRate(s: Summed | undefined): number {
  if (s === undefined || s.exchanges === 0) return 0;
  return (s.errors5xx + s.failed) / s.exchanges;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/**
 * One entry per candidate of every (route, endpoint), judged in this order:
 * 1. fewer than `minSamples` compared pairs: insufficient_data — unless both sides saw `minSamples`
 *    exchanges and the candidate's error rate exceeds the primary's by more than `errorRateDelta`: a
 *    candidate that never answers cannot be compared, and must fail, not read as "too little data";
 * 2. any field whose raw rate beats the noise (noise.ts) and is not marked as noise: fail;
 * 3. candidate / primary at `latencyPercentile` (p99 by default) above `latencyRatio` and slower by more than
 *    `latencyMinDeltaMs` (sub-millisecond jitter is not a regression), when both have `minSamples` values: fail;
 * 4. error rate delta above `errorRateDelta`: fail;
 * 5. pass. Every failing rule adds a reason; the entry lists them all.
 * Overall: fail if any entry fails, pass if at least one passes and none fail, else insufficient_data.
 */
export function computeVerdict(
  rows: readonly EndpointAggregate[],
  marks: readonly NoiseMark[],
  t: Thresholds,
  now: number,
): VerdictReport {
  const groups = new Map<string, Group>();
  for (const r of rows) {
    const key = `${r.route}\u0000${r.endpoint}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { route: r.route, endpoint: r.endpoint, primary: undefined, secondary: undefined, candidates: new Map() };
      groups.set(key, g);
    }
    if (r.role === 'primary') addRow((g.primary ??= emptySum()), r);
    else if (r.role === 'secondary') addRow((g.secondary ??= emptySum()), r);
    else {
      let c = g.candidates.get(r.upstream);
      if (c === undefined) g.candidates.set(r.upstream, (c = emptySum()));
      addRow(c, r);
    }
  }

  const endpoints: EndpointVerdict[] = [];
  for (const g of groups.values()) {
    const primaryLatency = latencyPercentiles(mergeLatency(g.primary?.latency ?? []));
    for (const [upstream, c] of g.candidates) {
      endpoints.push(judge(g, upstream, c, primaryLatency, marks, t));
    }
  }
  endpoints.sort((a, b) => compareStrings(a.route, b.route) || compareStrings(a.endpoint, b.endpoint) || compareStrings(a.upstream, b.upstream));

  const summary = { endpoints: endpoints.length, pass: 0, fail: 0, insufficient_data: 0 };
  for (const e of endpoints) summary[e.verdict]++;
  const verdict: Verdict = summary.fail > 0 ? 'fail' : summary.pass > 0 ? 'pass' : 'insufficient_data';
  return { generatedAt: now, verdict, thresholds: { ...t }, summary, endpoints };
}

function judge(
  g: Group,
  upstream: string,
  c: Summed,
  primaryLatency: LatencyPercentiles,
  marks: readonly NoiseMark[],
  t: Thresholds,
): EndpointVerdict {
  const noise = g.secondary;
  const noiseCompared = noise?.compared ?? 0;

  const regressions: FieldRegression[] = [];
  const noisyFields: NoisyField[] = [];
  for (const [field, raw] of c.fields) {
    if (raw <= 0) continue;
    const n = noise?.fields.get(field) ?? 0;
    const counts = { raw, compared: c.compared, noise: n, noiseCompared };
    const { rawRate, noiseRate } = fieldRates(counts);
    const entry = { field, raw, rawRate, noise: n, noiseRate };
    if (findNoiseMark(field, g.endpoint, g.route, marks) !== undefined) noisyFields.push({ ...entry, why: 'marked' });
    else if (isRegression(counts, t)) regressions.push(entry);
    else noisyFields.push({ ...entry, why: 'noise' });
  }
  regressions.sort((a, b) => b.rawRate - b.noiseRate - (a.rawRate - a.noiseRate) || compareStrings(a.field, b.field));
  noisyFields.sort((a, b) => compareStrings(a.field, b.field));

  const candidateLatency = latencyPercentiles(mergeLatency(c.latency));
  const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);
  const ratioP50 = ratio(candidateLatency.p50, primaryLatency.p50);
  const ratioP99 = ratio(candidateLatency.p99, primaryLatency.p99);

  const primaryErr = errorRate(g.primary);
  const candidateErr = errorRate(c);
  const delta = candidateErr - primaryErr;

  const reasons: VerdictReason[] = [];
  const errorsFail = delta > t.errorRateDelta;
  const errorsReason: VerdictReason = {
    code: 'errors',
    delta,
    limit: t.errorRateDelta,
    primary: primaryErr,
    candidate: candidateErr,
    message: `error rate ${pct(candidateErr)} against the primary's ${pct(primaryErr)}: +${pct(delta)}, limit +${pct(t.errorRateDelta)}`,
  };

  let verdict: Verdict;
  if (c.compared < t.minSamples) {
    reasons.push({
      code: 'min_samples',
      compared: c.compared,
      needed: t.minSamples,
      message: `${c.compared} compared pairs, ${t.minSamples} needed`,
    });
    const enoughExchanges = c.exchanges >= t.minSamples && (g.primary?.exchanges ?? 0) >= t.minSamples;
    if (enoughExchanges && errorsFail) reasons.push(errorsReason);
    verdict = enoughExchanges && errorsFail ? 'fail' : 'insufficient_data';
  } else {
    for (const r of regressions) {
      reasons.push({
        code: 'field_regression',
        field: r.field,
        rawRate: r.rawRate,
        noiseRate: r.noiseRate,
        message: `${r.field} differs in ${pct(r.rawRate)} of pairs, noise ${pct(r.noiseRate)}`,
      });
    }
    const pc = t.latencyPercentile;
    const cMs = candidateLatency[pc];
    const pMs = primaryLatency[pc];
    const ratioAt = ratio(cMs, pMs);
    if (
      ratioAt !== null &&
      candidateLatency.count >= t.minSamples &&
      primaryLatency.count >= t.minSamples &&
      ratioAt > t.latencyRatio &&
      cMs! - pMs! > t.latencyMinDeltaMs
    ) {
      reasons.push({
        code: 'latency',
        percentile: pc,
        ratio: ratioAt,
        limit: t.latencyRatio,
        primaryMs: pMs!,
        candidateMs: cMs!,
        message: `${pc} ${cMs!} ms against the primary's ${pMs!} ms: ×${ratioAt.toFixed(2)}, limit ×${t.latencyRatio}`,
      });
    }
    if (errorsFail) reasons.push(errorsReason);
    verdict = reasons.length > 0 ? 'fail' : 'pass';
  }

  return {
    route: g.route,
    endpoint: g.endpoint,
    upstream,
    verdict,
    reasons,
    compared: c.compared,
    differing: c.differing,
    diffRate: c.compared > 0 ? c.differing / c.compared : 0,
    noiseCompared,
    regressions,
    noisyFields,
    latency: { primary: primaryLatency, candidate: candidateLatency, ratioP50, ratioP99 },
    errorRate: { primary: primaryErr, candidate: candidateErr, delta },
  };
}
