// Latency percentiles of one series (a primary or a mirror of one route), in an HDR histogram.
import { build, type Histogram } from 'hdr-histogram-js';

/** Milliseconds; percentiles are null until the first sample. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  readonly max: number | null;
}

const LOWEST_US = 1;
const HIGHEST_US = 60_000_000;

export class LatencyRecorder {
  // Microseconds from 1 µs to 60 s at 3 significant digits: every reported percentile is within 0.1%.
  // 64-bit float counts (~140 KiB per series) because 32-bit ones throw once one bucket passes 2^31 samples,
  // which a long-lived, busy route reaches in days. Pure JS: the WebAssembly build is never initialised.
  readonly #histogram: Histogram = build({
    lowestDiscernibleValue: LOWEST_US,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 64,
    autoResize: false,
    useWebAssembly: false,
  });
  /** the exact maximum: samples beyond 60 s are clamped in the histogram, not here */
  #maxMs = 0;
  #cached: LatencySummary | undefined;

  record(durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs < 0) return;
    const us = Math.min(HIGHEST_US, Math.max(LOWEST_US, Math.round(durationMs * 1000)));
    this.#histogram.recordValue(us);
    if (durationMs > this.#maxMs) this.#maxMs = durationMs;
    this.#cached = undefined;
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  /** Cached until the next sample: walking the buckets costs ~10k steps, and idle series are polled by the UI. */
  summary(): LatencySummary {
    this.#cached ??= this.#compute();
    return this.#cached;
  }

  #compute(): LatencySummary {
    const h = this.#histogram;
    const count = h.totalCount;
    if (count === 0) return { count, p50: null, p90: null, p99: null, p999: null, max: null };
    // A bucket reports its highest equivalent value (up to 0.1% above the samples in it): never above the real max.
    const at = (p: number) => Math.min(h.getValueAtPercentile(p) / 1000, this.#maxMs);
    return { count, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: this.#maxMs };
  }
}
