// One worker of `tapwire run --workers N`: the whole app except the admin server (the primary runs that once).
// Its listener shares the data port with the other workers (node:cluster hands each connection to one worker).
import { AggregatorRegistry } from 'prom-client';
import { buildApp, type App } from '../app.ts';
import { formatIssues, loadConfigFile } from '../config/load.ts';
import { createLogger } from '../core/log.ts';
import { isMessage, SLOT_ENV, type PrimaryMessage, type WorkerMessage } from './protocol.ts';

/** How often the worker pushes its stats to the primary. */
const STATS_INTERVAL_MS = 1000;

function send(message: WorkerMessage): void {
  // the channel is gone when the primary died: nothing to tell, the disconnect handler stops us
  if (process.connected) process.send?.(message);
}

export async function runWorker(file: string): Promise<void> {
  const slot = process.env[SLOT_ENV] ?? '?';
  const loaded = await loadConfigFile(file, process.env);
  if (!loaded.ok) {
    send({ type: 'tapwire:failed', message: formatIssues(loaded.issues, file) });
    process.exitCode = 1;
    disconnect();
    return;
  }
  const logger = createLogger({ level: loaded.config.log.level }).child({ worker: Number(slot) });
  // Installs prom-client's worker side of the cluster protocol; createMetrics registered this app's registry.
  new AggregatorRegistry();
  const app: App = buildApp(loaded.config, { logger, admin: false });
  try {
    const { listen } = await app.start();
    send({ type: 'tapwire:ready', listen });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    send({ type: 'tapwire:failed', message });
    await app.stop().catch(() => undefined);
    process.exitCode = 1;
    disconnect();
    return;
  }

  const pushStats = (): void => {
    const analysis = app.analysis;
    send({
      type: 'tapwire:stats',
      stats: app.stats.snapshot(),
      ...(analysis ? { performance: analysis.perf.snapshot(Date.now()), analysis: analysis.stats() } : {}),
    });
  };
  pushStats();
  const statsTimer = setInterval(pushStats, STATS_INTERVAL_MS);
  statsTimer.unref();

  let reloading = false;
  const reload = async (): Promise<void> => {
    if (reloading || app.draining) return;
    reloading = true;
    try {
      const next = await loadConfigFile(file, process.env);
      if (next.ok) app.reload(next.config);
      else {
        app.tap.emit('reload', { ok: false, message: `${next.issues.length} error(s)` });
        logger.error({ errors: formatIssues(next.issues, file).split('\n') }, 'configuration reload refused; the old configuration keeps serving');
      }
      send({ type: 'tapwire:reloaded', ok: next.ok });
    } finally {
      reloading = false;
    }
  };

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ trigger: why }, 'draining');
      send({ type: 'tapwire:draining' });
      clearInterval(statsTimer);
      app.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exitCode = 1;
        resolve();
      });
    };
    // The primary relays SIGTERM as a message (a Kubernetes SIGTERM reaches PID 1 only). A terminal's Ctrl-C reaches
    // every process of the group: the first signal drains like the message, a second one exits at once.
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stop(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // SIGHUP goes to the primary, which reloads every worker; a SIGHUP sent to a worker directly reloads that one.
    process.on('SIGHUP', () => void reload());
    process.on('message', (m: unknown) => {
      if (!isMessage<PrimaryMessage>(m)) return;
      if (m.type === 'tapwire:stop') stop('primary');
      else if (m.type === 'tapwire:reload') void reload();
      else if (m.type === 'tapwire:flush') {
        const done = (): void => send({ type: 'tapwire:flushed', id: m.id });
        (app.compare?.flush() ?? Promise.resolve()).then(done, done);
      }
    });
    // Without its primary nobody would stop this worker or serve its admin API: drain and go.
    process.on('disconnect', () => stop('primary gone'));
  });
  disconnect();
}

/** Lets the process exit: an open IPC channel would keep it alive. */
function disconnect(): void {
  if (process.connected) process.disconnect?.();
}
