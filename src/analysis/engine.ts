// The analysis engine: request events go into a bounded queue after the client was answered, and are analysed
// on the main thread in short slices (a few µs each for ordinary traffic: counters and a signature prefilter),
// so the data plane is never held up. Past the queue bound an event is skipped and counted. A 1 s tick runs
// the windowed detectors and resolves silent findings; every transition goes to one callback (store, alerts,
// metrics).
import type { RequestEvent, Signal } from './types.ts';

export interface AnalysisEngineOptions<T> {
  /** per event: feed the detectors and the performance view; returns the signals it raises at once (signatures) */
  readonly observe: (e: RequestEvent) => readonly Signal[];
  /** per tick: the windowed detectors' signals */
  readonly tick: (now: number) => readonly Signal[];
  /** fold one signal into the findings; a transition when a finding opened or changed */
  readonly track: (s: Signal) => T | undefined;
  /** per tick: findings that resolved */
  readonly resolve: (now: number) => readonly T[];
  readonly onTransitions: (ts: readonly T[]) => void;
  readonly onError: (message: string, err: unknown) => void;
  /** events waiting at most */
  readonly queue: number;
  readonly tickMs?: number;
  /** epoch ms (tests inject it) */
  readonly now?: () => number;
  /** longest slice of the event loop analysis takes at once */
  readonly sliceMs?: number;
  /**
   * how long an event may wait before its batch is analysed (default 10 ms). A timer, not setImmediate: a pending
   * immediate makes every turn of the event loop poll without waiting, so the proxy's I/O would be gathered in
   * smaller batches (measured: more CPU per proxied request than the analysis itself costs).
   */
  readonly batchMs?: number;
}

export interface AnalysisStats {
  readonly accepted: number;
  /** skipped because the queue was full (analysis fell behind) */
  readonly skipped: number;
  readonly processed: number;
  readonly signals: number;
  readonly depth: number;
  readonly errors: number;
}

export class AnalysisEngine<T> {
  readonly #o: AnalysisEngineOptions<T>;
  #queue: RequestEvent[] = [];
  #head = 0;
  #scheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #accepted = 0;
  #skipped = 0;
  #processed = 0;
  #signals = 0;
  #errors = 0;
  #closed = false;

  constructor(opts: AnalysisEngineOptions<T>) {
    this.#o = opts;
    this.#timer = setInterval(() => this.tickNow(), opts.tickMs ?? 1000);
    this.#timer.unref();
  }

  get #depth(): number {
    return this.#queue.length - this.#head;
  }

  /** Never blocks, never throws: past the bound the event is skipped and counted. */
  offer(e: RequestEvent): boolean {
    if (this.#closed) return false;
    if (this.#depth >= this.#o.queue) {
      this.#skipped++;
      return false;
    }
    this.#queue.push(e);
    this.#accepted++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(this.#run, this.#o.batchMs ?? 10).unref();
    }
    return true;
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    const until = performance.now() + (this.#o.sliceMs ?? 2);
    const out: T[] = [];
    let n = 0;
    while (this.#head < this.#queue.length && (n === 0 || performance.now() < until)) {
      const e = this.#queue[this.#head++]!;
      n++;
      try {
        for (const s of this.#o.observe(e)) this.#fold(s, out);
      } catch (err) {
        this.#error('analysis failed on a request', err);
      }
    }
    this.#processed += n;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (out.length) this.#emit(out);
    // behind: the rest right after the I/O of this turn, in slices
    if (this.#depth > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  };

  #fold(s: Signal, out: T[]): void {
    this.#signals++;
    const t = this.#o.track(s);
    if (t !== undefined) out.push(t);
  }

  #emit(ts: T[]): void {
    try {
      this.#o.onTransitions(ts);
    } catch (err) {
      this.#error('handling findings failed', err);
    }
  }

  #error(message: string, err: unknown): void {
    this.#errors++;
    // one log line per failure kind is enough: the counter tells how many
    if (this.#errors <= 5) this.#o.onError(message, err);
  }

  /** Runs the windowed detectors and resolution now (the 1 s timer calls it; tests call it with their clock). */
  tickNow(now = (this.#o.now ?? Date.now)()): void {
    const out: T[] = [];
    try {
      for (const s of this.#o.tick(now)) this.#fold(s, out);
      for (const t of this.#o.resolve(now)) out.push(t);
    } catch (err) {
      this.#error('analysis tick failed', err);
    }
    if (out.length) this.#emit(out);
  }

  /** Analyses everything queued now (tests, shutdown). */
  drain(): void {
    while (this.#depth > 0) this.#run();
  }

  stats(): AnalysisStats {
    return { accepted: this.#accepted, skipped: this.#skipped, processed: this.#processed, signals: this.#signals, depth: this.#depth, errors: this.#errors };
  }

  close(): void {
    if (this.#closed) return;
    this.drain();
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
