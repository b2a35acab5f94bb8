// The capture writer: trials → redacted HAR lines → a bounded queue → batched appends to rotating files. It runs
// after the client was answered (the Tap's `capture` event) and never blocks it: a trial past the queue bound is
// dropped and counted, lines are built in slices of a few ms, and one write at a time goes to the file. Each line
// reaches the file within flushInterval; what reached it survives kill -9 (gzip: every batch ends in a sync flush).
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { basename, dirname, join } from 'node:path';
import { createGzip, constants as zc, type Gzip } from 'node:zlib';
import type { ResolvedCapture } from '../config/types.ts';
import { TapwireError } from '../core/errors.ts';
import type { Trial } from '../core/exchange.ts';
import { trialToEntry } from './entry.ts';
import { captureFileName, DEFAULT_PREFIX } from './names.ts';
import { Redactor } from './redact.ts';

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
  /** wall clock, for file names and age rotation (tests) */
  readonly now?: () => number;
}

/** A batch is written once it holds this many bytes, or at flushInterval. */
const BATCH_BYTES = 256 * 1024;
/** Lines are built for at most this long before the event loop gets a turn. */
const SLICE_MS = 2;
/** Attempts at a free file name (a restart within the same second finds the earlier files). */
const NAME_ATTEMPTS = 1000;

interface OpenFile {
  readonly path: string;
  readonly fh: FileHandle;
  readonly openedAt: number;
  bytes: number;
  readonly gzip?: { readonly z: Gzip; out: Buffer[] };
}

export class CaptureWriter {
  #settings: ResolvedCapture;
  readonly #maxBodyBytes: (route: string) => number;
  #redactor: Redactor;
  readonly #key: string | Buffer;
  readonly #onWarn: (message: string, err?: unknown) => void;
  readonly #now: () => number;
  /** trials not yet turned into lines */
  #queue: Trial[] = [];
  /** lines built, not yet written, and the route of each */
  #lines: string[] = [];
  #lineRoutes: string[] = [];
  #lineBytes = 0;
  readonly #counts = new Map<string, Record<CaptureResult, number>>();
  #bytes = 0;
  #files = 0;
  #seq = 0;
  #file: OpenFile | undefined;
  #building = false;
  /** the write in progress; writes are serial */
  #writing: Promise<void> | undefined;
  #timer: NodeJS.Timeout;
  #closed = false;
  #lastWarn = 0;

  constructor(opts: CaptureWriterOptions) {
    if (opts.settings.file === undefined) throw new TapwireError('TW_ERR_CAPTURE', 'capture.file is not set');
    this.#settings = opts.settings;
    this.#maxBodyBytes = opts.maxBodyBytes;
    this.#key = opts.key;
    this.#redactor = new Redactor(opts.key, opts.settings.redact);
    this.#onWarn = opts.onWarn ?? (() => undefined);
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => this.#tick(), opts.settings.flushIntervalMs);
    this.#timer.unref();
  }

  /** New settings on reload: redaction and bounds apply to lines built from now on; the file rotates if its place changed. */
  apply(settings: ResolvedCapture): void {
    if (settings.file === undefined) return;
    const moved = settings.file !== this.#settings.file || settings.gzip !== this.#settings.gzip;
    if (settings.flushIntervalMs !== this.#settings.flushIntervalMs) {
      clearInterval(this.#timer);
      this.#timer = setInterval(() => this.#tick(), settings.flushIntervalMs);
      this.#timer.unref();
    }
    this.#settings = settings;
    this.#redactor = new Redactor(settings.redact.key ?? this.#key, settings.redact);
    if (moved) void this.#serial(() => this.#closeFile());
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

  get depth(): number {
    return this.#queue.length + this.#lines.length;
  }

  /** Takes a trial, or drops and counts it when the queue is full. Returns at once. */
  offer(trial: Trial): void {
    if (this.#closed || this.depth >= this.#settings.queue) {
      this.#count(trial.route, this.#closed ? 'dropped_write_error' : 'dropped_queue_full');
      return;
    }
    this.#queue.push(trial);
    if (!this.#building) {
      this.#building = true;
      setImmediate(this.#build);
    }
  }

  /** Turns queued trials into lines for a few ms, then yields; writes a batch once it is large enough. */
  readonly #build = (): void => {
    const until = performance.now() + SLICE_MS;
    let i = 0;
    const q = this.#queue;
    while (i < q.length) {
      const t = q[i++]!;
      try {
        const line = `${JSON.stringify(trialToEntry(t, this.#redactor, { maxBodyBytes: this.#maxBodyBytes(t.route) }))}\n`;
        this.#lines.push(line);
        this.#lineRoutes.push(t.route);
        this.#lineBytes += Buffer.byteLength(line);
      } catch (err) {
        this.#count(t.route, 'dropped_write_error');
        this.#warn('a captured trial could not be turned into a line', err);
      }
      if ((i & 15) === 0 && performance.now() >= until) break;
    }
    this.#queue = i >= q.length ? [] : q.slice(i);
    if (this.#lineBytes >= BATCH_BYTES && !this.#writing) void this.#writeBatch();
    if (this.#queue.length > 0) setImmediate(this.#build);
    else this.#building = false;
  };

  #tick(): void {
    if (!this.#writing && this.#lines.length > 0) void this.#writeBatch();
    else if (!this.#writing && this.#file && this.#now() - this.#file.openedAt >= this.#settings.rotate.maxAgeMs) void this.#serial(() => this.#closeFile());
  }

  /** Runs one file operation after the one in progress. */
  #serial(op: () => Promise<void>): Promise<void> {
    const prev = this.#writing ?? Promise.resolve();
    const next = prev.then(op).finally(() => {
      if (this.#writing === next) this.#writing = undefined;
    });
    this.#writing = next;
    return next;
  }

  /** Writes every line built so far as one batch (one write, one sync flush). */
  #writeBatch(): Promise<void> {
    return this.#serial(async () => {
      while (this.#lines.length > 0) {
        const lines = this.#lines;
        const routes = this.#lineRoutes;
        this.#lines = [];
        this.#lineRoutes = [];
        this.#lineBytes = 0;
        // In parts of at most rotate.maxBytes, so that a file stays within it (unless one line alone is larger).
        const max = this.#settings.rotate.maxBytes;
        for (let from = 0; from < lines.length; ) {
          let to = from;
          let size = 0;
          while (to < lines.length) {
            const n = Buffer.byteLength(lines[to]!);
            if (to > from && size + n > max) break;
            size += n;
            to++;
          }
          const part = routes.slice(from, to);
          try {
            await this.#append(Buffer.from(lines.slice(from, to).join(''), 'utf8'));
            for (const r of part) this.#count(r, 'written');
          } catch (err) {
            for (const r of routes.slice(from)) this.#count(r, 'dropped_write_error');
            this.#warn(`capture write failed; ${routes.length - from} entries dropped`, err);
            await this.#closeFile().catch(() => undefined);
            return;
          }
          from = to;
        }
      }
    });
  }

  async #append(data: Buffer): Promise<void> {
    const s = this.#settings;
    // Rotation: by age, and by size before a plain batch would cross maxBytes (gzip only knows its size after).
    if (this.#file && (this.#now() - this.#file.openedAt >= s.rotate.maxAgeMs || (!this.#file.gzip && this.#file.bytes > 0 && this.#file.bytes + data.length > s.rotate.maxBytes))) {
      await this.#closeFile();
    }
    const f = (this.#file ??= await this.#openFile());
    let out = data;
    if (f.gzip) {
      const gz = f.gzip;
      gz.z.write(data);
      await new Promise<void>((resolve) => gz.z.flush(zc.Z_SYNC_FLUSH, () => resolve()));
      out = Buffer.concat(gz.out);
      gz.out = [];
    }
    await writeAll(f.fh, out);
    f.bytes += out.length;
    this.#bytes += out.length;
    if (f.bytes >= s.rotate.maxBytes) await this.#closeFile();
  }

  async #openFile(): Promise<OpenFile> {
    const target = this.#settings.file!;
    const isDir = target.endsWith('/') || (await stat(target).then((st) => st.isDirectory(), () => false));
    const dir = isDir ? target : dirname(target);
    const prefix = isDir ? DEFAULT_PREFIX : basename(target);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const gzip = this.#settings.gzip;
    for (let attempt = 0; attempt < NAME_ATTEMPTS; attempt++) {
      const path = join(dir, captureFileName(prefix, this.#now(), ++this.#seq, gzip));
      let fh: FileHandle;
      try {
        fh = await open(path, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      this.#files++;
      if (!gzip) return { path, fh, openedAt: this.#now(), bytes: 0 };
      const z = createGzip();
      const file: OpenFile = { path, fh, openedAt: this.#now(), bytes: 0, gzip: { z, out: [] } };
      z.on('data', (chunk: Buffer) => file.gzip!.out.push(chunk));
      return file;
    }
    throw new TapwireError('TW_ERR_CAPTURE', `no free capture file name in ${dir} after ${NAME_ATTEMPTS} attempts`);
  }

  /** Ends the current file (a gzip stream gets its trailer); the next batch opens a new one. */
  async #closeFile(): Promise<void> {
    const f = this.#file;
    if (!f) return;
    this.#file = undefined;
    try {
      if (f.gzip) {
        const gz = f.gzip;
        await new Promise<void>((resolve) => {
          gz.z.once('end', resolve);
          gz.z.end();
        });
        const tail = Buffer.concat(gz.out);
        gz.out = [];
        await writeAll(f.fh, tail);
        f.bytes += tail.length;
        this.#bytes += tail.length;
      }
    } finally {
      await f.fh.close();
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
    // The build chain (setImmediate slices) empties the queue; each turn takes at least one slice off it.
    while (this.#queue.length > 0) await new Promise((r) => setImmediate(r));
    await this.#writeBatch();
  }

  /** Writes what is queued, ends the file and stops; later offers are dropped and counted. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#serial(() => this.#closeFile()).catch((err: unknown) => this.#onWarn('closing the capture file failed', err));
  }

  stats(): CaptureStats {
    const routes: Record<string, Record<CaptureResult, number>> = {};
    for (const [r, c] of this.#counts) routes[r] = { ...c };
    return { routes, bytes: this.#bytes, files: this.#files, depth: this.depth, ...(this.#file ? { file: this.#file.path } : {}) };
  }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
}
