// The stream of requests a replay sends: captured entries read from a file or directory (src/capture/read.ts),
// filtered, turned into requests, re-ordered by recorded start time within a bounded window (a capture is written
// when a trial ends, so entries arrive in completion order), looped when asked, each with its due offset.
import type { HarEntry } from '../capture/har.ts';
import { readCapture, type ReadStats } from '../capture/read.ts';
import { compileFilters, type Filter } from './filter.ts';
import { Schedule, type Pacing } from './pacing.ts';
import { pathOf, replayRequest, type HeaderOverride, type ReplayRequest, type SkipReason } from './request.ts';
import type { ReplayStats } from './stats.ts';

export interface Planned {
  readonly entry: HarEntry;
  readonly request: ReplayRequest;
  /** ms after the replay's start */
  readonly due: number;
}

/** Entries held to restore start-time order; a later entry that started before all of them is sent late. */
export const REORDER_WINDOW = 1024;

/**
 * A looped input whose sendable entries fit in this many bytes (estimated from their text) is read and parsed
 * once: later passes send from memory, so an unpaced loop measures the target, not our JSON parser. A larger
 * input is read again each pass, in constant memory.
 */
export const LOOP_CACHE_BYTES = 128 * 1024 * 1024;

/** What an entry costs to keep in memory, roughly: its text. */
function estimatedBytes(e: HarEntry, r: ReplayRequest): number {
  let n = 256 + e.request.url.length + (r.body?.length ?? 0) + (e.response.content.text?.length ?? 0);
  for (const h of e.request.headers) n += h.name.length + h.value.length + 32;
  for (const h of e.response.headers) n += h.name.length + h.value.length + 32;
  return n;
}

interface Cached {
  readonly entry: HarEntry;
  readonly request: ReplayRequest;
  readonly at: number;
}

export interface SourceOptions {
  readonly input: string;
  readonly pacing: Pacing;
  readonly loop: boolean;
  readonly filters: readonly Filter[];
  readonly headers: readonly HeaderOverride[];
  readonly readStats: ReadStats;
  /** stops between passes (and is checked per entry) */
  readonly stopped: () => boolean;
}

/** Recorded start, epoch ms. */
export function startedAt(e: HarEntry): number {
  const at = e._tapwire?.at;
  return typeof at === 'number' && Number.isFinite(at) ? at : Date.parse(e.startedDateTime);
}

export async function* plannedRequests(opts: SourceOptions, stats: ReplayStats): AsyncGenerator<Planned> {
  const schedule = new Schedule(opts.pacing);
  const keep = compileFilters(opts.filters);
  const reorder = opts.pacing.kind === 'speed';
  // The first pass, in the order it was sent, while it fits (loop only); then what it read, skipped and sent.
  let cache: Cached[] | undefined = opts.loop ? [] : undefined;
  let cacheBytes = 0;
  const keepForLoop = (c: Cached): void => {
    if (!cache) return;
    cacheBytes += estimatedBytes(c.entry, c.request);
    if (cacheBytes > LOOP_CACHE_BYTES) cache = undefined;
    else cache.push(c);
  };
  for (;;) {
    stats.passes++;
    let sendable = 0;
    const skipsBefore = { ...stats.skipped };
    const readBefore = stats.read;
    const heap = new MinHeap<{ at: number; seq: number; entry: HarEntry; request: ReplayRequest }>((a, b) => a.at - b.at || a.seq - b.seq);
    let seq = 0;
    for await (const entry of readCapture(opts.input, opts.readStats)) {
      if (opts.stopped()) return;
      stats.read++;
      const path = pathOf(entry.request.url);
      if (path === undefined) {
        stats.skip('bad_url');
        continue;
      }
      if (!keep(entry.request.method, path.split('?', 1)[0]!)) {
        stats.skip('filtered');
        continue;
      }
      const request = replayRequest(entry, opts.headers);
      if (typeof request === 'string') {
        stats.skip(request);
        continue;
      }
      sendable++;
      if (!reorder) {
        keepForLoop({ entry, request, at: 0 });
        yield { entry, request, due: schedule.next(0) };
        continue;
      }
      heap.push({ at: startedAt(entry), seq: seq++, entry, request });
      if (heap.size > REORDER_WINDOW) {
        const first = heap.pop()!;
        keepForLoop(first);
        yield { entry: first.entry, request: first.request, due: schedule.next(first.at) };
      }
    }
    for (let first = heap.pop(); first !== undefined; first = heap.pop()) {
      if (opts.stopped()) return;
      keepForLoop(first);
      yield { entry: first.entry, request: first.request, due: schedule.next(first.at) };
    }
    // A loop over an input with nothing to send would spin: one empty pass ends the replay.
    if (!opts.loop || sendable === 0 || opts.stopped()) return;
    schedule.newPass();
    if (cache) {
      // Every later pass from memory, counted as if read again: the same reads and skips per pass.
      const read = stats.read - readBefore;
      const skipped = Object.entries(stats.skipped).map(([k, v]) => [k as SkipReason, (v ?? 0) - (skipsBefore[k as SkipReason] ?? 0)] as const);
      const passes = cache;
      for (;;) {
        stats.passes++;
        stats.read += read;
        for (const [reason, n] of skipped) if (n > 0) stats.skipped[reason] = (stats.skipped[reason] ?? 0) + n;
        for (const c of passes) {
          if (opts.stopped()) return;
          yield { entry: c.entry, request: c.request, due: schedule.next(c.at) };
        }
        if (opts.stopped()) return;
        schedule.newPass();
      }
    }
  }
}

class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => number;
  constructor(less: (a: T, b: T) => number) {
    this.#less = less;
  }
  get size(): number {
    return this.#items.length;
  }
  push(v: T): void {
    const a = this.#items;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (this.#less(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.#less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
