// Latency histograms for compare: time to last byte in microseconds, in hdr-histogram-js histograms that
// travel as compressed base64 strings (EndpointDelta.latency) and merge by addition, so per-process deltas
// sum to the same percentiles whoever merges them. Pure: no I/O, no clock.
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** 1 µs to 60 s at 3 significant digits: every percentile is within 0.1% of a recorded value. */
export const LOWEST_US = 1;
export const HIGHEST_US = 60_000_000;
const DIGITS = 3;

/** Percentiles in milliseconds; null while the histogram is empty. */
export interface LatencyPercentiles {
  readonly count: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

/**
 * An empty histogram with 64-bit float counts (exact to 2^53, never overflows). ~140 KiB: meant for
 * short-lived work (merging, encoding); to hold many series use LatencyCounts.
 */
export function createLatencyHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: LOWEST_US,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: DIGITS,
    bitBucketSize: 64,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Microseconds for a duration in milliseconds, clamped to the histogram's range; undefined for NaN, negative, infinite. */
export function toMicros(ms: number): number | undefined {
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(HIGHEST_US, Math.max(LOWEST_US, Math.round(ms * 1000)));
}

/** Record one duration given in milliseconds (see toMicros). */
export function recordLatencyMs(h: Histogram, ms: number): void {
  const us = toMicros(ms);
  if (us !== undefined) h.recordValue(us);
}

/** Compressed base64, or '' for an empty (or absent) histogram, as EndpointDelta.latency wants. */
export function encodeLatency(h: Histogram | undefined): string {
  if (h === undefined || h.totalCount === 0) return '';
  return hdr.encodeIntoCompressedBase64(h);
}

/** The histogram a string encodes; undefined for '' and for a string that is not a valid encoding. */
export function decodeLatency(encoded: string): Histogram | undefined {
  if (encoded === '') return undefined;
  try {
    return hdr.decodeFromCompressedBase64(encoded, 64, false);
  } catch {
    return undefined;
  }
}

/** The sum of several encoded histograms ('' and invalid strings are skipped): always a histogram, maybe empty. */
export function mergeLatency(encoded: Iterable<string>): Histogram {
  const out = createLatencyHistogram();
  for (const e of encoded) {
    const h = decodeLatency(e);
    if (h !== undefined) out.add(h);
  }
  return out;
}

/** mergeLatency, encoded again ('' when everything was empty). */
export function mergeEncodedLatency(encoded: Iterable<string>): string {
  return encodeLatency(mergeLatency(encoded));
}

/** p50/p90/p99 in milliseconds (µs resolution, a bucket's highest equivalent value) and the sample count. */
export function latencyPercentiles(h: Histogram | undefined): LatencyPercentiles {
  const count = h?.totalCount ?? 0;
  if (h === undefined || count === 0) return { count: 0, p50: null, p90: null, p99: null };
  const at = (p: number) => h.getValueAtPercentile(p) / 1000;
  return { count, p50: at(50), p90: at(90), p99: at(99) };
}

/** Percentiles of the merge of one or more encoded histograms. */
export function summarizeLatency(encoded: string | Iterable<string>): LatencyPercentiles {
  return latencyPercentiles(mergeLatency(typeof encoded === 'string' ? [encoded] : encoded));
}

/** One scratch histogram per process for bucketing and encoding; JS is single-threaded and it is reset before use. */
let scratch: hdr.Float64Histogram | undefined;
function scratchHistogram(): hdr.Float64Histogram {
  scratch ??= new hdr.Float64Histogram(LOWEST_US, HIGHEST_US, DIGITS);
  return scratch;
}

/**
 * A sparse histogram for holding many series at once: counts per HDR bucket in a Map (a few hundred bytes
 * for a typical series, at most one entry per bucket), ~50 ns per record, and an encoding identical to a
 * Histogram's with the same samples. A packed hdr histogram would be as small but costs ~1.5 µs per
 * record and ~1 ms per encode; a flat one is 70–140 KiB per series.
 */
export class LatencyCounts {
  readonly #buckets = new Map<number, number>();
  #count = 0;

  /** Record one duration in milliseconds (see toMicros). */
  record(ms: number): void {
    const us = toMicros(ms);
    if (us === undefined) return;
    const b = scratchHistogram().lowestEquivalentValue(us);
    this.#buckets.set(b, (this.#buckets.get(b) ?? 0) + 1);
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** Compressed base64 ('' when empty). */
  encode(): string {
    if (this.#count === 0) return '';
    const h = scratchHistogram();
    h.reset();
    for (const [b, n] of this.#buckets) h.recordValueWithCount(b, n);
    return hdr.encodeIntoCompressedBase64(h);
  }

  clear(): void {
    this.#buckets.clear();
    this.#count = 0;
  }
}
