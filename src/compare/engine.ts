// The compare engine: takes trials off the data plane after the client was answered, keeps a bounded queue to
// the compare worker thread (past the bound a trial is dropped and counted, never buffered), and hands every
// flushed batch of aggregates to a sink (the store). With `worker: false` the same processor runs on the main
// thread in small time slices instead.
import { Worker } from 'node:worker_threads';
import type { Trial } from '../core/exchange.ts';
import { CompareProcessor, exchangeMessage, type ProcessorSettings, type TrialMessage } from './processor.ts';
import type { CompareBatch } from './types.ts';

export type ToWorker =
  | { readonly type: 'trials'; readonly trials: readonly TrialMessage[] }
  | { readonly type: 'settings'; readonly settings: ProcessorSettings }
  | { readonly type: 'flush'; readonly id: number }
  | { readonly type: 'close'; readonly id: number };

export type FromWorker =
  | { readonly type: 'done'; readonly n: number; readonly failed: number }
  | { readonly type: 'batch'; readonly batch?: CompareBatch; readonly id?: number; readonly stats: WorkerStats }
  | { readonly type: 'error'; readonly message: string };

export type WorkerStats = Readonly<Record<string, number>>;

export type DropReason = 'queue_full' | 'worker_error' | 'store_backlog' | 'shutdown';

export interface EngineOptions {
  readonly settings: ProcessorSettings;
  /** trials queued or being compared at most */
  readonly queue: number;
  /** trials admitted per second at most (a token bucket with one second of burst); 0: no limit */
  readonly maxPerSecond: number;
  /** monotonic clock in ms (tests) */
  readonly now?: () => number;
  readonly flushIntervalMs: number;
  readonly worker: boolean;
  /** writes one batch (the store); called one at a time */
  readonly sink: (batch: CompareBatch) => Promise<void>;
  readonly onError: (message: string, err?: unknown) => void;
}

export interface EngineStats {
  /** trials accepted into the queue since start */
  readonly accepted: number;
  /** requests not made into trials because compare was at its maxPerSecond budget */
  readonly sampledOut: number;
  /** trials dropped, by reason, since start */
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** trials compared (or failed in the differ) since start */
  readonly processed: number;
  /** trials the differ threw on */
  readonly failed: number;
  /** queued or being compared now */
  readonly depth: number;
  /** batches written to the sink, and failed writes */
  readonly batches: number;
  readonly sinkErrors: number;
  /** the processor's own counters at its last flush */
  readonly processor: Readonly<Record<string, number>>;
}

/** Batches waiting for the sink at most; older ones are dropped past it (the store is down or slow). */
const MAX_SINK_BACKLOG = 16;
/** Trials per message to the worker, and how long a partial batch may wait. */
const POST_BATCH = 256;

function toMessage(t: Trial): TrialMessage {
  return {
    id: t.id,
    route: t.route,
    at: t.at,
    method: t.request.method,
    path: t.request.path,
    headers: t.request.headers,
    ...(t.request.body ? { body: t.request.body } : {}),
    primary: exchangeMessage(t.primary),
    others: t.mirrors.map(exchangeMessage),
  };
}

export class CompareEngine {
  readonly #opts: EngineOptions;
  #settings: ProcessorSettings;
  #worker: Worker | undefined;
  #inline: CompareProcessor | undefined;
  #inlineQueue: TrialMessage[] = [];
  #inlineTimer: NodeJS.Timeout | undefined;
  #outbox: TrialMessage[] = [];
  #scheduled = false;
  #depth = 0;
  #accepted = 0;
  #sampledOut = 0;
  #tokens: number;
  #refilled: number;
  #processed = 0;
  #failed = 0;
  #batches = 0;
  #sinkErrors = 0;
  readonly #dropped: Record<DropReason, number> = { queue_full: 0, worker_error: 0, store_backlog: 0, shutdown: 0 };
  #processorStats: Record<string, number> = {};
  #sinkQueue: CompareBatch[] = [];
  #sinking: Promise<void> | undefined;
  #flushId = 0;
  readonly #flushWaiters = new Map<number, () => void>();
  #closed = false;

  constructor(opts: EngineOptions) {
    this.#opts = opts;
    this.#settings = opts.settings;
    this.#tokens = opts.maxPerSecond;
    this.#refilled = opts.now ? opts.now() : performance.now();
    if (opts.worker) this.#startWorker();
    else this.#startInline();
  }

  #startWorker(): void {
    const workerData = { settings: this.#settings, flushIntervalMs: this.#opts.flushIntervalMs };
    let worker: Worker;
    if (import.meta.url.endsWith('.ts')) {
      // Running from source (tsx): a worker does not inherit the TypeScript loader, so it registers it first.
      const loader = import.meta.resolve('tsx/esm/api');
      const entry = new URL('./worker.ts', import.meta.url).href;
      const boot = `import(${JSON.stringify(loader)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
      worker = new Worker(boot, { eval: true, workerData });
    } else {
      worker = new Worker(new URL('./worker.js', import.meta.url), { workerData });
    }
    worker.unref();
    worker.on('message', (m: FromWorker) => this.#onWorkerMessage(m));
    worker.on('error', (err) => this.#opts.onError('the compare worker failed; restarting it', err));
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      // Trials it held are lost: count them; a flush someone waits on will not come.
      this.#dropped.worker_error += this.#depth;
      this.#depth = 0;
      for (const done of this.#flushWaiters.values()) done();
      this.#flushWaiters.clear();
      if (!this.#closed) {
        this.#opts.onError(`the compare worker exited (code ${code}); restarting it`);
        setTimeout(() => {
          if (!this.#closed && !this.#worker) this.#startWorker();
        }, 1000).unref();
      }
    });
    this.#worker = worker;
  }

  #startInline(): void {
    this.#inline = new CompareProcessor(this.#settings, { now: Date.now, random: Math.random });
    this.#inlineTimer = setInterval(() => this.#inlineFlush(), this.#opts.flushIntervalMs);
    this.#inlineTimer.unref();
  }

  #onWorkerMessage(m: FromWorker): void {
    switch (m.type) {
      case 'done':
        this.#depth -= m.n;
        this.#processed += m.n;
        this.#failed += m.failed;
        break;
      case 'batch':
        this.#processorStats = { ...m.stats };
        if (m.batch) this.#toSink(m.batch);
        if (m.id !== undefined) {
          const done = this.#flushWaiters.get(m.id);
          this.#flushWaiters.delete(m.id);
          if (done) void this.#drainSink().then(done);
        }
        break;
      case 'error':
        this.#opts.onError(`compare failed on a trial: ${m.message}`);
        break;
    }
  }

  /**
   * Whether one more request may become a trial now: compare's CPU stays bounded whatever the traffic, and
   * its statistics stay valid, since they are rates over a random subset. Asked before the request is copied.
   */
  admit(): boolean {
    const max = this.#opts.maxPerSecond;
    if (max <= 0 || this.#closed) return !this.#closed;
    const now = this.#opts.now ? this.#opts.now() : performance.now();
    this.#tokens = Math.min(max, this.#tokens + ((now - this.#refilled) * max) / 1000);
    this.#refilled = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    this.#sampledOut++;
    return false;
  }

  /** Offers one trial; false when it was dropped (queue full, or closed). Never blocks, never throws. */
  offer(trial: Trial): boolean {
    if (this.#closed) {
      this.#dropped.shutdown++;
      return false;
    }
    if (this.#depth >= this.#opts.queue) {
      this.#dropped.queue_full++;
      return false;
    }
    this.#depth++;
    this.#accepted++;
    const message = toMessage(trial);
    if (this.#inline) {
      this.#inlineQueue.push(message);
    } else {
      this.#outbox.push(message);
      if (this.#outbox.length >= POST_BATCH) this.#post();
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#tick);
    }
    return true;
  }

  readonly #tick = (): void => {
    this.#scheduled = false;
    if (this.#inline) return this.#runInline();
    this.#post();
  };

  #post(): void {
    if (this.#outbox.length === 0) return;
    const trials = this.#outbox;
    this.#outbox = [];
    if (!this.#worker) {
      this.#depth -= trials.length;
      this.#dropped.worker_error += trials.length;
      return;
    }
    this.#worker.postMessage({ type: 'trials', trials } satisfies ToWorker);
  }

  /** Inline mode: compare for at most ~4 ms per turn of the event loop, then yield to the data plane. */
  #runInline(): void {
    const p = this.#inline!;
    const until = performance.now() + 4;
    let n = 0;
    while (this.#inlineQueue.length > 0 && (n === 0 || performance.now() < until)) {
      const t = this.#inlineQueue.shift()!;
      n++;
      try {
        p.process(t);
      } catch (err) {
        this.#failed++;
        this.#opts.onError('compare failed on a trial', err);
      }
    }
    this.#depth -= n;
    this.#processed += n;
    if (this.#inlineQueue.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#tick);
    }
  }

  #inlineFlush(): void {
    const p = this.#inline!;
    const batch = p.flush();
    this.#processorStats = { ...p.stats() };
    if (batch) this.#toSink(batch);
  }

  #toSink(batch: CompareBatch): void {
    this.#sinkQueue.push(batch);
    while (this.#sinkQueue.length > MAX_SINK_BACKLOG) {
      this.#sinkQueue.shift();
      this.#dropped.store_backlog++;
    }
    void this.#drainSink();
  }

  #drainSink(): Promise<void> {
    if (this.#sinking) return this.#sinking.then(() => (this.#sinkQueue.length ? this.#drainSink() : undefined));
    if (this.#sinkQueue.length === 0) return Promise.resolve();
    this.#sinking = (async () => {
      while (this.#sinkQueue.length > 0) {
        const batch = this.#sinkQueue.shift()!;
        try {
          await this.#opts.sink(batch);
          this.#batches++;
        } catch (err) {
          this.#sinkErrors++;
          this.#opts.onError('writing compare results to the store failed', err);
        }
      }
    })().finally(() => {
      this.#sinking = undefined;
    });
    return this.#sinking;
  }

  /** New settings after a reload. */
  apply(settings: ProcessorSettings): void {
    this.#settings = settings;
    if (this.#inline) this.#inline.apply(settings);
    this.#worker?.postMessage({ type: 'settings', settings } satisfies ToWorker);
  }

  /** Compares everything queued so far and writes it to the sink (tests, `report`, shutdown). */
  async flush(timeoutMs = 10_000): Promise<void> {
    if (this.#inline) {
      while (this.#inlineQueue.length > 0) this.#runInline();
      this.#inlineFlush();
      return this.#drainSink();
    }
    this.#post();
    const worker = this.#worker;
    if (!worker) return this.#drainSink();
    const id = ++this.#flushId;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#flushWaiters.delete(id);
        resolve();
      }, timeoutMs);
      timer.unref();
      this.#flushWaiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'flush', id } satisfies ToWorker);
    });
  }

  stats(): EngineStats {
    return {
      accepted: this.#accepted,
      sampledOut: this.#sampledOut,
      dropped: { ...this.#dropped },
      processed: this.#processed,
      failed: this.#failed,
      depth: this.#depth,
      batches: this.#batches,
      sinkErrors: this.#sinkErrors,
      processor: this.#processorStats,
    };
  }

  /** Compares and writes what is queued (bounded by timeoutMs), then stops the worker. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return;
    await this.flush(timeoutMs);
    this.#closed = true;
    if (this.#inlineTimer) clearInterval(this.#inlineTimer);
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}
