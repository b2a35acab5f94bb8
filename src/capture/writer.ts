// The capture writer, main thread's half: trials are encoded into compact frames (./frame.ts) appended to a batch
// buffer, which is transferred (zero copy) to the capture worker thread (./worker.ts) every few ms or once it holds
// BATCH_BYTES. The worker builds the redacted HAR lines and writes the rotating files (./sink.ts), and reports back
// what it wrote. It runs after the client was answered (the Tap's `capture` event) and never blocks it: past the
// bound on trials (capture.queue) or bytes in flight to the worker a trial is dropped and counted. Each line reaches
// the file within flushInterval (plus BATCH_MS); what reached it survives kill -9 (gzip: every batch ends in a sync
// flush). A worker that dies is restarted; the trials it held are counted as dropped_write_error.
import { Worker } from 'node:worker_threads';
import type { ResolvedCapture } from '../config/types.ts';
import { TapwireError } from '../core/errors.ts';
import type { Trial } from '../core/exchange.ts';
import { FrameBatch } from './frame.ts';
import { BATCH_BYTES } from './sink.ts';
import type { FromWorker, ToWorker, WorkerError, WorkerInit } from './worker.ts';

export const CAPTURE_RESULTS = ['written', 'dropped_queue_full', 'dropped_write_error', 'sampled_out'] as const;
export type CaptureResult = (typeof CAPTURE_RESULTS)[number];

export interface CaptureStats {
  /** per route: entries by result */
  readonly routes: Readonly<Record<string, Readonly<Record<CaptureResult, number>>>>;
  /** bytes written to files (compressed bytes with gzip) */
  readonly bytes: number;
  /** files opened */
  readonly files: number;
  /** trials and lines waiting to be written */
  readonly depth: number;
  /** the file being written, if any */
  readonly file?: string;
}

export interface CaptureWriterOptions {
  readonly settings: ResolvedCapture;
  /** the route's capture.maxBodyBytes */
  readonly maxBodyBytes: (route: string) => number;
  /** the HMAC key (config or a random per-process key chosen by the caller) */
  readonly key: string | Buffer;
  readonly onWarn?: (message: string, err?: unknown) => void;
  /** wall clock, for file names and age rotation (tests): the worker uses the time each message carries */
  readonly now?: () => number;
}

/** A batch goes to the worker at the latest this long after its first trial. */
const BATCH_MS = 5;
/** Batch buffers: this size is pooled (the worker hands each buffer back); a larger frame gets its own. */
const BUFFER_BYTES = BATCH_BYTES + 64 * 1024;
const SPARE_BUFFERS = 4;
/** Encoded bytes in flight to the worker (batches not yet turned into lines), on top of capture.queue trials. */
export const MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;
/** A worker that dies sooner than this after the previous death is restarted after this delay. */
const RESTART_MS = 1000;

function startWorker(init: WorkerInit): Worker {
  if (import.meta.url.endsWith('.ts')) {
    // Running from source (tsx): a worker does not inherit the TypeScript loader, so it registers it first (as compare's).
    const loader = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./worker.ts', import.meta.url).href;
    const boot = `import(${JSON.stringify(loader)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(boot, { eval: true, workerData: init });
  }
  return new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
}

function errorFrom(e: WorkerError | undefined): Error | undefined {
  if (!e) return undefined;
  const err = new Error(e.message) as Error & { code?: string };
  if (e.stack) err.stack = e.stack;
  if (e.code) err.code = e.code;
  return err;
}

function add(m: Map<string, number>, route: string, n: number): void {
  m.set(route, (m.get(route) ?? 0) + n);
}

export class CaptureWriter {
  #settings: ResolvedCapture;
  readonly #maxBodyBytes: (route: string) => number;
  readonly #key: string | Buffer;
  readonly #onWarn: (message: string, err?: unknown) => void;
  readonly #now: () => number;
  readonly #mainClock: boolean;
  readonly #batch: FrameBatch;
  readonly #spare: ArrayBuffer[] = [];
  /** trials in the batch being filled, per route */
  #pendingRoutes = new Map<string, number>();
  /** trials sent to the worker and not reported written or failed, per route, and in all */
  readonly #postedRoutes = new Map<string, number>();
  #posted = 0;
  /** encoded bytes not yet handed back by the worker (the batch being filled included) */
  #inflightBytes = 0;
  readonly #counts = new Map<string, Record<CaptureResult, number>>();
  #bytes = 0;
  #files = 0;
  #file: string | undefined;
  #worker: Worker | undefined;
  #workerError: unknown;
  #lastDeath = 0;
  #batchTimer: NodeJS.Timeout | undefined;
  #flushId = 0;
  readonly #waiters = new Map<number, () => void>();
  #closed = false;
  #lastWarn = 0;
  #lastDeathWarn = 0;

  constructor(opts: CaptureWriterOptions) {
    if (opts.settings.file === undefined) throw new TapwireError('TW_ERR_CAPTURE', 'capture.file is not set');
    this.#settings = opts.settings;
    this.#maxBodyBytes = opts.maxBodyBytes;
    this.#key = opts.key;
    this.#onWarn = opts.onWarn ?? (() => undefined);
    this.#now = opts.now ?? Date.now;
    this.#mainClock = opts.now !== undefined;
    this.#batch = new FrameBatch((min) => (min <= BUFFER_BYTES ? (this.#spare.pop() ?? newBuffer(BUFFER_BYTES)) : newBuffer(min)));
    this.#start();
  }

  #start(): void {
    const worker = startWorker({ settings: this.#settings, key: this.#key, mainClock: this.#mainClock, now: this.#now() });
    worker.unref();
    worker.on('message', (m: FromWorker) => this.#onMessage(m));
    worker.on('error', (err) => (this.#workerError = err));
    worker.on('exit', (code) => this.#onExit(worker, code));
    this.#worker = worker;
    this.#workerError = undefined;
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'buffer':
        this.#inflightBytes -= m.bytes;
        if (m.buffer.byteLength === BUFFER_BYTES && this.#spare.length < SPARE_BUFFERS) this.#spare.push(m.buffer);
        break;
      case 'report':
        for (const [route, written, errors] of m.counts) {
          if (written > 0) this.#count(route, 'written', written);
          if (errors > 0) this.#count(route, 'dropped_write_error', errors);
          add(this.#postedRoutes, route, -(written + errors));
          this.#posted -= written + errors;
        }
        this.#bytes += m.bytes;
        this.#files += m.files;
        this.#file = m.file;
        break;
      case 'done':
        this.#waiters.get(m.id)?.();
        this.#waiters.delete(m.id);
        break;
      case 'warn':
        this.#warn(m.message, errorFrom(m.err));
        break;
    }
  }

  /** The worker died: what it held is lost and counted; flushes waiting on it end; a new one starts. */
  #onExit(worker: Worker, code: number): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    let lost = 0;
    for (const [route, n] of this.#postedRoutes) {
      if (n > 0) this.#count(route, 'dropped_write_error', n);
      lost += n;
    }
    this.#postedRoutes.clear();
    this.#posted = 0;
    this.#inflightBytes = this.#batch.bytes;
    this.#file = undefined;
    for (const done of this.#waiters.values()) done();
    this.#waiters.clear();
    if (this.#closed) return;
    const now = Date.now();
    if (now - this.#lastDeathWarn >= 10_000) {
      this.#lastDeathWarn = now;
      this.#onWarn(`the capture worker exited (code ${code}); ${lost} entries dropped; restarting it`, this.#workerError);
    }
    const soon = now - this.#lastDeath < RESTART_MS;
    this.#lastDeath = now;
    if (!soon) this.#start();
    else
      setTimeout(() => {
        if (!this.#closed && !this.#worker) this.#start();
      }, RESTART_MS).unref();
  }

  /** New settings on reload: redaction and bounds apply to lines built from now on; the file rotates if its place changed. */
  apply(settings: ResolvedCapture): void {
    if (settings.file === undefined) return;
    this.#settings = settings;
    this.#worker?.postMessage({ type: 'settings', settings } satisfies ToWorker);
  }

  #count(route: string, result: CaptureResult, n = 1): void {
    let c = this.#counts.get(route);
    if (!c) this.#counts.set(route, (c = { written: 0, dropped_queue_full: 0, dropped_write_error: 0, sampled_out: 0 }));
    c[result] += n;
  }

  /** A request of a captured route the sampler left out. */
  sampledOut(route: string): void {
    this.#count(route, 'sampled_out');
  }

  /** Trials offered and not yet written or dropped (in the batch being filled, in flight, or as lines in the worker). */
  get depth(): number {
    return this.#batch.count + this.#posted;
  }

  /** Takes a trial (encodes it into the batch), or drops and counts it when the bound is reached. Returns at once. */
  offer(trial: Trial): void {
    if (this.#closed || this.depth >= this.#settings.queue || this.#inflightBytes >= MAX_INFLIGHT_BYTES) {
      this.#count(trial.route, this.#closed ? 'dropped_write_error' : 'dropped_queue_full');
      return;
    }
    let n: number;
    try {
      n = this.#batch.append(trial, this.#maxBodyBytes(trial.route), this.#post);
    } catch (err) {
      this.#count(trial.route, 'dropped_write_error');
      this.#warn('a captured trial could not be encoded', err);
      return;
    }
    this.#inflightBytes += n;
    add(this.#pendingRoutes, trial.route, 1);
    if (this.#batch.bytes >= BATCH_BYTES) this.#post();
    else if (!this.#batchTimer) {
      this.#batchTimer = setTimeout(this.#post, BATCH_MS);
      this.#batchTimer.unref();
    }
  }

  /** Hands the batch to the worker (or, without a worker, drops and counts it). */
  readonly #post = (): void => {
    if (this.#batchTimer) {
      clearTimeout(this.#batchTimer);
      this.#batchTimer = undefined;
    }
    const b = this.#batch.take();
    if (!b) return;
    const routes = this.#pendingRoutes;
    this.#pendingRoutes = new Map();
    const worker = this.#worker;
    if (!worker) {
      // Between a worker's death and its restart.
      for (const [route, n] of routes) this.#count(route, 'dropped_write_error', n);
      this.#inflightBytes -= b.bytes;
      return;
    }
    for (const [route, n] of routes) add(this.#postedRoutes, route, n);
    this.#posted += b.count;
    worker.postMessage({ type: 'batch', buffer: b.buffer, bytes: b.bytes, now: this.#now() } satisfies ToWorker, [b.buffer]);
  };

  /** Sends a flush or close to the worker and waits for its answer (the worker keeps the process alive meanwhile). */
  async #ask(type: 'flush' | 'close'): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const id = ++this.#flushId;
    worker.ref();
    try {
      await new Promise<void>((resolve) => {
        this.#waiters.set(id, resolve);
        worker.postMessage({ type, id, now: this.#now() } satisfies ToWorker);
      });
    } finally {
      if (this.#waiters.size === 0) worker.unref();
    }
  }

  #warn(message: string, err?: unknown): void {
    const now = Date.now();
    if (now - this.#lastWarn < 10_000) return;
    this.#lastWarn = now;
    this.#onWarn(message, err);
  }

  /** Everything offered so far reaches the file (tests, shutdown). */
  async flush(): Promise<void> {
    this.#post();
    await this.#ask('flush');
  }

  /** Writes what is queued, ends the file and stops the worker; later offers are dropped and counted. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    this.#post();
    await this.#ask('close');
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
    this.#file = undefined;
  }

  /** Tests: stops the worker as a crash would (what it held is counted as dropped_write_error; a new one starts). */
  async crashWorkerForTests(): Promise<void> {
    await this.#worker?.terminate();
  }

  stats(): CaptureStats {
    const routes: Record<string, Record<CaptureResult, number>> = {};
    for (const [r, c] of this.#counts) routes[r] = { ...c };
    return { routes, bytes: this.#bytes, files: this.#files, depth: this.depth, ...(this.#file ? { file: this.#file } : {}) };
  }
}

function newBuffer(bytes: number): ArrayBuffer {
  // Not from Node's shared pool (a pooled Buffer's ArrayBuffer cannot be transferred); not zero-filled.
  return Buffer.allocUnsafeSlow(bytes).buffer;
}
