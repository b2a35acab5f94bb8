// What a replay counts: requests sent, answered (by status class), failed (by kind), skipped (by reason), late
// starts, the target's latency and the pacing's own accuracy (start lateness, inter-arrival error), all in
// bounded HDR histograms. Pure data plus a summary.
import type { Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram, recordLatencyMs } from '../compare/latency.ts';
import type { FailureKind } from './send.ts';
import type { SkipReason } from './request.ts';

/** A start later than this after its deadline counts as late. */
export const LATE_MS = 5;

export interface ReplaySummary {
  /** entries read from the input (every pass) */
  readonly read: number;
  readonly sent: number;
  /** answered, any status */
  readonly ok: number;
  readonly byClass: Readonly<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>>;
  readonly failed: number;
  readonly failures: Readonly<Record<FailureKind, number>>;
  readonly skipped: Readonly<Partial<Record<SkipReason, number>>>;
  /** requests that started more than LATE_MS after their deadline (paced runs only) */
  readonly late: number;
  /** of those, how many waited for a free slot (the concurrency was the bottleneck) */
  readonly lateForSlot: number;
  readonly maxLateMs: number;
  readonly elapsedMs: number;
  /** sent per second over elapsedMs */
  readonly rate: number;
  /** target latency, ms (answered requests) */
  readonly latency: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly max: number | null };
  /** paced runs: |actual gap − scheduled gap| between consecutive starts, ms */
  readonly interArrivalError: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null };
  /** passes over the input started */
  readonly passes: number;
}

const ms = (h: Histogram, p: number): number | null => (h.totalCount === 0 ? null : h.getValueAtPercentile(p) / 1000);
const max = (h: Histogram): number | null => (h.totalCount === 0 ? null : h.maxValue / 1000);

export class ReplayStats {
  read = 0;
  sent = 0;
  ok = 0;
  failed = 0;
  late = 0;
  lateForSlot = 0;
  maxLateMs = 0;
  passes = 0;
  readonly byClass = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  readonly failures: Record<FailureKind, number> = { timeout: 0, connect_error: 0, reset: 0, tls_error: 0 };
  readonly skipped: Partial<Record<SkipReason, number>> = {};
  readonly #latency = createLatencyHistogram();
  readonly #gapError = createLatencyHistogram();
  #prevStart: number | undefined;
  #prevDue: number | undefined;

  skip(reason: SkipReason): void {
    this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
  }

  /** A request started at `start` (ms since the replay began), due at `due`; `waited`: it had to wait for a slot. */
  started(start: number, due: number, paced: boolean, waited: boolean): void {
    this.sent++;
    if (!paced) return;
    const lateness = start - due;
    if (lateness > LATE_MS) {
      this.late++;
      if (waited) this.lateForSlot++;
    }
    if (lateness > this.maxLateMs) this.maxLateMs = lateness;
    if (this.#prevStart !== undefined && this.#prevDue !== undefined) {
      recordLatencyMs(this.#gapError, Math.abs(start - this.#prevStart - (due - this.#prevDue)));
    }
    this.#prevStart = start;
    this.#prevDue = due;
  }

  answered(status: number, totalMs: number): void {
    this.ok++;
    const c = status < 200 ? '1xx' : status < 300 ? '2xx' : status < 400 ? '3xx' : status < 500 ? '4xx' : '5xx';
    this.byClass[c]++;
    recordLatencyMs(this.#latency, totalMs);
  }

  failedWith(kind: FailureKind): void {
    this.failed++;
    this.failures[kind]++;
  }

  summary(elapsedMs: number): ReplaySummary {
    return {
      read: this.read,
      sent: this.sent,
      ok: this.ok,
      byClass: { ...this.byClass },
      failed: this.failed,
      failures: { ...this.failures },
      skipped: { ...this.skipped },
      late: this.late,
      lateForSlot: this.lateForSlot,
      maxLateMs: this.maxLateMs,
      elapsedMs,
      rate: elapsedMs > 0 ? (this.sent * 1000) / elapsedMs : 0,
      latency: { p50: ms(this.#latency, 50), p90: ms(this.#latency, 90), p99: ms(this.#latency, 99), max: max(this.#latency) },
      interArrivalError: { p50: ms(this.#gapError, 50), p99: ms(this.#gapError, 99), max: max(this.#gapError) },
      passes: this.passes,
    };
  }
}

const fmt = (v: number | null): string => (v === null ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));

/** The summary as lines for a terminal or a log (stderr). */
export function formatSummary(s: ReplaySummary, paced: boolean): string {
  const lines: string[] = [];
  const classes = Object.entries(s.byClass)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
  lines.push(`replay: sent ${s.sent} in ${(s.elapsedMs / 1000).toFixed(1)} s (${s.rate.toFixed(1)} req/s), ok ${s.ok}${classes ? ` (${classes})` : ''}, errors ${s.failed}`);
  if (s.failed > 0) {
    const kinds = Object.entries(s.failures)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(`  errors by kind: ${kinds}`);
  }
  const skipped = Object.entries(s.skipped).filter(([, n]) => (n ?? 0) > 0);
  if (skipped.length > 0) lines.push(`  skipped: ${skipped.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push(`  latency ms: p50 ${fmt(s.latency.p50)}, p90 ${fmt(s.latency.p90)}, p99 ${fmt(s.latency.p99)}, max ${fmt(s.latency.max)}`);
  if (paced) {
    lines.push(
      `  pacing: late starts (> ${LATE_MS} ms) ${s.late}${s.lateForSlot > 0 ? ` (${s.lateForSlot} waited for a free slot: raise --concurrency)` : ''}, ` +
        `max lateness ${fmt(s.maxLateMs)} ms, inter-arrival error p50 ${fmt(s.interArrivalError.p50)} / p99 ${fmt(s.interArrivalError.p99)} ms`,
    );
  }
  return `${lines.join('\n')}\n`;
}
