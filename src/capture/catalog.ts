// What the dashboard and the admin API show about captures: the files under capture.file (newest first, bounded),
// a bounded preview of one file's entries, and the replay reports (`tapwire replay --report`) kept beside them.
// Everything here reads what is already on disk, and capture files are redacted before they are written, so nothing
// shown can carry a secret the capture itself did not. Names come from the listing: a name the listing did not
// produce is refused, so a request can never point the reader outside the capture directory.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { HarEntry } from './har.ts';
import { captureSortKey, DEFAULT_PREFIX, isCaptureFileName } from './names.ts';
import { emptyReadStats, readCapture, type ReadStats } from './read.ts';

/** Files listed at most (newest first); the totals still count every file. */
export const MAX_LISTED_FILES = 200;
/** Replay reports listed at most (newest first). */
export const MAX_LISTED_REPLAYS = 50;
/** A replay report larger than this is listed without its content. */
export const MAX_REPORT_BYTES = 1024 * 1024;
/** Entries one preview shows at most. */
export const MAX_PREVIEW_ENTRIES = 200;

/** A replay report's file name ends with this (`tapwire replay --report DIR` picks such a name). */
export const REPLAY_REPORT_SUFFIX = '.replay.json';

export interface CaptureFileInfo {
  readonly name: string;
  readonly bytes: number;
  /** ISO 8601 */
  readonly modified: string;
  readonly gzip: boolean;
  /** the file tapwire is writing now */
  readonly writing: boolean;
}

export interface ReplayReportInfo {
  readonly name: string;
  readonly bytes: number;
  readonly modified: string;
  /** the report as `tapwire replay --report` wrote it; absent when it is too large or not a replay report */
  readonly report?: unknown;
  /** why the report is not shown */
  readonly problem?: string;
}

export interface CaptureListing {
  /** the configured capture.file */
  readonly path: string;
  /** the directory the files live in */
  readonly directory: string;
  /** files named like this one belong to this capture (`<prefix>-TIME-SEQ.ndjson[.gz]`) */
  readonly prefix: string;
  readonly files: readonly CaptureFileInfo[];
  readonly totalFiles: number;
  readonly totalBytes: number;
  readonly replays: readonly ReplayReportInfo[];
  /** set when the directory cannot be listed yet (nothing captured so far) */
  readonly problem?: string;
}

/** The directory and file-name prefix of a capture.file setting (a directory, or a prefix inside one). */
export async function captureLocation(path: string): Promise<{ directory: string; prefix: string | undefined }> {
  try {
    if ((await stat(path)).isDirectory()) return { directory: path, prefix: undefined };
  } catch {
    // not there yet, or a prefix
  }
  // A path ending in a separator is a directory that does not exist yet.
  if (/[\\/]$/.test(path)) return { directory: path, prefix: undefined };
  return { directory: dirname(path), prefix: basename(path) };
}

const newestFirst = <T extends { name: string; modifiedMs: number }>(a: T, b: T): number => {
  const ka = captureSortKey(a.name);
  const kb = captureSortKey(b.name);
  if (ka !== undefined && kb !== undefined) return ka < kb ? 1 : ka > kb ? -1 : 0;
  return b.modifiedMs - a.modifiedMs || (a.name < b.name ? 1 : -1);
};

/** Lists the capture files and replay reports of a capture.file setting. `writing` is the writer's current file. */
export async function listCaptures(path: string, writing?: string): Promise<CaptureListing> {
  const { directory, prefix } = await captureLocation(path);
  const base = { path, directory, prefix: prefix ?? DEFAULT_PREFIX };
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (err) {
    return { ...base, files: [], totalFiles: 0, totalBytes: 0, replays: [], problem: `cannot list ${directory}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  const ours = (n: string): boolean => isCaptureFileName(n) && (prefix === undefined || n.startsWith(`${prefix}-`));
  const stated = async (n: string) => {
    try {
      const s = await stat(join(directory, n));
      return s.isFile() ? { name: n, bytes: s.size, modifiedMs: s.mtimeMs } : undefined;
    } catch {
      return undefined; // rotated away or removed while listing
    }
  };
  const files = (await Promise.all(names.filter(ours).map(stated))).filter((f) => f !== undefined).sort(newestFirst);
  const reports = (await Promise.all(names.filter((n) => n.endsWith(REPLAY_REPORT_SUFFIX)).map(stated))).filter((f) => f !== undefined).sort(newestFirst);
  const current = writing === undefined ? undefined : basename(writing);
  return {
    ...base,
    files: files.slice(0, MAX_LISTED_FILES).map((f) => ({ name: f.name, bytes: f.bytes, modified: new Date(f.modifiedMs).toISOString(), gzip: f.name.endsWith('.gz'), writing: f.name === current })),
    totalFiles: files.length,
    totalBytes: files.reduce((n, f) => n + f.bytes, 0),
    replays: await Promise.all(reports.slice(0, MAX_LISTED_REPLAYS).map((r) => reportInfo(directory, r))),
  };
}

async function reportInfo(directory: string, r: { name: string; bytes: number; modifiedMs: number }): Promise<ReplayReportInfo> {
  const info = { name: r.name, bytes: r.bytes, modified: new Date(r.modifiedMs).toISOString() };
  if (r.bytes > MAX_REPORT_BYTES) return { ...info, problem: `larger than ${MAX_REPORT_BYTES} bytes` };
  try {
    const report: unknown = JSON.parse(await readFile(join(directory, r.name), 'utf8'));
    if (typeof report !== 'object' || report === null || (report as { kind?: unknown }).kind !== REPLAY_REPORT_KIND) return { ...info, problem: 'not a tapwire replay report' };
    return { ...info, report };
  } catch (err) {
    return { ...info, problem: `unreadable: ${(err as Error).message}` };
  }
}

/** The `kind` of a replay report document. */
export const REPLAY_REPORT_KIND = 'tapwire-replay-report';

/** One line of a preview: what a person scanning a capture wants per entry. */
export interface PreviewEntry {
  readonly at: string;
  readonly route?: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly ms: number;
  readonly error?: string;
  readonly mirrors: readonly { readonly upstream: string; readonly role: string; readonly outcome: string; readonly status?: number; readonly ms?: number }[];
}

export interface CapturePreview {
  readonly name: string;
  readonly entries: readonly PreviewEntry[];
  /** whether the file has more entries than shown */
  readonly more: boolean;
  readonly malformed: number;
  readonly torn: boolean;
}

function previewOf(e: HarEntry): PreviewEntry {
  const t = e._tapwire;
  return {
    at: e.startedDateTime,
    ...(t?.route !== undefined ? { route: t.route } : {}),
    method: e.request.method,
    url: e.request.url,
    status: e.response.status,
    ms: Math.round(e.time * 10) / 10,
    ...(t?.error !== undefined ? { error: t.error } : {}),
    mirrors: (t?.mirrors ?? []).map((m) => ({
      upstream: m.upstream,
      role: m.role,
      outcome: m.outcome,
      ...(m.response ? { status: m.response.status } : {}),
      ...(m.time !== undefined ? { ms: Math.round(m.time * 10) / 10 } : {}),
    })),
  };
}

/**
 * The first `limit` entries of one listed capture file. `name` must be a file `listCaptures` lists for `path`;
 * anything else is undefined (the admin API answers 404).
 */
export async function previewCapture(path: string, name: string, limit = 50): Promise<CapturePreview | undefined> {
  const { directory, prefix } = await captureLocation(path);
  const valid = basename(name) === name && isCaptureFileName(name) && (prefix === undefined || name.startsWith(`${prefix}-`));
  if (!valid) return undefined;
  const file = join(directory, name);
  try {
    if (!(await stat(file)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const n = Math.max(1, Math.min(MAX_PREVIEW_ENTRIES, Math.floor(limit)));
  const stats: ReadStats = emptyReadStats();
  const entries: PreviewEntry[] = [];
  let more = false;
  for await (const e of readCapture(file, stats)) {
    if (entries.length === n) {
      more = true;
      break;
    }
    entries.push(previewOf(e));
  }
  return { name, entries, more, malformed: stats.skipped, torn: stats.torn };
}
