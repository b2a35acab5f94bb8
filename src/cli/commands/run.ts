// `tapwire run -c FILE`: the proxy. Refuses to listen on a bad config; SIGHUP or a changed file reloads;
// SIGTERM drains and exits 0.
import cluster from 'node:cluster';
import { watchFile, unwatchFile } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { buildApp } from '../../app.ts';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { createLogger } from '../../core/log.ts';
import { runPrimary } from '../../cluster/primary.ts';
import { runWorker } from '../../cluster/worker.ts';

/** --workers: 1 (one process, the default) to 64. */
function parseWorkers(value: string): number {
  if (!/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > 64) throw new InvalidArgumentError('must be a whole number from 1 to 64');
  return Number(value);
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the mirroring proxy')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('--no-watch', 'do not reload when the configuration file changes (SIGHUP still reloads)')
    .option('--workers <n>', 'processes sharing the data port (node:cluster), one admin API summing their metrics', parseWorkers, 1)
    .action(async (opts: { config: string; watch: boolean; workers: number }) => {
      // A forked worker runs this same command line (node:cluster re-executes the entry point).
      if (cluster.isWorker) await runWorker(opts.config);
      else if (opts.workers > 1) await runPrimary(opts.config, opts.watch, opts.workers);
      else await run(opts.config, opts.watch);
    });
}

export async function run(file: string, watch: boolean): Promise<void> {
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    // Node would silently accept any upstream certificate (reliability-anchors §4.5).
    process.stderr.write('tapwire: refusing to start with NODE_TLS_REJECT_UNAUTHORIZED=0: upstream TLS verification cannot be disabled\n');
    process.exitCode = 1;
    return;
  }
  const loaded = await loadConfigFile(file, process.env);
  if (!loaded.ok) {
    process.stderr.write(`${formatIssues(loaded.issues, file)}\ntapwire: not starting: the configuration has ${loaded.issues.length} error(s)\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createLogger({ level: loaded.config.log.level });
  const app = buildApp(loaded.config, { logger });
  try {
    const { listen, admin } = await app.start();
    process.stderr.write(`tapwire: ${loaded.config.mode === 'collector' ? 'collector' : 'proxy'} on ${listen.host}:${listen.port}${admin ? `, admin on http://${admin.host}:${admin.port}` : ''}\n`);
  } catch (err) {
    process.stderr.write(`tapwire: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    await app.stop().catch(() => undefined);
    process.exitCode = 1;
    return;
  }

  let reloading = false;
  const reload = async (why: string): Promise<void> => {
    if (reloading || app.draining) return;
    reloading = true;
    try {
      const next = await loadConfigFile(file, process.env);
      if (next.ok) app.reload(next.config);
      else {
        app.tap.emit('reload', { ok: false, message: `${next.issues.length} error(s)` });
        logger.error({ trigger: why, errors: formatIssues(next.issues, file).split('\n') }, 'configuration reload refused; the old configuration keeps serving');
      }
    } finally {
      reloading = false;
    }
  };
  const onHup = (): void => void reload('SIGHUP');
  process.on('SIGHUP', onHup);
  if (watch) watchFile(file, { interval: 1000 }, (cur, prev) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) void reload('file changed');
  });

  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal forces the exit (ecosystem.md: 130).
        process.stderr.write(`tapwire: ${signal} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'draining');
      app.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.off('SIGHUP', onHup);
  unwatchFile(file);
}
