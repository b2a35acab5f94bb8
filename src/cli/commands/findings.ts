// `tapwire findings`: what traffic analysis found, for people and pipelines. Offline (`-c FILE`: reads the
// config's SQLite store, exactly the store query GET /api/v1/findings answers with) or online (`--admin URL`:
// asks a running tapwire). Prints a table or JSON to stdout; exit 0 (listing findings is not a failure),
// 1 with --fail-on SEVERITY when a listed finding is at least that severe, or on any error; 2 usage.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SEVERITIES, type DetectorName, type Finding, type Severity } from '../../analysis/types.ts';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { openStore, parseStoreSpec, type StoreSpec } from '../../store/open.ts';
import type { FindingsQuery, Store } from '../../store/types.ts';
import { safeText } from '../format-verdict.ts';

/** How long `--admin` waits for the findings. */
export const ADMIN_TIMEOUT_MS = 10_000;

export type FindingsFormat = 'table' | 'json';
export const FINDINGS_FORMATS: readonly FindingsFormat[] = ['table', 'json'];
export type StateFilter = 'open' | 'ongoing' | 'resolved' | 'active' | 'all';
export const STATE_FILTERS: readonly StateFilter[] = ['active', 'open', 'ongoing', 'resolved', 'all'];

// a Record so that tsc fails here when a detector is added to DetectorName and not to this list
const DETECTOR_SET: Readonly<Record<DetectorName, true>> = { rate_spike: true, flood: true, scan: true, credential_stuffing: true, error_burst: true, signature: true };
export const DETECTORS = Object.keys(DETECTOR_SET) as DetectorName[];

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export interface FindingsIO {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface FindingsOptions {
  readonly config?: string;
  readonly admin?: URL;
  readonly token?: string;
  readonly state: StateFilter;
  readonly detector?: DetectorName;
  readonly limit: number;
  readonly format: FindingsFormat;
  readonly failOn?: Severity;
}

/** A failure with a message for stderr (exit 1); `bare` messages are printed without the command's prefix. */
class FindingsError extends Error {
  readonly bare: boolean;
  constructor(message: string, bare = false) {
    super(message);
    this.bare = bare;
  }
}

/** The store query of the options (`all`: no state filter). */
export function findingsQuery(o: Pick<FindingsOptions, 'state' | 'detector' | 'limit'>): FindingsQuery {
  return {
    ...(o.state !== 'all' ? { state: o.state } : {}),
    ...(o.detector !== undefined ? { detector: o.detector } : {}),
    limit: o.limit,
  };
}

/** Reads the findings from the config's store, without a running tapwire; never creates the store. */
export async function offlineFindings(file: string, q: FindingsQuery, io: FindingsIO): Promise<Finding[]> {
  const loaded = await loadConfigFile(file, io.env);
  if (!loaded.ok) {
    throw new FindingsError(`${formatIssues(loaded.issues, file)}\n${file}: ${loaded.issues.length} error${loaded.issues.length === 1 ? '' : 's'}`, true);
  }
  const config = loaded.config;
  const baseDir = config.source !== undefined ? dirname(config.source) : undefined;
  let spec: StoreSpec;
  try {
    spec = parseStoreSpec(config.storage, baseDir);
  } catch (err) {
    throw new FindingsError(`storage: ${(err as Error).message}`);
  }
  if (spec.kind === 'memory' || (spec.kind === 'sqlite' && spec.path === ':memory:')) {
    throw new FindingsError(
      `storage is ${config.storage}: an in-memory store lives inside the running tapwire and cannot be read offline; ` +
        'ask it instead: tapwire findings --admin http://HOST:PORT (the admin address)',
    );
  }
  if (spec.kind === 'sqlite' && !existsSync(spec.path)) {
    // openStore would create an empty database: a typo in the path must not read as "nothing found".
    throw new FindingsError(`the store ${spec.path} does not exist (storage: ${config.storage}); has tapwire run with this configuration?`);
  }
  let store: Store;
  try {
    store = await openStore(config.storage, baseDir !== undefined ? { baseDir } : {});
  } catch (err) {
    throw new FindingsError((err as Error).message);
  }
  try {
    return await store.findings(q);
  } catch (err) {
    throw new FindingsError(`cannot read findings from ${spec.kind === 'sqlite' ? spec.path : config.storage}: ${(err as Error).message}`);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** The findings URL under an admin base URL (a path prefix, e.g. behind an ingress, is kept). */
export function findingsUrl(base: URL, q: FindingsQuery): URL {
  const root = new URL(base.href);
  root.search = '';
  root.hash = '';
  if (!root.pathname.endsWith('/')) root.pathname = `${root.pathname}/`;
  const url = new URL('api/v1/findings', root);
  if (q.state !== undefined) url.searchParams.set('state', q.state);
  if (q.detector !== undefined) url.searchParams.set('detector', q.detector);
  if (q.limit !== undefined) url.searchParams.set('limit', String(q.limit));
  return url;
}

function looksLikeFinding(f: unknown): f is Finding {
  if (typeof f !== 'object' || f === null) return false;
  const x = f as Partial<Record<keyof Finding, unknown>>;
  return (
    typeof x.id === 'string' &&
    typeof x.detector === 'string' &&
    typeof x.key === 'string' &&
    typeof x.title === 'string' &&
    typeof x.severity === 'string' &&
    (SEVERITIES as readonly string[]).includes(x.severity) &&
    (x.state === 'open' || x.state === 'ongoing' || x.state === 'resolved') &&
    typeof x.firstSeen === 'number' &&
    typeof x.lastSeen === 'number' &&
    typeof x.count === 'number'
  );
}

/** Asks a running tapwire: GET BASE/api/v1/findings, bounded by ADMIN_TIMEOUT_MS; the answer is `{ findings }`. */
export async function adminFindings(base: URL, token: string | undefined, q: FindingsQuery, timeoutMs = ADMIN_TIMEOUT_MS): Promise<Finding[]> {
  const url = findingsUrl(base, q);
  const shown = `${url.origin}${url.pathname}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new FindingsError(`the admin API at ${shown} did not answer within ${timeoutMs / 1000} s`);
    const cause = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new FindingsError(`cannot reach the admin API at ${shown}: ${cause}`);
  }
  if (res.status !== 200) {
    let detail = '';
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.message === 'string') detail = `: ${String(body.error.code)}: ${safeText(body.error.message)}`;
    } catch {
      // not JSON: the status says enough
    }
    if (res.status === 401) {
      const hint = token === undefined || token === '' ? 'no token was sent: pass --token or set TAPWIRE_ADMIN_TOKEN' : 'the token was refused: check --token / TAPWIRE_ADMIN_TOKEN against admin.token';
      throw new FindingsError(`the admin API at ${shown} answered 401 Unauthorized (${hint})${detail}`);
    }
    if (res.status === 404) throw new FindingsError(`the admin API at ${shown} answered 404: is this a tapwire admin address, with traffic analysis?${detail}`);
    throw new FindingsError(`the admin API at ${shown} answered ${res.status}${detail}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new FindingsError(`the admin API at ${shown} answered 200 with a body that is not JSON`);
  }
  const list = (body as { findings?: unknown } | null)?.findings;
  if (!Array.isArray(list) || !list.every(looksLikeFinding)) throw new FindingsError(`the admin API at ${shown} answered 200 with JSON that is not a list of tapwire findings`);
  return list;
}

// ---- rendering -----------------------------------------------------------------------------------------

const TITLE_MAX = 100;
const KEY_MAX = 80;

function cut(s: string, n: number): string {
  let out = '';
  let i = 0;
  for (const ch of s) {
    if (i++ === n) return `${out}…`;
    out += ch;
  }
  return out;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** Display width: code points. */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** What the query asked for, in words (for the empty table). */
function described(o: Pick<FindingsOptions, 'state' | 'detector'>): string {
  const state = o.state === 'all' ? 'any state' : o.state === 'active' ? 'open or ongoing' : o.state;
  return `${state}${o.detector !== undefined ? `, detector ${o.detector}` : ''}`;
}

/** An aligned table: severity, state, detector, title, count, first/last seen (ISO), key; text from traffic escaped. */
export function formatFindingsTable(findings: readonly Finding[], o: Pick<FindingsOptions, 'state' | 'detector'>): string {
  if (findings.length === 0) return `no findings (${described(o)})\n`;
  const titles = ['SEVERITY', 'STATE', 'DETECTOR', 'TITLE', 'COUNT', 'FIRST SEEN', 'LAST SEEN', 'KEY'];
  const right = new Set([4]);
  const rows = findings.map((f) => [
    safeText(f.severity),
    safeText(f.state),
    safeText(f.detector),
    cut(safeText(f.title), TITLE_MAX),
    String(f.count),
    iso(f.firstSeen),
    iso(f.lastSeen),
    cut(safeText(f.key), KEY_MAX),
  ]);
  const widths = titles.map((t, i) => Math.max(width(t), ...rows.map((r) => width(r[i]!))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const fill = ' '.repeat(widths[i]! - width(c));
        return right.has(i) ? fill + c : c + fill;
      })
      .join('  ')
      .trimEnd();
  const n = findings.length;
  return `${[line(titles), ...rows.map(line)].join('\n')}\n\n${n} finding${n === 1 ? '' : 's'} (${described(o)})\n`;
}

export function formatFindingsJson(findings: readonly Finding[]): string {
  return `${JSON.stringify({ findings }, null, 2)}\n`;
}

/** Findings at or above a severity. */
export function atLeast(findings: readonly Finding[], severity: Severity): Finding[] {
  const min = SEVERITIES.indexOf(severity);
  return findings.filter((f) => SEVERITIES.indexOf(f.severity) >= min);
}

/** Runs the command and returns the exit code (0 listed, 1 --fail-on matched or an error). */
export async function findingsCommand(opts: FindingsOptions, io: FindingsIO): Promise<number> {
  const q = findingsQuery(opts);
  let list: Finding[];
  try {
    if (opts.admin !== undefined) list = await adminFindings(opts.admin, opts.token, q);
    else list = await offlineFindings(opts.config!, q, io);
  } catch (err) {
    if (err instanceof FindingsError) {
      io.stderr(err.bare ? `${err.message}\n` : `tapwire findings: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  io.stdout(opts.format === 'json' ? formatFindingsJson(list) : formatFindingsTable(list, opts));
  if (opts.failOn !== undefined) {
    const bad = atLeast(list, opts.failOn);
    if (bad.length > 0) {
      io.stderr(`tapwire findings: ${bad.length} finding${bad.length === 1 ? '' : 's'} at or above ${opts.failOn} (--fail-on ${opts.failOn})\n`);
      return 1;
    }
  }
  return 0;
}

function parseAdminUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected the admin base URL, like http://127.0.0.1:9901');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('the admin URL must be http:// or https://');
  if (url.username !== '' || url.password !== '') throw new InvalidArgumentError('put the token in --token or TAPWIRE_ADMIN_TOKEN, not in the URL');
  return url;
}

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_LIMIT}`);
  const n = Number(value);
  if (n < 1 || n > MAX_LIMIT) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

/** `io` is for tests; the CLI passes nothing and gets process.env and the process streams. */
export function registerFindings(program: Command, io?: FindingsIO): void {
  program
    .command('findings')
    .description('list what traffic analysis found (floods, scans, signatures, …) as a table or JSON; --fail-on SEVERITY for CI')
    .addOption(new Option('-c, --config <file>', 'configuration file (YAML): read the findings from its SQLite store, offline').conflicts('admin'))
    .addOption(new Option('--admin <url>', 'ask a running tapwire at its admin base URL instead (GET /api/v1/findings)').argParser(parseAdminUrl))
    .addOption(new Option('--token <token>', 'admin bearer token (with --admin)').env('TAPWIRE_ADMIN_TOKEN'))
    .addOption(new Option('--state <state>', 'which findings (active: open or ongoing)').choices(STATE_FILTERS).default('active'))
    .addOption(new Option('--detector <name>', 'only this detector').choices(DETECTORS))
    .addOption(new Option('--limit <n>', `at most this many, newest first (1-${MAX_LIMIT})`).argParser(parseLimit).default(DEFAULT_LIMIT))
    .addOption(new Option('--format <format>', 'output format').choices(FINDINGS_FORMATS).default('table'))
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a listed finding is at least this severe').choices(SEVERITIES))
    .addHelpText(
      'after',
      '\nExit codes: 0 listed (findings or not), 1 a listed finding at or above --fail-on, or an error, 2 usage.\n' +
        'Offline, the list covers what the running tapwire has written to the store.',
    )
    .action(async function (
      this: Command,
      opts: { config?: string; admin?: URL; token?: string; state: StateFilter; detector?: DetectorName; limit: number; format: FindingsFormat; failOn?: Severity },
    ) {
      if (opts.config === undefined && opts.admin === undefined) {
        this.error('error: one of -c, --config <file> or --admin <url> is required', { exitCode: 2, code: 'tapwire.usage' });
      }
      if (opts.token !== undefined && opts.admin === undefined && this.getOptionValueSource('token') === 'cli') {
        this.error('error: --token goes with --admin', { exitCode: 2, code: 'tapwire.usage' });
      }
      const code = await findingsCommand(
        {
          ...(opts.config !== undefined ? { config: opts.config } : {}),
          ...(opts.admin !== undefined ? { admin: opts.admin } : {}),
          ...(opts.token !== undefined ? { token: opts.token } : {}),
          state: opts.state,
          ...(opts.detector !== undefined ? { detector: opts.detector } : {}),
          limit: opts.limit,
          format: opts.format,
          ...(opts.failOn !== undefined ? { failOn: opts.failOn } : {}),
        },
        io ?? {
          env: process.env,
          stdout: (s) => void process.stdout.write(s),
          stderr: (s) => void process.stderr.write(s),
        },
      );
      if (code !== 0) process.exitCode = code;
    });
}
