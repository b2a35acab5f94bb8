// The replay loop: takes planned requests in order, waits for each one's absolute deadline (start + due), waits
// for a free slot when `concurrency` requests are in flight (counted: such a start is late because of the
// concurrency, not the timers), sends, and hands every answer to `onResult` (compare). Stops at --duration, at the
// end of the input, or when `signal` aborts; then waits for what is in flight, each bounded by its timeout.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { HarEntry } from '../capture/har.ts';
import type { ReadStats } from '../capture/read.ts';
import type { Filter } from './filter.ts';
import type { Pacing } from './pacing.ts';
import type { HeaderOverride, ReplayRequest } from './request.ts';
import { send, type SendResult } from './send.ts';
import { plannedRequests } from './source.ts';
import { ReplayStats, type ReplaySummary } from './stats.ts';

export interface ReplayOptions {
  readonly input: string;
  readonly dispatcher: Dispatcher;
  /** the target URL's path, prefixed to every request path ('' for none) */
  readonly basePath: string;
  readonly pacing: Pacing;
  readonly concurrency: number;
  readonly durationMs?: number;
  readonly loop: boolean;
  readonly filters: readonly Filter[];
  readonly headers: readonly HeaderOverride[];
  readonly timeoutMs: number;
  /** keep response headers and bodies (for compare), up to `cap` bytes each */
  readonly keep: boolean;
  readonly cap: number;
  readonly readStats: ReadStats;
  readonly onResult?: (entry: HarEntry, request: ReplayRequest, result: SendResult) => void;
  readonly signal?: AbortSignal;
}

export interface Replay {
  /** live counters, for progress */
  readonly stats: ReplayStats;
  /** performance.now() at the start */
  readonly startedAt: number;
  readonly done: Promise<ReplaySummary>;
}

export function startReplay(opts: ReplayOptions): Replay {
  const stats = new ReplayStats();
  const start = performance.now();
  return { stats, startedAt: start, done: run(opts, stats, start) };
}

async function run(opts: ReplayOptions, stats: ReplayStats, start: number): Promise<ReplaySummary> {
  const paced = opts.pacing.kind !== 'unpaced';
  const stopped = () => opts.signal?.aborted === true || (opts.durationMs !== undefined && performance.now() - start >= opts.durationMs);
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  let drained: (() => void) | undefined;
  const base = opts.basePath.replace(/\/+$/, '');

  const finished = (planned: { entry: HarEntry; request: ReplayRequest }, r: SendResult) => {
    inFlight--;
    if (r.status !== undefined) stats.answered(r.status, r.totalMs);
    else stats.failedWith(r.failure ?? 'reset');
    try {
      opts.onResult?.(planned.entry, planned.request, r);
    } finally {
      const s = slotFreed;
      slotFreed = undefined;
      s?.();
      if (inFlight === 0) drained?.();
    }
  };

  const source = plannedRequests(
    { input: opts.input, pacing: opts.pacing, loop: opts.loop, filters: opts.filters, headers: opts.headers, readStats: opts.readStats, stopped },
    stats,
  );
  try {
    for await (const p of source) {
      if (opts.durationMs !== undefined && p.due >= opts.durationMs) break;
      const wait = start + p.due - performance.now();
      // Timers fire late, never early: sleeping to the deadline and sending what is due on waking keeps the
      // error per start to the timer's granularity (~1 ms) without ever accumulating.
      if (wait >= 1) {
        try {
          await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : undefined);
        } catch {
          break; // aborted
        }
      }
      let waited = false;
      while (inFlight >= opts.concurrency) {
        waited = true;
        await new Promise<void>((resolve) => (slotFreed = resolve));
      }
      if (stopped()) break;
      stats.started(performance.now() - start, p.due, paced, waited);
      inFlight++;
      const request = base === '' ? p.request : { ...p.request, path: `${base}${p.request.path}` };
      send(opts.dispatcher, request, { timeoutMs: opts.timeoutMs, keep: opts.keep, cap: opts.cap }, (r) => finished(p, r));
    }
  } finally {
    if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
  }
  return stats.summary(performance.now() - start);
}
