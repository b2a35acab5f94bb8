// Reading captures back: one NDJSON file (plain or gzip, told apart by the magic bytes, not the name) or every
// capture file of a directory in write order. A capture is read after a crash as often as after a clean stop, so a
// torn last line (kill -9 mid-write, a gzip stream cut short) is expected data, counted and skipped, never thrown.
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGunzip, constants as zlib } from 'node:zlib';
import { TapwireError } from '../core/errors.ts';
import { CAPTURE_FORMAT_VERSION, type HarEntry } from './har.ts';
import { captureSortKey, isCaptureFileName } from './names.ts';

export interface ReadStats {
  /** non-empty lines seen, the torn one included */
  lines: number;
  /** entries yielded */
  entries: number;
  /** malformed lines skipped (not JSON, not a HAR entry, longer than MAX_LINE_BYTES) */
  skipped: number;
  /** some file ended in an incomplete line (or a gzip stream cut short) */
  torn: boolean;
  files: number;
}

export function emptyReadStats(): ReadStats {
  return { lines: 0, entries: 0, skipped: 0, torn: false, files: 0 };
}

/** A line longer than this is skipped rather than buffered: a reader must not grow without bound either. */
export const MAX_LINE_BYTES = 128 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * Reads one capture file (plain or gzip, detected by magic bytes) or every capture file in a directory
 * (rotated files in write order), yielding each HarEntry. A torn last line (kill -9 mid-write) is counted in
 * stats.torn and skipped, never thrown; a malformed line elsewhere is counted in stats.skipped.
 * A line whose _tapwire.v > CAPTURE_FORMAT_VERSION throws TapwireError TW_ERR_CAPTURE.
 * `stats` is added to (pass emptyReadStats()). A path that does not exist is read as a file prefix
 * (`/var/capture/prod` reads `/var/capture/prod-*.ndjson[.gz]`).
 */
export async function* readCapture(path: string, stats: ReadStats = emptyReadStats()): AsyncGenerator<HarEntry> {
  for (const file of await captureFiles(path)) {
    stats.files++;
    yield* readFile(file, stats);
  }
}

/** The files `readCapture` reads for a path, in order. */
export async function captureFiles(path: string): Promise<string[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TapwireError('TW_ERR_CAPTURE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    const dir = dirname(path);
    const prefix = `${basename(path)}-`;
    const names = await listDir(dir, path);
    const files = names.filter((n) => n.startsWith(prefix) && isCaptureFileName(n));
    if (files.length === 0) throw new TapwireError('TW_ERR_CAPTURE', `${path}: no such capture file, directory or prefix`, { cause: err });
    return sortInWriteOrder(files).map((n) => join(dir, n));
  }
  if (!isDir) return [path];
  return sortInWriteOrder((await listDir(path, path)).filter(isCaptureFileName)).map((n) => join(path, n));
}

async function listDir(dir: string, asked: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    throw new TapwireError('TW_ERR_CAPTURE', `cannot list ${dir} (reading ${asked}): ${(err as Error).message}`, { cause: err });
  }
}

/** tapwire's own names by (time, seq); any other .ndjson file after them, by name. */
function sortInWriteOrder(names: string[]): string[] {
  const key = (n: string): string => {
    const k = captureSortKey(n);
    return k === undefined ? `1${n}` : `0${k}`;
  };
  return names.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

async function isGzip(file: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(file, 'r');
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } catch (err) {
    throw new TapwireError('TW_ERR_CAPTURE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    await fh?.close();
  }
}

async function* readFile(file: string, stats: ReadStats): AsyncGenerator<HarEntry> {
  const gz = await isGzip(file);
  const source = createReadStream(file);
  // Z_SYNC_FLUSH as the finishing flush: a stream cut short (kill -9) yields what was flushed instead of an error.
  const stream = gz ? source.pipe(createGunzip({ finishFlush: zlib.Z_SYNC_FLUSH })) : source;
  if (gz) source.on('error', (err) => stream.destroy(err));
  let parts: Buffer[] = [];
  let partBytes = 0;
  let overlong = false;
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(NEWLINE, from); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
        const piece = chunk.subarray(from, nl);
        from = nl + 1;
        lineNo++;
        if (overlong || partBytes + piece.length > MAX_LINE_BYTES) {
          stats.lines++;
          stats.skipped++;
        } else {
          const line = partBytes === 0 ? piece : Buffer.concat([...parts, piece]);
          const entry = parseLine(line, stats, file, lineNo);
          if (entry) yield entry;
        }
        parts = [];
        partBytes = 0;
        overlong = false;
      }
      if (from < chunk.length) {
        const rest = chunk.subarray(from);
        partBytes += rest.length;
        if (partBytes > MAX_LINE_BYTES) {
          overlong = true;
          parts = [];
        } else parts.push(rest);
      }
    }
  } catch (err) {
    if (err instanceof TapwireError) throw err;
    // A gzip stream damaged beyond a clean cut: what came before is good, the rest is torn.
    if (!gz) throw new TapwireError('TW_ERR_CAPTURE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    stats.torn = true;
    return;
  } finally {
    source.destroy();
  }
  if (partBytes === 0 && !overlong) return;
  // The last line has no newline: complete JSON is kept (the cut fell just before the newline), anything else is torn.
  lineNo++;
  if (overlong) {
    stats.lines++;
    stats.torn = true;
    return;
  }
  const entry = parseLine(Buffer.concat(parts), stats, file, lineNo, true);
  if (entry) yield entry;
}

function parseLine(line: Buffer, stats: ReadStats, file: string, lineNo: number, last = false): HarEntry | undefined {
  const text = line.toString('utf8').trim();
  if (text === '') return undefined;
  stats.lines++;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    if (last) stats.torn = true;
    else stats.skipped++;
    return undefined;
  }
  if (!isHarEntry(value)) {
    if (last) stats.torn = true;
    else stats.skipped++;
    return undefined;
  }
  const v = value._tapwire?.v;
  if (typeof v === 'number' && v > CAPTURE_FORMAT_VERSION) {
    throw new TapwireError('TW_ERR_CAPTURE', `${file}:${lineNo}: capture format version ${v} is newer than this tapwire reads (${CAPTURE_FORMAT_VERSION}); upgrade tapwire`);
  }
  stats.entries++;
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Enough shape to replay and export: a request with method and URL, a response with a status. */
function isHarEntry(v: unknown): v is HarEntry {
  if (!isObject(v) || !isObject(v.request) || !isObject(v.response)) return false;
  const { request, response } = v;
  if (typeof request.method !== 'string' || typeof request.url !== 'string' || typeof response.status !== 'number') return false;
  if (v._tapwire !== undefined && !isObject(v._tapwire)) return false;
  return true;
}
