// The only place that wires everything: buildApp(config) → { start, reload, stop }. Building opens no socket.
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { HostPort, ResolvedConfig } from './config/types.ts';
import { Tap } from './core/events.ts';
import { createLogger, type Logger } from './core/log.ts';
import { createAdminServer } from './admin/server.ts';
import { compareApiFor } from './admin/compare.ts';
import { createMetrics, registerAnalysisMetrics, registerCollectorMetrics, registerCompareMetrics } from './admin/metrics.ts';
import { CompareEngine } from './compare/engine.ts';
import { processorSettings } from './compare/processor.ts';
import { AnalysisHooks, type AnalysisRouteSettings } from './analysis/observe.ts';
import { AnalysisPipeline, type AnalysisSettings } from './analysis/pipeline.ts';
import { createAlertSinks, type AlertSinks } from './analysis/alerts.ts';
import type { Transition } from './analysis/findings.ts';
import type { Finding } from './analysis/types.ts';
import { combineHooks } from './core/hooks.ts';
import { APP_VERSION } from './core/version.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/types.ts';
import { createStats } from './admin/stats.ts';
import { redactedConfig } from './config/redact.ts';
import { Mirroring } from './mirror/dispatch.ts';
import { sampleRequest } from './mirror/sample.ts';
import { CaptureHooks } from './capture/observe.ts';
import { CaptureWriter } from './capture/writer.ts';
import { listCaptures, previewCapture } from './capture/catalog.ts';
import { registerCaptureMetrics } from './admin/metrics.ts';
import { randomBytes } from 'node:crypto';
import { createHandler, type ProxySnapshot } from './proxy/handler.ts';
import { createCollector, type Collector } from './collector/handler.ts';
import { createListener } from './proxy/listener.ts';
import { UpstreamPool } from './upstream/pool.ts';

export interface AppOptions {
  readonly logger?: Logger;
  /** injected randomness for sampling (tests) */
  readonly random?: () => number;
  /** start the admin server (default true) */
  readonly admin?: boolean;
}

export interface App {
  readonly tap: Tap;
  /** traffic analysis, once started with a route that analyses */
  readonly analysis: AnalysisPipeline | undefined;
  /** the compare engine, once started with a route that compares */
  readonly compare: CompareEngine | undefined;
  /** the store, once started */
  readonly store: Store | undefined;
  readonly mirroring: Mirroring;
  /** the capture writer, once started with a route that captures (docs/capture.md) */
  readonly capture: CaptureWriter | undefined;
  /** collector mode (docs/collector.md): the copies a mesh sends; undefined in proxy mode */
  readonly collector: Collector | undefined;
  readonly stats: ReturnType<typeof createStats>;
  readonly logger: Logger;
  /** the config currently serving */
  config(): ResolvedConfig;
  start(): Promise<{ listen: HostPort; admin?: HostPort }>;
  /** swap in a validated config atomically; requests in flight finish under the one they arrived with */
  reload(config: ResolvedConfig): void;
  /** graceful: readiness 503, stop accepting, drain in-flight requests and copies, close */
  stop(): Promise<void>;
  readonly draining: boolean;
}

function buildPools(config: ResolvedConfig, previous?: ReadonlyMap<string, UpstreamPool>): Map<string, UpstreamPool> {
  const pools = new Map<string, UpstreamPool>();
  const used = new Set(config.routes.flatMap((r) => (r.secondary ? [r.primary, r.secondary] : [r.primary])));
  for (const name of used) {
    const u = config.upstreams.get(name)!;
    const old = previous?.get(name);
    pools.set(name, old && UpstreamPool.key(old.upstream) === UpstreamPool.key(u) ? old : new UpstreamPool(u));
  }
  return pools;
}

function analysisRoutes(config: ResolvedConfig): AnalysisRouteSettings[] {
  return config.routes
    .filter((r) => r.analyze)
    .map((r) => ({ route: r.name, endpoints: r.compare?.endpoints ?? [], maxEndpoints: r.compare?.maxEndpoints ?? 200 }));
}

function analysisSettings(config: ResolvedConfig): AnalysisSettings {
  const a = config.analysis;
  return { queue: a.queue, resolveAfterMs: a.resolveAfterMs, detectors: a.detectors, signatures: a.signatures };
}

/** How often retention runs over the store. */
const PRUNE_INTERVAL_MS = 60_000;

function compareSettings(config: ResolvedConfig) {
  return processorSettings(config.routes, config.compare);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function nonZero(counts: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

export function buildApp(initial: ResolvedConfig, opts: AppOptions = {}): App {
  const logger = opts.logger ?? createLogger({ level: initial.log.level });
  const tap = new Tap();
  const metrics = createMetrics(tap);
  const stats = createStats(tap);
  // set once the compare engine runs: which requests of a comparing route become trials (its budget)
  let admitTrial: ((route: string) => boolean) | undefined;
  // Capture (docs/capture.md): sampled with the mirrors' sticky sampling; combined before mirroring, so that
  // mirroring can hand the copies' answers of a captured request over (joinCapture).
  let capture: CaptureWriter | undefined;
  let offCapture: (() => void) | undefined;
  const captureRandom = opts.random ?? Math.random;
  const captureHooks = new CaptureHooks({
    tap,
    routes: initial.routes,
    sample: (policy, info) => sampleRequest(policy, info, captureRandom),
    sampledOut: (route) => capture?.sampledOut(route),
  });
  const mirroring = new Mirroring(initial, {
    joinCapture: (info) => captureHooks.join(info),
    tap,
    ...(opts.random ? { random: opts.random } : {}),
    // collector mode: a trial needs a reference (asked first, so a copy without one takes nothing from compare's budget)
    wantsTrial: (route) => (collector?.referenceAvailable() ?? true) && (admitTrial?.(route) ?? true),
  });
  // log.access: one line per answered request, from the exchange event only (nothing a client sent is logged).
  const offAccess = initial.log.access
    ? tap.on('exchange', (e) =>
        logger.info(
          { route: e.route, upstream: e.upstream, status: e.status, ms: Math.round(e.durationMs * 10) / 10, ...(e.error ? { error: e.error } : {}) },
          'access',
        ),
      )
    : undefined;
  let pipeline: AnalysisPipeline | undefined;
  let alerts: AlertSinks | undefined;
  let alertsKey = '';
  const analysisHooks = new AnalysisHooks({ routes: analysisRoutes(initial), bodyBytes: initial.analysis.bodyBytes, sink: (e) => pipeline?.engine.offer(e) });
  let snapshot: ProxySnapshot = { config: initial, pools: buildPools(initial) };
  let draining = false;
  let server: Server | undefined;
  let store: Store | undefined;
  let engine: CompareEngine | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  /** routes whose trials go to compare */
  let comparing = new Set(initial.routes.filter((r) => r.compare).map((r) => r.name));
  let offTrial: (() => void) | undefined;

  const startCompare = (config: ResolvedConfig): void => {
    if (engine || !store || comparing.size === 0) return;
    const target = store;
    engine = new CompareEngine({
      settings: compareSettings(config),
      queue: config.compare.queue,
      maxPerSecond: config.compare.maxPerSecond,
      flushIntervalMs: config.compare.flushIntervalMs,
      worker: config.compare.worker,
      sink: (batch) => target.write(batch),
      onError: (message, err) => logger.error({ err }, message),
    });
    const e = engine;
    admitTrial = (route) => comparing.has(route) && e.admit();
    // After the client was answered (the trial event comes once the primary and every copy are done).
    offTrial = tap.on('trial', (t) => {
      if (comparing.has(t.route)) e.offer(t);
    });
  };
  // Findings reach the store in batches, one write at a time; a finding changed twice before a write is written once.
  const pendingFindings = new Map<string, Finding>();
  let writingFindings: Promise<void> | undefined;
  const writeFindings = (): Promise<void> => {
    if (writingFindings) return writingFindings;
    if (pendingFindings.size === 0 || !store) return Promise.resolve();
    const batch = [...pendingFindings.values()];
    pendingFindings.clear();
    const target = store;
    writingFindings = target
      .writeFindings(batch)
      .catch((err: unknown) => logger.error({ err }, 'writing findings to the store failed'))
      .finally(() => {
        writingFindings = undefined;
        if (pendingFindings.size > 0) void writeFindings();
      });
    return writingFindings;
  };
  const onTransitions = (ts: readonly Transition[]): void => {
    for (const t of ts) {
      pendingFindings.set(t.finding.id, t.finding);
      if (t.kind === 'opened') metrics.findingOpened(t.finding.detector, t.finding.severity);
      if (t.kind !== 'updated') {
        logger.warn({ finding: t.finding.id, detector: t.finding.detector, severity: t.finding.severity, key: t.finding.key, state: t.finding.state }, `finding ${t.kind}: ${t.finding.title}`);
      }
      alerts?.notify(t);
    }
    // pending findings still cap at the tracker's bound (one entry per active finding)
    void writeFindings();
  };
  const startAnalysis = async (config: ResolvedConfig): Promise<void> => {
    const routes = analysisRoutes(config);
    analysisHooks.apply(routes, config.analysis.bodyBytes);
    const key = JSON.stringify(config.analysis.alerts);
    if (key !== alertsKey) {
      const old = alerts;
      alertsKey = key;
      alerts = config.analysis.alerts.length ? createAlertSinks(config.analysis.alerts, { logger, version: APP_VERSION }) : undefined;
      void old?.close(2000);
    }
    if (pipeline) return pipeline.apply(analysisSettings(config));
    if (routes.length === 0) return;
    pipeline = new AnalysisPipeline(analysisSettings(config), { onTransitions, onError: (message, err) => logger.error({ err }, message) });
    // Findings still open when tapwire last stopped continue (no second "opened" alert); silence resolves them.
    const active = await store?.findings({ state: 'active', limit: 500 }).catch(() => []);
    if (active?.length) pipeline.tracker.restore(active);
  };
  registerAnalysisMetrics(metrics.registry, { stats: () => pipeline?.stats(), perf: () => pipeline?.perf.snapshot(Date.now()).endpoints });
  registerCompareMetrics(metrics.registry, { engine: () => engine?.stats(), storeSize: async () => store?.size() });
  const compareApi = compareApiFor(
    () => {
      if (!store) throw new Error('the store is not open yet');
      return store;
    },
    () => snapshot.config,
    async () => engine?.flush(),
  );

  // Created (and its exposure checked) before anything listens: a bad admin address must not leave the data plane open.
  const admin =
    opts.admin === false
      ? undefined
      : createAdminServer({
          host: initial.admin.host,
          port: initial.admin.port,
          ...(initial.admin.token !== undefined ? { token: initial.admin.token } : {}),
          tap,
          registry: metrics.registry,
          stats: () => stats.snapshot(),
          isReady: () => !draining && server?.listening === true,
          config: () => redactedConfig(snapshot.config),
          logger,
          compare: compareApi,
          analysis: {
            findings: async (q) => {
              await writeFindings();
              return store ? store.findings(q) : [];
            },
            finding: async (id) => {
              await writeFindings();
              return store?.finding(id);
            },
            performance: () => (pipeline ? pipeline.perf.snapshot(Date.now()) : undefined),
            stats: () => (pipeline ? { ...pipeline.stats(), alerts: alerts?.stats() ?? [] } : undefined),
          },
          captures: {
            list: async () => {
              const config = snapshot.config;
              const routes = config.routes.flatMap((r) => (r.capture ? [{ route: r.name, percentage: r.capture.percentage, sampleBy: r.capture.sampleBy.kind, maxBodyBytes: r.capture.maxBodyBytes }] : []));
              const file = config.capture.file;
              if (file === undefined) return { configured: false, routes, files: [], replays: [] };
              const writer = capture?.stats();
              return { configured: true, gzip: config.capture.gzip, routes, ...(writer ? { writer } : {}), ...(await listCaptures(file, writer?.file)) };
            },
            preview: async (name, limit) => {
              const file = snapshot.config.capture.file;
              return file === undefined ? undefined : previewCapture(file, name, limit);
            },
          },
        });

  // Collector mode: the same listener, a handler that answers the mesh at once and sends each copy to the
  // reference (the route's primary), the candidates and the secondary (src/collector).
  const collector: Collector | undefined =
    initial.mode === 'collector'
      ? createCollector(initial, {
          config: () => snapshot.config,
          hooks: mirroring,
          tap,
          proto: initial.listen.tls ? 'https' : 'http',
          draining: () => draining,
          listener: registerCollectorMetrics(metrics.registry, { inFlight: () => collector?.stats() ?? [] }),
        })
      : undefined;
  const startCapture = (config: ResolvedConfig): void => {
    if (capture || config.capture.file === undefined || !config.routes.some((r) => r.capture)) return;
    let key: string | Buffer | undefined = config.capture.redact.key;
    if (key === undefined) {
      key = randomBytes(32);
      logger.warn('capture.redact.key is not set: secrets are hashed with a random key of this process, so hashes correlate within this run only; set it (e.g. ${TAPWIRE_CAPTURE_KEY})');
    }
    const writer = new CaptureWriter({
      settings: config.capture,
      key,
      maxBodyBytes: (route) => snapshot.config.routes.find((r) => r.name === route)?.capture?.maxBodyBytes ?? 65_536,
      onWarn: (message, err) => logger.warn({ err }, message),
    });
    capture = writer;
    // After the client was answered: the capture event comes once the primary and every copy are done.
    offCapture = tap.on('capture', (t) => writer.offer(t));
    logger.info({ file: config.capture.file, gzip: config.capture.gzip }, 'capturing');
  };
  registerCaptureMetrics(metrics.registry, { stats: () => capture?.stats() });

  const handler = createHandler({
    snapshot: () => snapshot,
    hooks: combineHooks(captureHooks, mirroring, analysisHooks),
    tap,
    proto: initial.listen.tls ? 'https' : 'http',
    draining: () => draining,
  });

  const app: App = {
    tap,
    mirroring,
    get collector() {
      return collector;
    },
    stats,
    logger,
    get compare() {
      return engine;
    },
    get capture() {
      return capture;
    },
    get analysis() {
      return pipeline;
    },
    get store() {
      return store;
    },
    config: () => snapshot.config,
    get draining() {
      return draining;
    },

    async start() {
      const config = snapshot.config;
      // The store opens first: a store that cannot open stops tapwire before anything listens.
      store = await openStore(config.storage, { ...(config.source ? { baseDir: dirname(config.source) } : {}) });
      startCompare(config);
      startCapture(config);
      await startAnalysis(config);
      const retention = (): void => {
        const c = snapshot.config.compare.retention;
        store?.prune({ now: Date.now(), maxAgeMs: c.maxAgeMs, maxExamples: c.maxExamples }).catch((err: unknown) => logger.warn({ err }, 'store retention failed'));
      };
      pruneTimer = setInterval(retention, PRUNE_INTERVAL_MS);
      pruneTimer.unref();
      server = createListener(config, collector?.handler ?? handler, tap);
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(config.listen.port, config.listen.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      const addr = s.address() as AddressInfo;
      const result: { listen: HostPort; admin?: HostPort } = { listen: { host: addr.address, port: addr.port } };
      if (admin) {
        try {
          result.admin = await admin.listen();
        } catch (err) {
          await new Promise<void>((r) => s.close(() => r()));
          throw err;
        }
      }
      logger.info({ listen: result.listen, admin: result.admin, routes: config.routes.length }, 'tapwire listening');
      return result;
    },

    reload(config) {
      const old = snapshot;
      snapshot = { config, pools: buildPools(config, old.pools) };
      mirroring.apply(config);
      captureHooks.apply(config.routes);
      if (capture) capture.apply(config.capture);
      else startCapture(config);
      collector?.apply(config);
      if (config.mode !== old.config.mode) logger.warn(`mode changes need a restart; still running in ${old.config.mode} mode`);
      comparing = new Set(config.routes.filter((r) => r.compare).map((r) => r.name));
      if (engine) engine.apply(compareSettings(config));
      else startCompare(config);
      startAnalysis(config).catch((err: unknown) => logger.error({ err }, 'analysis did not start'));
      if (server) {
        server.headersTimeout = config.limits.headersTimeoutMs;
        server.requestTimeout = config.limits.requestTimeoutMs;
        server.keepAliveTimeout = config.limits.keepAliveTimeoutMs;
      }
      if (old.config.listen.port !== config.listen.port || old.config.listen.host !== config.listen.host) {
        logger.warn('listen address changes need a restart; the old address keeps serving');
      }
      // Primary pools no longer referenced close once their requests can no longer be in flight.
      const retired = [...old.pools.entries()].filter(([n, p]) => snapshot.pools.get(n) !== p).map(([, p]) => p);
      if (retired.length) {
        const wait = Math.max(...retired.map((p) => p.upstream.timeoutMs)) + 1000;
        setTimeout(() => retired.forEach((p) => p.destroy()), wait).unref();
      }
      tap.emit('reload', { ok: true });
      logger.info({ routes: config.routes.length }, 'configuration reloaded');
    },

    async stop() {
      if (draining) return;
      draining = true;
      const config = snapshot.config;
      const started = Date.now();
      if (config.shutdown.delayMs > 0) await sleep(config.shutdown.delayMs);
      if (server) {
        const s = server;
        const closed = new Promise<void>((r) => s.close(() => r()));
        s.closeIdleConnections();
        const left = Math.max(0, config.shutdown.drainTimeoutMs - (Date.now() - started));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
        s.closeAllConnections();
      }
      const drainLeft = Math.max(0, config.shutdown.drainTimeoutMs - (Date.now() - started));
      await Promise.all([mirroring.drain(drainLeft), collector?.drain(drainLeft)]);
      await mirroring.close();
      // What was captured reaches its file (every copy is over: the drain above waited for them).
      offCapture?.();
      await capture?.close().catch((err: unknown) => logger.warn({ err }, 'capture did not stop cleanly'));
      await collector?.close();
      // What was compared reaches the store before it closes (bounded: close() waits at most a few seconds).
      offTrial?.();
      clearInterval(pruneTimer);
      await engine?.close().catch((err: unknown) => logger.warn({ err }, 'compare did not stop cleanly'));
      pipeline?.close();
      await writeFindings();
      await alerts?.close(2000).catch(() => undefined);
      await store?.close().catch((err: unknown) => logger.warn({ err }, 'the store did not close cleanly'));
      for (const p of snapshot.pools.values()) p.destroy();
      await admin?.close();
      // What the drain did, per route and mirror, for whoever reads the last log line.
      const final = stats.snapshot().routes.map((r) => ({
        route: r.route,
        mirrors: r.mirrors.map((m) => ({ mirror: m.mirror, matched: m.matched, outcomes: nonZero(m.outcomes), inFlight: m.inFlight })),
      }));
      logger.info({ ms: Date.now() - started, final }, 'tapwire stopped');
      offAccess?.();
      metrics.close();
      stats.close();
    },
  };
  return app;
}
