// The primary of `tapwire run --workers N` (node:cluster): forks N workers that share the data port, serves the
// admin API once for all of them, relays SIGTERM/SIGINT (drain) and SIGHUP (reload), and restarts a worker that
// dies, at a bounded rate. It handles no client traffic itself.
import cluster, { type Worker } from 'node:cluster';
import { unwatchFile, watchFile } from 'node:fs';
import { dirname } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { createAdminServer } from '../admin/server.ts';
import { compareApiFor } from '../admin/compare.ts';
import type { StatsSnapshot } from '../admin/stats.ts';
import { formatIssues, loadConfigFile } from '../config/load.ts';
import { redactedConfig } from '../config/redact.ts';
import type { ResolvedConfig } from '../config/types.ts';
import { Tap } from '../core/events.ts';
import { createLogger } from '../core/log.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import { answered, ClusterRegistry, createMetricsGatherer, mergeStats } from './admin.ts';
import { isMessage, SLOT_ENV, type WorkerMessage } from './protocol.ts';

/** A slot whose worker died this many times within RESTART_WINDOW_MS is not restarted again: tapwire exits 1. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** Every worker must be listening within this time, or tapwire gives up starting. */
const START_TIMEOUT_MS = 60_000;
/** After the drain deadline, workers get this long to flush compare and close the store before SIGKILL. */
const STOP_GRACE_MS = 10_000;

interface Slot {
  readonly index: number;
  worker?: Worker;
  ready: boolean;
  stats?: StatsSnapshot;
  performance?: unknown;
  analysis?: unknown;
  /** when this slot's worker was restarted, within the window */
  restarts: number[];
}

/** Why a config cannot run on several workers, or undefined. */
export function workersProblem(config: ResolvedConfig, workers: number): string | undefined {
  if (workers <= 1 || config.storage !== 'memory') return undefined;
  const uses = config.routes.filter((r) => r.compare || r.analyze).map((r) => r.name);
  if (uses.length === 0) return undefined;
  return (
    `--workers ${workers} with storage: memory: each worker would keep its own results and the admin API could show none ` +
    `(route ${uses.join(', ')} compares or analyses). Use storage: sqlite:PATH or postgres://… (docs/kubernetes.md, "Workers")`
  );
}

export async function runPrimary(file: string, watch: boolean, workers: number): Promise<void> {
  const fail = (message: string): void => {
    process.stderr.write(`tapwire: ${message}\n`);
    process.exitCode = 1;
  };
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') return fail('refusing to start with NODE_TLS_REJECT_UNAUTHORIZED=0: upstream TLS verification cannot be disabled');
  const loaded = await loadConfigFile(file, process.env);
  if (!loaded.ok) return fail(`${formatIssues(loaded.issues, file)}\ntapwire: not starting: the configuration has ${loaded.issues.length} error(s)`);
  let config = loaded.config;
  const problem = workersProblem(config, workers);
  if (problem) return fail(`not starting: ${problem}`);
  const logger = createLogger({ level: config.log.level }).child({ worker: 'primary' });

  // Opened here first, so migrations run once before any worker opens the same store.
  let store: Store;
  try {
    store = await openStore(config.storage, config.source ? { baseDir: dirname(config.source) } : {});
  } catch (err) {
    return fail(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
  }

  const slots: Slot[] = Array.from({ length: workers }, (_, index) => ({ index, ready: false, restarts: [] }));
  const bySlot = new Map<number, Slot>();
  let draining = false;

  const own = new Registry();
  const restartsTotal = new Counter({ name: 'tapwire_cluster_worker_restarts_total', help: 'Workers restarted after they died (run --workers)', registers: [own] });
  new Gauge({
    name: 'tapwire_cluster_workers',
    help: 'Workers by state (run --workers): ready serve traffic; starting are being started or restarted',
    labelNames: ['state'],
    registers: [own],
    collect() {
      const ready = slots.filter((s) => s.ready).length;
      this.labels('ready').set(ready);
      this.labels('starting').set(slots.length - ready);
    },
  });
  const incomplete = new Counter({ name: 'tapwire_cluster_scrape_incomplete_total', help: 'Workers left out of a /metrics scrape because they did not answer in time', registers: [own] });
  const gatherer = createMetricsGatherer();
  const registry = new ClusterRegistry(() => gatherer.gather(), own, (n) => incomplete.inc(n));

  // Compare answers flush the workers' pending batches first, so a verdict includes the latest trials.
  let flushSeq = 0;
  const flushWaiters = new Map<number, { left: Set<number>; done: () => void }>();
  const flushWorkers = (): Promise<void> =>
    new Promise((resolve) => {
      const id = ++flushSeq;
      const left = new Set<number>();
      const timer = setTimeout(() => done(), 5000);
      const done = (): void => {
        clearTimeout(timer);
        flushWaiters.delete(id);
        resolve();
      };
      for (const s of slots) if (s.worker?.isConnected() && s.ready) {
        left.add(s.worker.id);
        s.worker.send({ type: 'tapwire:flush', id });
      }
      if (left.size === 0) return done();
      flushWaiters.set(id, { left, done });
    });

  const perWorker = (pick: (s: Slot) => unknown) => slots.filter((s) => pick(s) !== undefined).map((s) => ({ worker: s.index, pid: s.worker?.process.pid, ...(pick(s) as object) }));
  const admin = createAdminServer({
    host: config.admin.host,
    port: config.admin.port,
    ...(config.admin.token !== undefined ? { token: config.admin.token } : {}),
    // the workers' events stay in the workers: live views in the dashboard show only what stats carry
    tap: new Tap(),
    registry,
    stats: () => {
      const live = slots.filter((s) => s.stats);
      const merged = mergeStats(live.map((s) => s.stats!));
      const view: StatsSnapshot & { workers: unknown[] } = {
        ...merged,
        workers: slots.map((s) => ({ worker: s.index, pid: s.worker?.process.pid ?? null, ready: s.ready, requests: s.stats ? answered(s.stats) : 0, restarts: s.restarts.length })),
      };
      return view;
    },
    isReady: () => !draining && slots.every((s) => s.ready),
    config: () => redactedConfig(config),
    logger,
    compare: compareApiFor(() => store, () => config, flushWorkers),
    analysis: {
      findings: (q) => store.findings(q),
      finding: (id) => store.finding(id),
      performance: () => (slots.some((s) => s.performance !== undefined) ? { workers: perWorker((s) => s.performance) } : undefined),
      stats: () => (slots.some((s) => s.analysis !== undefined) ? { workers: perWorker((s) => s.analysis) } : undefined),
    },
  });

  const fork = (slot: Slot): void => {
    const worker = cluster.fork({ [SLOT_ENV]: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    bySlot.set(worker.id, slot);
  };

  let started = false;
  let stopping = false;
  let listenAddr: { host: string; port: number } | undefined;
  /** resolves when stopAll has finished, whatever started it (a signal, the restart limit) */
  let onStopped: (() => void) | undefined;
  const finished = new Promise<void>((r) => (onStopped = r));
  let resolveStartup: ((error?: string) => void) | undefined;
  let resolveStopped: (() => void) | undefined;
  let exitCode = 0;

  cluster.on('message', (worker: Worker, m: unknown) => {
    const slot = bySlot.get(worker.id);
    if (!slot || !isMessage<WorkerMessage>(m)) return;
    switch (m.type) {
      case 'tapwire:ready':
        slot.ready = true;
        listenAddr = m.listen;
        if (!started && slots.every((s) => s.ready)) resolveStartup?.();
        break;
      case 'tapwire:failed':
        logger.error({ worker: slot.index, message: m.message }, 'worker could not start');
        if (!started) resolveStartup?.(`worker ${slot.index} could not start: ${m.message}`);
        break;
      case 'tapwire:draining':
        slot.ready = false;
        break;
      case 'tapwire:stats':
        slot.stats = m.stats;
        slot.performance = m.performance;
        slot.analysis = m.analysis;
        break;
      case 'tapwire:flushed':
        for (const w of flushWaiters.values()) if (w.left.delete(worker.id) && w.left.size === 0) w.done();
        break;
      case 'tapwire:reloaded':
        break;
    }
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const slot = bySlot.get(worker.id);
    bySlot.delete(worker.id);
    if (!slot || slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    slot.stats = undefined;
    slot.performance = undefined;
    slot.analysis = undefined;
    if (stopping) {
      // a worker that could not drain cleanly makes the whole exit a failure; one restarted earlier does not
      if (code !== 0) exitCode = 1;
      if (slots.every((s) => !s.worker)) resolveStopped?.();
      return;
    }
    if (!started) {
      resolveStartup?.(`worker ${slot.index} exited while starting (code ${code}, signal ${signal})`);
      return;
    }
    const now = Date.now();
    slot.restarts = slot.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (slot.restarts.length >= MAX_RESTARTS) {
      logger.fatal({ worker: slot.index, code, signal, restarts: slot.restarts.length }, `worker died ${MAX_RESTARTS} times within ${RESTART_WINDOW_MS / 1000} s: stopping`);
      void stopAll('worker restart limit', 1);
      return;
    }
    // 100 ms, 200 ms, … up to 5 s: a worker that dies at once does not spin the CPU.
    const delay = Math.min(5000, 100 * 2 ** slot.restarts.length);
    slot.restarts.push(now);
    restartsTotal.inc();
    logger.error({ worker: slot.index, code, signal, restartInMs: delay }, 'worker died; restarting it');
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, delay);
  });

  const stopAll = async (why: string, code = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    draining = true;
    if (code !== 0) exitCode = code;
    logger.info({ trigger: why }, 'draining every worker');
    const stopped = new Promise<void>((r) => (resolveStopped = r));
    for (const s of slots) if (s.worker?.isConnected()) s.worker.send({ type: 'tapwire:stop' });
    if (slots.every((s) => !s.worker)) resolveStopped?.();
    const deadline = config.shutdown.drainTimeoutMs + STOP_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise<void>((r) => (timer = setTimeout(r, deadline)))]);
    clearTimeout(timer);
    for (const s of slots) if (s.worker) {
      logger.error({ worker: s.index }, 'worker did not stop in time: killed');
      s.worker.process.kill('SIGKILL');
      exitCode = 1;
    }
    gatherer.close();
    await admin.close();
    await store.close().catch((err: unknown) => logger.warn({ err }, 'the store did not close cleanly'));
    logger.info('tapwire stopped');
    onStopped?.();
  };

  // Start: every worker listening, then the admin API.
  const startError = await new Promise<string | undefined>((resolve) => {
    resolveStartup = resolve;
    setTimeout(() => resolve(`the workers were not all listening within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS).unref();
    for (const s of slots) fork(s);
  });
  resolveStartup = undefined;
  if (startError === undefined) {
    try {
      const a = await admin.listen();
      started = true;
      process.stderr.write(`tapwire: ${config.mode === 'collector' ? 'collector' : 'proxy'} on ${listenAddr?.host}:${listenAddr?.port} (${workers} workers), admin on http://${a.host}:${a.port}\n`);
    } catch (err) {
      await stopAll('admin server failed', 1);
      return fail(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    await stopAll('start failed', 1);
    return fail(`cannot start: ${startError}`);
  }

  // Reload: the primary checks the file for its own views; every worker reloads it and keeps its old config if invalid.
  let reloading = false;
  const reload = async (why: string): Promise<void> => {
    if (reloading || draining) return;
    reloading = true;
    try {
      const next = await loadConfigFile(file, process.env);
      if (next.ok) config = next.config;
      else logger.error({ trigger: why, errors: formatIssues(next.issues, file).split('\n') }, 'configuration reload refused; the old configuration keeps serving');
      for (const s of slots) if (s.worker?.isConnected()) s.worker.send({ type: 'tapwire:reload' });
    } finally {
      reloading = false;
    }
  };
  const onHup = (): void => void reload('SIGHUP');
  process.on('SIGHUP', onHup);
  if (watch) watchFile(file, { interval: 1000 }, (cur, prev) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) void reload('file changed');
  });

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      // A second signal forces the exit (ecosystem.md: 130), workers included.
      process.stderr.write(`tapwire: ${signal} again, exiting now\n`);
      for (const s of slots) s.worker?.process.kill('SIGKILL');
      process.exit(130);
    }
    signalled = true;
    void stopAll(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await finished;
  process.off('SIGHUP', onHup);
  unwatchFile(file);
  process.exitCode = exitCode;
}
