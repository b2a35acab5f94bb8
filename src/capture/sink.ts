// The capture worker's half of the writer (./writer.ts is the main thread's): trials → redacted HAR lines → batched
// appends to rotating files. It runs in the capture worker thread (./worker.ts), so building lines (entry, redaction,
// JSON), gzip and file writes cost the proxy's thread nothing. Lines are written in batches (BATCH_BYTES or the
// flush interval), one write at a time; what reached the file survives kill -9 (gzip: every batch ends in a sync
// flush). The number of lines waiting here is bounded by the main thread (trials in flight).
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGzip, constants as zc, type Gzip } from 'node:zlib';
import type { ResolvedCapture } from '../config/types.ts';
import { TapwireError } from '../core/errors.ts';
import { trialToEntry } from './entry.ts';
import type { DecodedTrial } from './frame.ts';
import { captureFileName, DEFAULT_PREFIX } from './names.ts';
import { Redactor } from './redact.ts';

/** A batch is written once it holds this many bytes, or at flushInterval. */
export const BATCH_BYTES = 256 * 1024;
/** Attempts at a free file name (a restart within the same second finds the earlier files). */
const NAME_ATTEMPTS = 1000;

/** What changed since the last report: per route [written, dropped_write_error], bytes and files added, the current file. */
export interface SinkReport {
  readonly counts: [route: string, written: number, errors: number][];
  readonly bytes: number;
  readonly files: number;
  readonly file: string | undefined;
}

export interface SinkOptions {
  readonly settings: ResolvedCapture;
  readonly key: string | Buffer;
  readonly warn: (message: string, err?: unknown) => void;
  readonly now: () => number;
}

interface OpenFile {
  readonly path: string;
  readonly fh: FileHandle;
  readonly openedAt: number;
  bytes: number;
  readonly gzip?: { readonly z: Gzip; out: Buffer[] };
}

export class CaptureSink {
  #settings: ResolvedCapture;
  #redactor: Redactor;
  readonly #key: string | Buffer;
  readonly #warnOut: (message: string, err?: unknown) => void;
  readonly #now: () => number;
  /** lines built, not yet written, and the route of each */
  #lines: string[] = [];
  #lineRoutes: string[] = [];
  #lineBytes = 0;
  /** since the last report */
  #counts = new Map<string, [number, number]>();
  #bytes = 0;
  #files = 0;
  #seq = 0;
  #file: OpenFile | undefined;
  /** the write in progress; writes are serial */
  #writing: Promise<void> | undefined;
  #lastWarn = 0;

  constructor(opts: SinkOptions) {
    if (opts.settings.file === undefined) throw new TapwireError('TW_ERR_CAPTURE', 'capture.file is not set');
    this.#settings = opts.settings;
    this.#key = opts.key;
    this.#redactor = new Redactor(opts.key, opts.settings.redact);
    this.#warnOut = opts.warn;
    this.#now = opts.now;
  }

  get settings(): ResolvedCapture {
    return this.#settings;
  }

  /** New settings: redaction applies to lines built from now on; the file rotates if its place changed. */
  apply(settings: ResolvedCapture): void {
    if (settings.file === undefined) return;
    const moved = settings.file !== this.#settings.file || settings.gzip !== this.#settings.gzip;
    this.#settings = settings;
    this.#redactor = new Redactor(settings.redact.key ?? this.#key, settings.redact);
    if (moved) this.#serial(() => this.#closeFile()).catch((err: unknown) => this.#warn('closing the capture file failed', err));
  }

  #count(route: string, written: number, errors: number): void {
    const c = this.#counts.get(route);
    if (c) {
      c[0] += written;
      c[1] += errors;
    } else this.#counts.set(route, [written, errors]);
  }

  /** What changed since the last call. */
  report(): SinkReport {
    const counts = [...this.#counts].map(([r, [w, e]]) => [r, w, e] as [string, number, number]);
    this.#counts = new Map();
    const out = { counts, bytes: this.#bytes, files: this.#files, file: this.#file?.path };
    this.#bytes = 0;
    this.#files = 0;
    return out;
  }

  /** Builds a trial's line now (synchronously: a decoded trial's bodies are views of a buffer that is reused). */
  add(d: DecodedTrial): void {
    const t = d.trial;
    try {
      const line = `${JSON.stringify(trialToEntry(t, this.#redactor, { maxBodyBytes: d.maxBodyBytes }))}\n`;
      this.#lines.push(line);
      this.#lineRoutes.push(t.route);
      this.#lineBytes += Buffer.byteLength(line);
    } catch (err) {
      this.#count(t.route, 0, 1);
      this.#warn('a captured trial could not be turned into a line', err);
    }
  }

  /** A trial that never reached add() (a frame that could not be decoded). */
  failed(route: string, err: unknown): void {
    this.#count(route, 0, 1);
    this.#warn('a captured trial could not be decoded', err);
  }

  /** Writes a batch when enough lines wait and no write is in progress; returns the write, if one started. */
  maybeWrite(): Promise<void> | undefined {
    if (this.#lineBytes >= BATCH_BYTES && !this.#writing) return this.writeBatch();
    return undefined;
  }

  /** The flush interval's turn: write what waits, or close a file past its age. */
  tick(): Promise<void> | undefined {
    if (!this.#writing && this.#lines.length > 0) return this.writeBatch();
    if (!this.#writing && this.#file && this.#now() - this.#file.openedAt >= this.#settings.rotate.maxAgeMs) return this.#serial(() => this.#closeFile());
    return undefined;
  }

  /** Runs one file operation after the one in progress. */
  #serial(op: () => Promise<void>): Promise<void> {
    const prev = this.#writing ?? Promise.resolve();
    // A failed operation (logged where it failed) does not stop the ones after it.
    const next = prev.catch(() => undefined).then(op).finally(() => {
      if (this.#writing === next) this.#writing = undefined;
    });
    this.#writing = next;
    return next;
  }

  /** Writes every line built so far as one batch (one write, one sync flush). */
  writeBatch(): Promise<void> {
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
          try {
            await this.#append(Buffer.from(lines.slice(from, to).join(''), 'utf8'));
            for (let i = from; i < to; i++) this.#count(routes[i]!, 1, 0);
          } catch (err) {
            for (let i = from; i < routes.length; i++) this.#count(routes[i]!, 0, 1);
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
    this.#warnOut(message, err);
  }

  /** Writes everything built so far and ends the file. */
  async close(): Promise<void> {
    await this.writeBatch();
    await this.#serial(() => this.#closeFile()).catch((err: unknown) => this.#warnOut('closing the capture file failed', err));
  }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
}
