// `tapwire replay --report PATH`: the run's summary (and verdict, with --compare) as one JSON document, so a CI job
// can keep it as an artefact and the dashboard can list it beside the capture it replayed (docs/replay.md). Header
// overrides are named, never their values; the target is the name the summary prints (never credentials: --target
// refuses a URL with userinfo). Written to a temporary file and renamed, mode 0600: a reader never sees half of it.
import { randomBytes } from 'node:crypto';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { REPLAY_REPORT_KIND, REPLAY_REPORT_SUFFIX } from '../capture/catalog.ts';
import { stamp } from '../capture/names.ts';
import type { ReplaySummary } from './stats.ts';

export const REPLAY_REPORT_VERSION = 1;

export interface ReplayReport {
  readonly kind: typeof REPLAY_REPORT_KIND;
  readonly v: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** the --input as given (a file, directory or prefix) and its last segment */
  readonly input: string;
  readonly inputName: string;
  readonly target: string;
  readonly pacing: string;
  readonly concurrency: number;
  readonly filters: readonly string[];
  /** names of the headers --header replaced (values are never written) */
  readonly headers: readonly string[];
  readonly summary: ReplaySummary;
  /** entries read, malformed lines skipped, a torn last line */
  readonly read: { readonly entries: number; readonly skipped: number; readonly torn: boolean; readonly files: number };
  readonly interrupted: boolean;
  /** with --compare: the verdict, in the shape of GET /api/v1/verdict */
  readonly verdict?: unknown;
  /** the exit code tapwire replay returned */
  readonly exitCode: number;
}

/** The last segment of an --input (a file, directory or prefix), as reports name it. */
export function inputName(input: string): string {
  return basename(input.replace(/[\\/]+$/, ''));
}

/**
 * Where the report goes: PATH itself, or inside PATH when it is a directory (or ends in a separator), named
 * `replay-<UTC time>-<input name>.replay.json`, the suffix the dashboard lists.
 */
export async function reportPath(path: string, input: string, startedMs: number): Promise<string> {
  let dir = /[\\/]$/.test(path);
  if (!dir) {
    try {
      dir = (await stat(path)).isDirectory();
    } catch {
      dir = false;
    }
  }
  if (!dir) return path;
  const name = inputName(input).replace(/\.ndjson(\.gz)?$/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'capture';
  return join(path, `replay-${stamp(startedMs)}-${name}${REPLAY_REPORT_SUFFIX}`);
}

export async function writeReport(file: string, report: ReplayReport): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
