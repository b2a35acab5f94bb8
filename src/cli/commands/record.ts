// `tapwire record`: a proxy that only records. Every request is answered by the primary and captured (redacted) to
// files; no mirror, compare or analysis runs. `-c FILE` takes a config (each route without `capture` records all of
// its requests); `--primary URL --output DIR` needs none. SIGINT/SIGTERM drain, flush the capture and exit 0.
import type { Command } from 'commander';
import { buildApp } from '../../app.ts';
import { formatIssues, loadConfigFile, type LoadResult } from '../../config/load.ts';
import { configFromObject } from '../../config/resolve.ts';
import type { ResolvedConfig, ResolvedRoute } from '../../config/types.ts';
import { createLogger } from '../../core/log.ts';

interface RecordOptions {
  config?: string;
  primary?: string;
  listen: string;
  output?: string;
  gzip?: boolean;
  admin?: string;
}

export function registerRecord(program: Command): void {
  program
    .command('record')
    .description('run a proxy that only records: the primary answers, every request is captured to files (docs/capture.md)')
    .option('-c, --config <file>', 'configuration file (YAML); its routes record, their mirrors are not sent')
    .option('--primary <url>', 'without a config: the upstream that answers (http://host:port)')
    .option('--listen <addr>', 'without a config: where clients connect', '127.0.0.1:8080')
    .option('-o, --output <path>', 'directory (or file prefix) for the capture files; overrides capture.file')
    .option('--gzip', 'gzip the capture files')
    .option('--admin <addr>', 'without a config: serve /metrics and the admin API here')
    .action(async (opts: RecordOptions) => {
      await record(opts);
    });
}

const DEFAULT_ROUTE_CAPTURE = { percentage: 100, sampleBy: { kind: 'random' }, maxBodyBytes: 64 * 1024 } as const;

/** The config as a recorder: no mirrors, secondary, compare or analysis; every route captures. */
export function recordingConfig(config: ResolvedConfig, output: string | undefined, gzip: boolean | undefined): ResolvedConfig {
  const routes = config.routes.map((r): ResolvedRoute => {
    const { secondary: _s, compare: _c, ...rest } = r;
    return { ...rest, mirrors: [], analyze: false, capture: r.capture ?? DEFAULT_ROUTE_CAPTURE };
  });
  const file = output === undefined ? config.capture.file : /[/\\]$/.test(output) ? output : `${output}/`;
  return { ...config, routes, capture: { ...config.capture, ...(file !== undefined ? { file } : {}), ...(gzip ? { gzip } : {}) } };
}

function quickStart(o: RecordOptions): LoadResult {
  return configFromObject(
    {
      listen: o.listen,
      ...(o.admin ? { admin: { listen: o.admin } } : {}),
      upstreams: { primary: { url: o.primary } },
      routes: [{ name: 'all', primary: 'primary', capture: {} }],
      capture: {
        file: o.output,
        gzip: o.gzip ?? false,
        ...(process.env.TAPWIRE_CAPTURE_KEY ? { redact: { key: process.env.TAPWIRE_CAPTURE_KEY } } : {}),
      },
    },
    { baseDir: process.cwd() },
  );
}

export async function record(o: RecordOptions): Promise<void> {
  const usage = (message: string): void => {
    process.stderr.write(`tapwire record: ${message}\n`);
    process.exitCode = 2;
  };
  if (o.config === undefined && (o.primary === undefined || o.output === undefined)) return usage('give -c FILE, or --primary URL and --output DIR');
  if (o.config !== undefined && o.primary !== undefined) return usage('give -c FILE or --primary URL, not both');
  const loaded = o.config !== undefined ? await loadConfigFile(o.config, process.env) : quickStart(o);
  if (!loaded.ok) {
    process.stderr.write(`${formatIssues(loaded.issues, o.config)}\ntapwire: not starting: the configuration has ${loaded.issues.length} error(s)\n`);
    process.exitCode = 1;
    return;
  }
  const config = recordingConfig(loaded.config, o.output === undefined ? undefined : (configFromOutput(o.output)), o.gzip);
  if (config.capture.file === undefined) return usage('the config has no capture.file: give --output DIR');
  const logger = createLogger({ level: config.log.level });
  const app = buildApp(config, { logger, admin: o.config !== undefined || o.admin !== undefined });
  try {
    const { listen, admin } = await app.start();
    process.stderr.write(
      `tapwire: proxy on ${listen.host}:${listen.port}${admin ? `, admin on http://${admin.host}:${admin.port}` : ''}\n` +
        `tapwire: recording to ${config.capture.file}${config.capture.gzip ? ' (gzip)' : ''}; Ctrl-C stops and flushes\n`,
    );
  } catch (err) {
    process.stderr.write(`tapwire: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    await app.stop().catch(() => undefined);
    process.exitCode = 1;
    return;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`tapwire: ${signal} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      app.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  const s = app.capture?.stats();
  const total = (k: string): number => Object.values(s?.routes ?? {}).reduce((n, c) => n + (c[k as keyof typeof c] ?? 0), 0);
  process.stderr.write(
    `tapwire: recorded ${total('written')} requests in ${s?.files ?? 0} file(s) under ${config.capture.file}` +
      `; dropped ${total('dropped_queue_full')} (queue full), ${total('dropped_write_error')} (write errors)\n`,
  );
}

/** --output is relative to the working directory. */
function configFromOutput(output: string): string {
  return output.startsWith('/') ? output : `${process.cwd()}/${output}`;
}
