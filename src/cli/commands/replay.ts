// `tapwire replay`: sends a capture (or an imported HAR/.gor) to a target at the recorded pace scaled (--speed), an
// even rate (--rate) or as fast as --concurrency allows, with filters and header overrides; progress on stderr,
// a summary at the end. With --compare the replayed answers are judged against the recorded ones by compare's own
// processor and verdict (src/replay/compare.ts), printed like `tapwire report`; exit 1 unless it passes.
import { Option, type Command } from 'commander';
import type { Dispatcher } from 'undici';
import { configNoise, createCompareApi, routeThresholds, type FullVerdict } from '../../admin/compare.ts';
import { REPLAY_REPORT_KIND } from '../../capture/catalog.ts';
import { emptyReadStats } from '../../capture/read.ts';
import { CompareOptionsError, compilePairOptions } from '../../compare/pair.ts';
import type { Thresholds } from '../../compare/types.ts';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { configFromObject } from '../../config/resolve.ts';
import type { ResolvedCompare, ResolvedCompareGlobal, ResolvedConfig } from '../../config/types.ts';
import { TapwireError } from '../../core/errors.ts';
import { parseDuration, parseSize } from '../../core/units.ts';
import { ReplayComparer, type RouteRules } from '../../replay/compare.ts';
import { FilterError, parseFilter, type Filter } from '../../replay/filter.ts';
import { PacingError, parseRate, parseSpeed, type Pacing } from '../../replay/pacing.ts';
import { startProgress } from '../../replay/progress.ts';
import { HeaderError, parseHeaderOverride, type HeaderOverride } from '../../replay/request.ts';
import { targetPool } from '../../replay/send.ts';
import { startReplay } from '../../replay/run.ts';
import { inputName, REPLAY_REPORT_VERSION, reportPath, writeReport, type ReplayReport } from '../../replay/report.ts';
import { formatSummary, type ReplaySummary } from '../../replay/stats.ts';
import { createMemoryStore } from '../../store/memory.ts';
import { formatVerdict, VERDICT_FORMATS, type VerdictFormat } from '../format-verdict.ts';
import { verdictExitCode } from './report.ts';

export interface ReplayIO {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: NodeJS.WritableStream;
  /** stderr is a terminal: a progress bar instead of plain lines */
  readonly tty: boolean;
  readonly color: boolean;
  readonly signal?: AbortSignal;
  /** plain progress interval (tests) */
  readonly progressIntervalMs?: number;
}

export interface ReplayFlags {
  readonly input: string;
  readonly target: string;
  readonly config?: string;
  readonly speed?: string;
  readonly rate?: string;
  readonly concurrency: string;
  readonly duration?: string;
  readonly loop: boolean;
  readonly filter: readonly string[];
  readonly header: readonly string[];
  readonly timeout: string;
  readonly maxBody: string;
  readonly compare: boolean;
  readonly ignore: readonly string[];
  readonly minSamples?: string;
  readonly allowInsufficient: boolean;
  readonly format: VerdictFormat;
  readonly progress: boolean;
  /** write the summary (and verdict) as JSON here, or into this directory */
  readonly report?: string;
}

/** A command line that cannot run: exit 2. */
export class UsageError extends TapwireError {
  constructor(message: string) {
    super('TW_ERR_USAGE', message);
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

interface Resolved {
  readonly pacing: Pacing;
  readonly concurrency: number;
  readonly durationMs?: number;
  readonly timeoutMs: number;
  readonly cap: number;
  readonly filters: Filter[];
  readonly headers: HeaderOverride[];
  readonly minSamples?: number;
}

function positiveInt(name: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${name} ${JSON.stringify(text)}: expected a whole number from 1 to ${max}`);
  return n;
}

function duration(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`${name} ${JSON.stringify(text)}: expected a duration such as 30s, 2m, 500ms`);
  return ms;
}

/** Checks every flag; throws UsageError naming the first bad one. */
export function resolveFlags(f: ReplayFlags): Resolved {
  if (f.speed !== undefined && f.rate !== undefined) throw new UsageError('--speed and --rate exclude each other: one paces by the recording, the other evenly');
  let pacing: Pacing = { kind: 'unpaced' };
  try {
    if (f.speed !== undefined) pacing = { kind: 'speed', factor: parseSpeed(f.speed) };
    if (f.rate !== undefined) pacing = { kind: 'rate', perSecond: parseRate(f.rate) };
  } catch (err) {
    if (err instanceof PacingError) throw new UsageError(err.message);
    throw err;
  }
  const cap = parseSize(f.maxBody);
  if (cap === undefined || cap < 1 || cap > 256 * 1024 * 1024) throw new UsageError(`--max-body ${JSON.stringify(f.maxBody)}: expected a size from 1 B to 256MiB such as 1MiB`);
  let filters: Filter[];
  let headers: HeaderOverride[];
  try {
    filters = f.filter.map(parseFilter);
    headers = f.header.map(parseHeaderOverride);
  } catch (err) {
    if (err instanceof FilterError || err instanceof HeaderError) throw new UsageError(err.message);
    throw err;
  }
  try {
    compilePairOptions({ ignore: [...f.ignore] });
  } catch (err) {
    if (err instanceof CompareOptionsError) throw new UsageError(`--ignore: ${err.message}`);
    throw err;
  }
  if (f.loop && f.duration === undefined && f.compare) {
    throw new UsageError('--loop with --compare needs --duration (it would never end, so there would never be a verdict)');
  }
  return {
    pacing,
    concurrency: positiveInt('--concurrency', f.concurrency, 10_000),
    ...(f.duration !== undefined ? { durationMs: duration('--duration', f.duration) } : {}),
    timeoutMs: duration('--timeout', f.timeout),
    cap,
    filters,
    headers,
    ...(f.minSamples !== undefined ? { minSamples: positiveInt('--min-samples', f.minSamples, 1_000_000_000) } : {}),
  };
}

/** The compare settings a config without routes gets: the schema's own defaults (never a second copy of them). */
function defaultCompare(): { global: ResolvedCompareGlobal; route: ResolvedCompare } {
  const r = configFromObject({ listen: '127.0.0.1:0', upstreams: { t: { url: 'http://127.0.0.1:1' } }, routes: [{ name: 'r', match: {}, primary: 't', compare: {} }] });
  if (!r.ok) throw new Error(`internal: the default compare settings do not resolve: ${JSON.stringify(r.issues)}`);
  return { global: r.config.compare, route: r.config.routes[0]!.compare! };
}

function rulesOf(c: ResolvedCompare): RouteRules {
  return { ignoreHeaders: c.ignoreHeaders, ignore: c.ignore, arrays: c.arrays, tolerance: c.tolerance, headers: c.headers, endpoints: c.endpoints, maxEndpoints: c.maxEndpoints };
}

interface Target {
  readonly name: string;
  readonly dispatcher: Dispatcher;
  readonly basePath: string;
}

function resolveTarget(target: string, config: ResolvedConfig | undefined, concurrency: number): Target {
  if (/^https?:\/\//i.test(target)) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new UsageError(`--target ${JSON.stringify(target)}: not a URL`);
    }
    if (url.username !== '' || url.password !== '') throw new UsageError('--target: put credentials in --header, not in the URL');
    if (url.search !== '' || url.hash !== '') throw new UsageError('--target: a base URL has no query or fragment');
    return { name: url.origin + (url.pathname === '/' ? '' : url.pathname), dispatcher: targetPool([url], { connections: concurrency, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS }), basePath: url.pathname };
  }
  if (config === undefined) throw new UsageError(`--target ${JSON.stringify(target)}: not an http(s) URL; an upstream name needs -c FILE`);
  const u = config.upstreams.get(target);
  if (u === undefined) throw new UsageError(`--target ${JSON.stringify(target)}: no such upstream in ${config.source ?? 'the configuration'} (upstreams: ${[...config.upstreams.keys()].join(', ')})`);
  const paths = new Set(u.urls.map((x) => x.pathname));
  if (paths.size > 1) throw new UsageError(`upstream ${target}: its URLs have different paths; replay needs one base path`);
  return {
    name: target,
    dispatcher: targetPool(u.urls, {
      connections: Math.max(1, Math.ceil(concurrency / u.urls.length)),
      connectTimeoutMs: u.connectTimeoutMs,
      ...(u.ca !== undefined ? { ca: u.ca } : {}),
      ...(u.servername !== undefined ? { servername: u.servername } : {}),
    }),
    basePath: [...paths][0] ?? '/',
  };
}

/** The verdict over what the comparer saw, judged with the config's thresholds and noise marks (or the defaults). */
async function verdictOf(comparer: ReplayComparer, config: ResolvedConfig | undefined, global: ResolvedCompareGlobal, minSamples: number | undefined): Promise<FullVerdict> {
  const store = createMemoryStore();
  try {
    // one flush at the end: the aggregator's rows are bounded, so nothing was lost by waiting
    const batch = comparer.flush();
    if (batch) await store.write(batch);
    const withMin = (t: Thresholds): Thresholds => (minSamples === undefined ? t : { ...t, minSamples });
    const table = new Map([...(config ? routeThresholds(config) : new Map<string, Thresholds>())].map(([k, t]) => [k, withMin(t)] as const));
    const api = createCompareApi({
      store: () => store,
      thresholds: () => table,
      defaults: () => withMin(global.thresholds),
      configNoise: () => (config ? configNoise(config) : []),
    });
    return await api.verdict();
  } finally {
    await store.close();
  }
}

/** Runs a replay and returns the exit code (0 done / pass, 1 failing verdict or nothing answered, 2 usage). */
export async function replay(f: ReplayFlags, io: ReplayIO): Promise<number> {
  const say = (s: string) => void io.stderr.write(s);
  let flags: Resolved;
  let config: ResolvedConfig | undefined;
  let target: Target;
  try {
    flags = resolveFlags(f);
    if (f.config !== undefined) {
      const loaded = await loadConfigFile(f.config, io.env);
      if (!loaded.ok) {
        say(`${formatIssues(loaded.issues, f.config)}\n${f.config}: ${loaded.issues.length} error(s)\n`);
        return 2;
      }
      config = loaded.config;
    }
    target = resolveTarget(f.target, config, flags.concurrency);
  } catch (err) {
    if (err instanceof UsageError) {
      say(`tapwire replay: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const defaults = defaultCompare();
  const global = config?.compare ?? defaults.global;
  const comparer = f.compare
    ? new ReplayComparer({
        routes: new Map((config?.routes ?? []).flatMap((r) => (r.compare ? [[r.name, rulesOf(r.compare)] as const] : []))),
        defaults: rulesOf(defaults.route),
        ignore: f.ignore,
        global: { limits: global.limits, examples: global.examples, redact: global.redact },
        target: target.name,
        now: Date.now,
        random: Math.random,
      })
    : undefined;

  const readStats = emptyReadStats();
  const run = startReplay({
    input: f.input,
    dispatcher: target.dispatcher,
    basePath: target.basePath === '/' ? '' : target.basePath,
    pacing: flags.pacing,
    concurrency: flags.concurrency,
    ...(flags.durationMs !== undefined ? { durationMs: flags.durationMs } : {}),
    loop: f.loop,
    filters: flags.filters,
    headers: flags.headers,
    timeoutMs: flags.timeoutMs,
    keep: comparer !== undefined,
    cap: flags.cap,
    readStats,
    ...(comparer ? { onResult: comparer.add.bind(comparer) } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  });
  const progress = f.progress
    ? startProgress({
        tty: io.tty,
        stream: io.stderr,
        stats: run.stats,
        startedAt: run.startedAt,
        ...(flags.durationMs !== undefined ? { durationMs: flags.durationMs } : {}),
        ...(io.progressIntervalMs !== undefined ? { intervalMs: io.progressIntervalMs } : {}),
      })
    : undefined;
  const startedMs = Date.now();
  let summary: ReplaySummary;
  try {
    summary = await run.done;
  } catch (err) {
    if (err instanceof TapwireError) {
      say(`tapwire replay: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    progress?.stop();
    await target.dispatcher.close().catch(() => undefined);
  }
  say(formatSummary(summary, flags.pacing.kind !== 'unpaced'));
  if (readStats.skipped > 0 || readStats.torn) {
    say(`  input: ${readStats.entries} entries read from ${readStats.files} file(s); ${readStats.skipped} malformed line(s) skipped${readStats.torn ? '; a torn last line skipped' : ''}\n`);
  }
  if (io.signal?.aborted) say('tapwire replay: interrupted; the summary covers what was sent\n');
  let code: number;
  let verdict: FullVerdict | undefined;
  if (!comparer) {
    code = summary.sent > 0 && summary.ok === 0 ? 1 : 0;
  } else {
    verdict = await verdictOf(comparer, config, global, flags.minSamples);
    io.stdout(formatVerdict(verdict, f.format, { color: io.color }));
    code = verdictExitCode(verdict.verdict, f.allowInsufficient);
    if (code !== 0 && verdict.verdict === 'insufficient_data') say('tapwire replay: not enough compared requests for a verdict (--min-samples lowers the bar; --allow-insufficient accepts it)\n');
  }
  if (f.report !== undefined) {
    const pacing = flags.pacing;
    const report: ReplayReport = {
      kind: REPLAY_REPORT_KIND,
      v: REPLAY_REPORT_VERSION,
      startedAt: new Date(startedMs).toISOString(),
      finishedAt: new Date().toISOString(),
      input: f.input,
      inputName: inputName(f.input),
      target: target.name,
      pacing: pacing.kind === 'unpaced' ? 'unpaced' : pacing.kind === 'rate' ? `${pacing.perSecond}/s` : `${pacing.factor}x`,
      concurrency: flags.concurrency,
      filters: [...f.filter],
      headers: flags.headers.map((h) => h.name),
      summary,
      read: { entries: readStats.entries, skipped: readStats.skipped, torn: readStats.torn, files: readStats.files },
      interrupted: io.signal?.aborted === true,
      ...(verdict ? { verdict } : {}),
      exitCode: code,
    };
    try {
      const file = await reportPath(f.report, f.input, startedMs);
      await writeReport(file, report);
      say(`  report: ${file}\n`);
    } catch (err) {
      say(`tapwire replay: cannot write the report to ${f.report}: ${(err as Error).message}\n`);
      return code === 0 ? 1 : code;
    }
  }
  return code;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `io` is for tests; the CLI passes nothing and gets process.env, the process streams and SIGINT. */
export function registerReplay(program: Command, io?: ReplayIO): void {
  program
    .command('replay')
    .description('replay a capture against a target at a chosen pace; with --compare, judge the answers against the recorded ones')
    .requiredOption('-i, --input <path>', 'capture file (.ndjson, .ndjson.gz), directory of rotated files, or file prefix')
    .requiredOption('-t, --target <url|upstream>', 'base URL (http://host:port[/base]) or an upstream name from -c')
    .option('-c, --config <file>', "configuration file: upstream names, routes' compare rules and thresholds")
    .option('--speed <factor>', 'recorded inter-arrival times divided by this factor: 2x, 0.5x')
    .option('--rate <n/s>', 'an even rate: 500/s, 30/m')
    .option('--concurrency <n>', 'requests in flight at most', '32')
    .option('--duration <d>', 'stop after this long: 30s, 5m')
    .option('--loop', 'start over at the end of the input (until --duration or Ctrl-C)', false)
    .option('--filter <spec>', 'only method:GET[,HEAD] / path:/prefix / path:~REGEX (repeatable: same kind = any, kinds = all)', collect, [])
    .option('--header <header>', "'Name: value' set on every request, replacing the recorded one (repeatable)", collect, [])
    .option('--timeout <d>', 'per request, to the last body byte', '10s')
    .option('--max-body <size>', 'response bytes kept per request for --compare', '4MiB')
    .option('--compare', 'compare each answer with the recorded primary answer and print a verdict; exit 1 unless it passes', false)
    .option('--ignore <jsonpath>', 'with --compare: a JSON path never compared, like $.meta.generatedAt (repeatable)', collect, [])
    .option('--min-samples <n>', 'with --compare: compared requests an endpoint needs for a verdict (default: the thresholds, 100)')
    .option('--allow-insufficient', 'with --compare: exit 0 when there is too little compared traffic for a verdict', false)
    .addOption(new Option('--format <format>', 'with --compare: verdict output format').choices(VERDICT_FORMATS).default('table'))
    .option('--no-progress', 'no progress bar or periodic lines')
    .option('--report <path>', 'write the summary (and the verdict) as JSON to this file, or into this directory as replay-TIME-INPUT.replay.json (the dashboard lists those beside the capture)')
    .addHelpText(
      'after',
      '\nExit codes: 0 replayed (and, with --compare, the verdict passes), 1 failing verdict, insufficient data,\n' +
        'an unreadable input or no request answered, 2 usage. Recorded redacted values (hmac:...) are sent as\n' +
        'recorded; use --header to give the target a real test credential. See docs/replay.md.',
    )
    .action(async function (this: Command, opts: ReplayFlags & { concurrency: string }) {
      if (opts.ignore.length > 0 && !opts.compare) this.error('error: --ignore goes with --compare', { exitCode: 2, code: 'tapwire.usage' });
      let interrupts = 0;
      const ac = new AbortController();
      const onInt = () => {
        interrupts++;
        if (interrupts === 1) ac.abort();
        else process.exit(130);
      };
      if (!io) process.on('SIGINT', onInt);
      try {
        const code = await replay(
          opts,
          io ?? {
            env: process.env,
            stdout: (s) => void process.stdout.write(s),
            stderr: process.stderr,
            tty: process.stderr.isTTY === true,
            color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
            signal: ac.signal,
          },
        );
        process.exitCode = interrupts > 0 && code === 0 ? 130 : code;
      } finally {
        if (!io) process.off('SIGINT', onInt);
      }
    });
}
