// `tapwire report`: the compare verdict for people and pipelines. Offline (`-c FILE`: reads the config's
// SQLite store, computed exactly as GET /api/v1/verdict computes it) or online (`--admin URL`: asks a running
// tapwire). Prints a table, Markdown or JSON to stdout; exit 0 pass, 1 fail (or insufficient data, unless
// --allow-insufficient) or any error, 2 usage.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { compareApiFor, type FullVerdict } from '../../admin/compare.ts';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { openStore, parseStoreSpec, type StoreSpec } from '../../store/open.ts';
import type { Store } from '../../store/types.ts';
import { formatVerdict, VERDICT_FORMATS, type VerdictFormat } from '../format-verdict.ts';

/** How long `--admin` waits for the verdict. */
export const ADMIN_TIMEOUT_MS = 10_000;

export interface ReportIO {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** colour the table (stdout is a TTY and NO_COLOR is unset) */
  readonly color: boolean;
}

export interface ReportOptions {
  readonly config?: string;
  readonly admin?: URL;
  readonly token?: string;
  readonly route?: string;
  readonly format: VerdictFormat;
  readonly allowInsufficient: boolean;
}

/** A failure with a message for stderr (exit 1); `bare` messages are printed without the command's prefix. */
class ReportError extends Error {
  readonly bare: boolean;
  constructor(message: string, bare = false) {
    super(message);
    this.bare = bare;
  }
}

/** The exit code of a verdict. */
export function verdictExitCode(v: FullVerdict['verdict'], allowInsufficient: boolean): number {
  if (v === 'pass') return 0;
  if (v === 'insufficient_data' && allowInsufficient) return 0;
  return 1;
}

/** Computes the verdict from the config's store, without a running tapwire. */
export async function offlineVerdict(file: string, route: string | undefined, io: ReportIO): Promise<FullVerdict> {
  const loaded = await loadConfigFile(file, io.env);
  if (!loaded.ok) {
    // exactly as `tapwire validate` prints them
    throw new ReportError(`${formatIssues(loaded.issues, file)}\n${file}: ${loaded.issues.length} error${loaded.issues.length === 1 ? '' : 's'}`, true);
  }
  const config = loaded.config;
  const compared = config.routes.filter((r) => r.compare).map((r) => r.name);
  if (route !== undefined && !compared.includes(route)) {
    throw new ReportError(
      `no route named ${JSON.stringify(route)} compares in ${file}` + (compared.length ? ` (routes that compare: ${compared.join(', ')})` : ' (no route has compare: set)'),
    );
  }
  const baseDir = config.source !== undefined ? dirname(config.source) : undefined;
  let spec: StoreSpec;
  try {
    spec = parseStoreSpec(config.storage, baseDir);
  } catch (err) {
    throw new ReportError(`storage: ${(err as Error).message}`);
  }
  if (spec.kind === 'memory' || (spec.kind === 'sqlite' && spec.path === ':memory:')) {
    throw new ReportError(
      `storage is ${config.storage}: an in-memory store lives inside the running tapwire and cannot be read offline; ` +
        'ask it instead: tapwire report --admin http://HOST:PORT (the admin address)',
    );
  }
  if (spec.kind === 'sqlite' && !existsSync(spec.path)) {
    // openStore would create an empty database: a typo in the path must not read as "no data".
    throw new ReportError(`the store ${spec.path} does not exist (storage: ${config.storage}); has tapwire run with this configuration?`);
  }
  let store: Store;
  try {
    store = await openStore(config.storage, baseDir !== undefined ? { baseDir } : {});
  } catch (err) {
    throw new ReportError((err as Error).message);
  }
  try {
    const api = compareApiFor(() => store, () => config);
    return await api.verdict(route !== undefined ? { route } : {});
  } catch (err) {
    throw new ReportError(`cannot read the verdict from ${spec.kind === 'sqlite' ? spec.path : config.storage.replace(/\/\/[^@/]*@/, '//***@')}: ${(err as Error).message}`);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** The verdict URL under an admin base URL (a path prefix, e.g. behind an ingress, is kept). */
export function verdictUrl(base: URL, route: string | undefined): URL {
  const root = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
  root.search = '';
  root.hash = '';
  const url = new URL('api/v1/verdict', root);
  if (route !== undefined) url.searchParams.set('route', route);
  return url;
}

function looksLikeVerdict(body: unknown): body is FullVerdict {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Partial<Record<keyof FullVerdict, unknown>>;
  return (
    (b.verdict === 'pass' || b.verdict === 'fail' || b.verdict === 'insufficient_data') &&
    Array.isArray(b.endpoints) &&
    Array.isArray(b.routes) &&
    typeof b.summary === 'object' &&
    b.summary !== null
  );
}

/** Asks a running tapwire: GET BASE/api/v1/verdict, bounded by ADMIN_TIMEOUT_MS. */
export async function adminVerdict(base: URL, token: string | undefined, route: string | undefined, timeoutMs = ADMIN_TIMEOUT_MS): Promise<FullVerdict> {
  const url = verdictUrl(base, route);
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
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new ReportError(`the admin API at ${shown} did not answer within ${timeoutMs / 1000} s`);
    const cause = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new ReportError(`cannot reach the admin API at ${shown}: ${cause}`);
  }
  if (res.status !== 200) {
    let detail = '';
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.message === 'string') detail = `: ${String(body.error.code)}: ${body.error.message}`;
    } catch {
      // not JSON: the status says enough
    }
    if (res.status === 401) {
      const hint = token === undefined || token === '' ? 'no token was sent: pass --token or set TAPWIRE_ADMIN_TOKEN' : 'the token was refused: check --token / TAPWIRE_ADMIN_TOKEN against admin.token';
      throw new ReportError(`the admin API at ${shown} answered 401 Unauthorized (${hint})${detail}`);
    }
    if (res.status === 404) throw new ReportError(`the admin API at ${shown} answered 404: is this a tapwire admin address, with a route that compares?${detail}`);
    throw new ReportError(`the admin API at ${shown} answered ${res.status}${detail}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ReportError(`the admin API at ${shown} answered 200 with a body that is not JSON`);
  }
  if (!looksLikeVerdict(body)) throw new ReportError(`the admin API at ${shown} answered 200 with JSON that is not a tapwire verdict`);
  return body;
}

/** Runs the report and returns the exit code (0 pass, 1 fail, insufficient data or error). */
export async function report(opts: ReportOptions, io: ReportIO): Promise<number> {
  let v: FullVerdict;
  try {
    if (opts.admin !== undefined) v = await adminVerdict(opts.admin, opts.token, opts.route);
    else v = await offlineVerdict(opts.config!, opts.route, io);
  } catch (err) {
    if (err instanceof ReportError) {
      io.stderr(err.bare ? `${err.message}\n` : `tapwire report: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  io.stdout(formatVerdict(v, opts.format, { color: io.color }));
  const code = verdictExitCode(v.verdict, opts.allowInsufficient);
  if (code !== 0 && v.verdict === 'insufficient_data') io.stderr('tapwire report: not enough compared traffic for a verdict (--allow-insufficient accepts that)\n');
  return code;
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

/** `io` is for tests; the CLI passes nothing and gets process.env and the process streams. */
export function registerReport(program: Command, io?: ReportIO): void {
  program
    .command('report')
    .description('print the compare verdict (pass, fail, insufficient data) as a table, Markdown or JSON; exit 1 unless it passes')
    .addOption(new Option('-c, --config <file>', "configuration file (YAML): read the verdict from its SQLite store, offline").conflicts('admin'))
    .addOption(new Option('--admin <url>', 'ask a running tapwire at its admin base URL instead (GET /api/v1/verdict)').argParser(parseAdminUrl))
    .addOption(new Option('--token <token>', 'admin bearer token (with --admin)').env('TAPWIRE_ADMIN_TOKEN'))
    .option('--route <name>', 'only this route')
    .addOption(new Option('--format <format>', 'output format').choices(VERDICT_FORMATS).default('table'))
    .option('--allow-insufficient', 'exit 0 when there is too little compared traffic for a verdict', false)
    .addHelpText(
      'after',
      '\nExit codes: 0 pass, 1 fail, insufficient data (unless --allow-insufficient) or an error, 2 usage.\n' +
        'Offline, the verdict covers what the running tapwire has flushed to the store (compare.flushInterval).',
    )
    .action(async function (this: Command, opts: { config?: string; admin?: URL; token?: string; route?: string; format: VerdictFormat; allowInsufficient: boolean }) {
      if (opts.config === undefined && opts.admin === undefined) {
        this.error('error: one of -c, --config <file> or --admin <url> is required', { exitCode: 2, code: 'tapwire.usage' });
      }
      if (opts.token !== undefined && opts.admin === undefined && this.getOptionValueSource('token') === 'cli') {
        this.error('error: --token goes with --admin', { exitCode: 2, code: 'tapwire.usage' });
      }
      const code = await report(
        {
          ...(opts.config !== undefined ? { config: opts.config } : {}),
          ...(opts.admin !== undefined ? { admin: opts.admin } : {}),
          ...(opts.token !== undefined ? { token: opts.token } : {}),
          ...(opts.route !== undefined ? { route: opts.route } : {}),
          format: opts.format,
          allowInsufficient: opts.allowInsufficient,
        },
        io ?? {
          env: process.env,
          stdout: (s) => void process.stdout.write(s),
          stderr: (s) => void process.stderr.write(s),
          color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
        },
      );
      if (code !== 0) process.exitCode = code;
    });
}
