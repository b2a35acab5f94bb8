// Prometheus metrics, fed only by Tap events: one Registry per app so two apps in one process (tests) never mix.
import cluster from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CopyEndEvent, CopyStartEvent, ExchangeEvent, Tap } from '../core/events.ts';
import { OUTCOMES, type Outcome } from '../core/outcomes.ts';

/** Seconds; from 0.5 ms (a local upstream) to 10 s (a timeout-bound one). */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Metrics {
  readonly registry: Registry;
  /** a finding opened (analysis): `tapwire_findings_total{detector,severity}` */
  findingOpened(detector: string, severity: string): void;
  /** Unsubscribes from the tap; the registry keeps its last values for a final scrape. */
  close(): void;
}

type CounterChild = ReturnType<Counter['labels']>;
type HistogramChild = ReturnType<Histogram['labels']>;
type GaugeChild = ReturnType<Gauge['labels']>;

/**
 * One counter series, counted as a plain number on the request path and handed to prom-client when it scrapes.
 * prom-client 15 re-hashes and re-validates the labels on every child.inc() (~0.5 µs); a `++` costs ~10 ns.
 */
interface Tally {
  n: number;
  readonly child: CounterChild;
}

class Tallies {
  readonly #all: Tally[] = [];
  add(child: CounterChild): Tally {
    // inc(0) creates the series now, so it reads 0 instead of being absent until its first event.
    child.inc(0);
    const t = { n: 0, child };
    this.#all.push(t);
    return t;
  }
  /** the collect() of the counter: runs at scrape time, before prom-client reads its values */
  flush(): void {
    for (const t of this.#all) {
      if (t.n > 0) {
        t.child.inc(t.n);
        t.n = 0;
      }
    }
  }
}

interface PrimarySeries {
  // Histograms are observed directly: prom-client has no public way to add pre-bucketed counts.
  readonly duration: HistogramChild;
  readonly byStatus: Map<number, Tally>;
}

interface MirrorSeries {
  readonly outcomes: ReadonlyMap<Outcome, Tally>;
  readonly duration: HistogramChild;
  readonly inFlightGauge: GaugeChild;
  /** a plain number on the request path; copied into the gauge only when Prometheus scrapes */
  inFlight: number;
}

export function createMetrics(tap: Tap): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tapwire_' });
  // A `run --workers N` worker: the primary's /metrics sums every worker's registry through prom-client's cluster
  // protocol (src/cluster). One app per worker process, so the last registry created is the one to report.
  if (cluster.isWorker) AggregatorRegistry.setRegistries([registry]);
  // Series are cached per (route, upstream|mirror, …) so the request path does map lookups and `++` only.
  // Routes, upstreams and mirrors come from config and status codes are three digits: these maps are bounded.
  const primaries = new Map<string, Map<string, PrimarySeries>>();
  const mirrors = new Map<string, Map<string, MirrorSeries>>();
  const rejected = new Map<string, Tally>();
  const tallies = { requests: new Tallies(), mirrorRequests: new Tallies(), rejected: new Tallies(), reloads: new Tallies() };
  const m = defineMetrics(registry, {
    requests: () => tallies.requests.flush(),
    mirrorRequests: () => tallies.mirrorRequests.flush(),
    rejected: () => tallies.rejected.flush(),
    reloads: () => tallies.reloads.flush(),
    inFlight: () => {
      for (const byMirror of mirrors.values()) for (const s of byMirror.values()) s.inFlightGauge.set(s.inFlight);
    },
  });

  function primary(route: string, upstream: string): PrimarySeries {
    let byUpstream = primaries.get(route);
    if (byUpstream === undefined) primaries.set(route, (byUpstream = new Map<string, PrimarySeries>()));
    let s = byUpstream.get(upstream);
    if (s === undefined) {
      s = { duration: m.requestDuration.labels(route, upstream), byStatus: new Map() };
      byUpstream.set(upstream, s);
    }
    return s;
  }

  function mirror(route: string, name: string): MirrorSeries {
    let byMirror = mirrors.get(route);
    if (byMirror === undefined) mirrors.set(route, (byMirror = new Map<string, MirrorSeries>()));
    let s = byMirror.get(name);
    if (s === undefined) {
      // Every outcome exists from the first copy on, so rate() and alerts see 0 instead of "no data".
      const outcomes = new Map(OUTCOMES.map((o) => [o, tallies.mirrorRequests.add(m.mirrorRequests.labels(route, name, o))]));
      s = { outcomes, duration: m.mirrorDuration.labels(route, name), inFlightGauge: m.mirrorInFlight.labels(route, name), inFlight: 0 };
      byMirror.set(name, s);
    }
    return s;
  }

  const reloadOk = tallies.reloads.add(m.reloads.labels('ok'));
  const reloadError = tallies.reloads.add(m.reloads.labels('error'));
  // tapwire refuses to start on a bad config, so a running process starts from a successful load.
  m.lastReloadSuccess.set(1);

  const off = [
    tap.on('exchange', (e: ExchangeEvent) => {
      const s = primary(e.route, e.upstream);
      let t = s.byStatus.get(e.status);
      if (t === undefined) s.byStatus.set(e.status, (t = tallies.requests.add(m.requests.labels(e.route, e.upstream, String(e.status)))));
      t.n++;
      s.duration.observe(e.durationMs / 1000);
    }),
    tap.on('copyStart', (e: CopyStartEvent) => {
      mirror(e.route, e.mirror).inFlight++;
    }),
    tap.on('copyEnd', (e: CopyEndEvent) => {
      const s = mirror(e.route, e.mirror);
      const t = s.outcomes.get(e.outcome);
      // An outcome outside the closed list is not counted: it would create an unbounded label (stats reports it).
      if (t !== undefined) t.n++;
      if (e.started) {
        s.inFlight--;
        // Only copies that were sent have a duration worth a histogram; pre-dispatch drops take no time.
        if (e.durationMs !== undefined) s.duration.observe(e.durationMs / 1000);
      }
    }),
    tap.on('reject', (e) => {
      let t = rejected.get(e.code);
      if (t === undefined) rejected.set(e.code, (t = tallies.rejected.add(m.rejected.labels(e.code))));
      t.n++;
    }),
    tap.on('reload', (e) => {
      (e.ok ? reloadOk : reloadError).n++;
      m.lastReloadSuccess.set(e.ok ? 1 : 0);
    }),
  ];

  // Detectors and severities are closed lists: the labels stay bounded.
  const findings = new Counter({
    name: 'tapwire_findings_total',
    help: 'Findings opened by traffic analysis, by detector and severity',
    labelNames: ['detector', 'severity'] as const,
    registers: [registry],
  });
  return {
    registry,
    findingOpened(detector, severity) {
      findings.labels(detector, severity).inc();
    },
    close() {
      for (const unsubscribe of off.splice(0)) unsubscribe();
    },
  };
}

interface Collectors {
  readonly requests: () => void;
  readonly mirrorRequests: () => void;
  readonly rejected: () => void;
  readonly reloads: () => void;
  readonly inFlight: () => void;
}

function defineMetrics(registers: Registry, collect: Collectors) {
  const r = [registers];
  const buckets = [...DURATION_BUCKETS];
  return {
    requests: new Counter({
      name: 'tapwire_requests_total',
      help: 'Client requests answered through a route, by the status code sent to the client.',
      labelNames: ['route', 'upstream', 'code'] as const,
      registers: r,
      collect: collect.requests,
    }),
    requestDuration: new Histogram({
      name: 'tapwire_request_duration_seconds',
      help: 'Time from the arrival of a client request to the end of its answer, by route and primary.',
      labelNames: ['route', 'upstream'] as const,
      buckets,
      registers: r,
    }),
    mirrorRequests: new Counter({
      name: 'tapwire_mirror_requests_total',
      help: 'Mirror copies by how they ended; every matched copy has exactly one outcome.',
      labelNames: ['route', 'mirror', 'outcome'] as const,
      registers: r,
      collect: collect.mirrorRequests,
    }),
    mirrorInFlight: new Gauge({
      name: 'tapwire_mirror_in_flight',
      help: 'Mirror copies sent and not yet finished.',
      labelNames: ['route', 'mirror'] as const,
      registers: r,
      collect: collect.inFlight,
    }),
    mirrorDuration: new Histogram({
      name: 'tapwire_mirror_duration_seconds',
      help: 'Duration of mirror copies that were sent (any outcome after dispatch).',
      labelNames: ['route', 'mirror'] as const,
      buckets,
      registers: r,
    }),
    rejected: new Counter({
      name: 'tapwire_rejected_requests_total',
      help: 'Requests tapwire answered itself with an error, by error code (no route, bad request, limits, primary failures).',
      labelNames: ['code'] as const,
      registers: r,
      collect: collect.rejected,
    }),
    reloads: new Counter({
      name: 'tapwire_config_reloads_total',
      help: 'Configuration reload attempts by result.',
      labelNames: ['result'] as const,
      registers: r,
      collect: collect.reloads,
    }),
    lastReloadSuccess: new Gauge({
      name: 'tapwire_config_last_reload_success',
      help: '1 when the last configuration load or reload succeeded, 0 when it failed.',
      // across --workers: 0 as soon as one worker failed to reload
      aggregator: 'min',
      registers: r,
    }),
  };
}

/** What the compare metrics read at scrape time (engine counters, store size). */
export interface CompareMetricsSource {
  readonly engine: () => { accepted: number; sampledOut: number; processed: number; failed: number; depth: number; dropped: Readonly<Record<string, number>> } | undefined;
  readonly storeSize: () => Promise<{ aggregates: number; examples: number; noiseMarks: number; bytes?: number } | undefined>;
}

/**
 * Compare and store series, computed when Prometheus scrapes: `tapwire_compare_trials_total{result}`,
 * `tapwire_compare_dropped_total{reason}`, `tapwire_compare_queue_depth`, `tapwire_store_rows{table}`,
 * `tapwire_store_bytes`.
 */
export function registerCompareMetrics(registry: Registry, src: CompareMetricsSource): void {
  new Counter({
    name: 'tapwire_compare_trials_total',
    help: 'Requests of comparing routes, by result: sampled_out (over compare.maxPerSecond), accepted into the queue, processed by the differ, failed in it',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const s = src.engine();
      this.reset();
      this.labels('sampled_out').inc(s?.sampledOut ?? 0);
      this.labels('accepted').inc(s?.accepted ?? 0);
      this.labels('processed').inc(s?.processed ?? 0);
      this.labels('failed').inc(s?.failed ?? 0);
    },
  });
  new Counter({
    name: 'tapwire_compare_dropped_total',
    help: 'Trials or batches compare dropped instead of growing without bound, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const s = src.engine();
      this.reset();
      for (const reason of ['queue_full', 'worker_error', 'store_backlog', 'shutdown']) this.labels(reason).inc(s?.dropped[reason] ?? 0);
    },
  });
  new Gauge({
    name: 'tapwire_compare_queue_depth',
    help: 'Trials queued for or being compared now',
    registers: [registry],
    collect() {
      this.set(src.engine()?.depth ?? 0);
    },
  });
  new Gauge({
    name: 'tapwire_store_rows',
    help: 'Rows in the store, by table',
    labelNames: ['table'],
    // --workers share one store: each reports the same rows, so the sum would count them N times
    aggregator: 'max',
    registers: [registry],
    async collect() {
      const size = await src.storeSize().catch(() => undefined);
      if (!size) return;
      this.labels('aggregates').set(size.aggregates);
      this.labels('examples').set(size.examples);
      this.labels('noise_marks').set(size.noiseMarks);
    },
  });
  new Gauge({
    name: 'tapwire_store_bytes',
    help: 'Bytes the store uses on disk (database file and WAL), when it has a file',
    aggregator: 'max',
    registers: [registry],
    async collect() {
      const size = await src.storeSize().catch(() => undefined);
      if (size?.bytes !== undefined) this.set(size.bytes);
    },
  });
}

/** What the analysis metrics read at scrape time. */
export interface AnalysisMetricsSource {
  readonly stats: () => { accepted: number; skipped: number; processed: number; depth: number; findings: { active: number } } | undefined;
  /** bounded rows: route and upstream come from config, endpoint from the namer (maxEndpoints) */
  readonly perf: () => ReadonlyArray<{ route: string; endpoint: string; upstream: string; rate1m: number; p99: number | null; errorRatio: number }> | undefined;
}

/**
 * Analysis series: `tapwire_analysis_events_total{result}`, `tapwire_analysis_queue_depth`,
 * `tapwire_findings_active`, and per endpoint (never a raw path or address as a label)
 * `tapwire_endpoint_requests_per_second{route,endpoint,upstream}` (1 m window),
 * `tapwire_endpoint_latency_p99_seconds{…}` (5 m window) and `tapwire_endpoint_error_ratio{…}` (5 m).
 */
export function registerAnalysisMetrics(registry: Registry, src: AnalysisMetricsSource): void {
  new Counter({
    name: 'tapwire_analysis_events_total',
    help: 'Requests handed to traffic analysis: accepted into its queue, skipped because it fell behind, processed',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const s = src.stats();
      this.reset();
      this.labels('accepted').inc(s?.accepted ?? 0);
      this.labels('skipped').inc(s?.skipped ?? 0);
      this.labels('processed').inc(s?.processed ?? 0);
    },
  });
  new Gauge({
    name: 'tapwire_analysis_queue_depth',
    help: 'Requests waiting for analysis',
    registers: [registry],
    collect() {
      this.set(src.stats()?.depth ?? 0);
    },
  });
  new Gauge({
    name: 'tapwire_findings_active',
    help: 'Findings open or ongoing now',
    registers: [registry],
    collect() {
      this.set(src.stats()?.findings.active ?? 0);
    },
  });
  const labelNames = ['route', 'endpoint', 'upstream'] as const;
  // across --workers (each sees a share of the traffic): rates add up; a p99 takes the worst worker's; ratios average
  const gauge = (name: string, help: string, value: (r: NonNullable<ReturnType<AnalysisMetricsSource['perf']>>[number]) => number | null, aggregator: 'sum' | 'max' | 'average' = 'sum') =>
    new Gauge({
      name,
      help,
      labelNames,
      aggregator,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of src.perf() ?? []) {
          const v = value(r);
          if (v !== null) this.labels(r.route, r.endpoint, r.upstream).set(v);
        }
      },
    });
  gauge('tapwire_endpoint_requests_per_second', 'Requests per second per endpoint and primary, over the last minute', (r) => r.rate1m);
  gauge('tapwire_endpoint_latency_p99_seconds', 'p99 time to the last byte per endpoint and primary, over the last 5 minutes', (r) => (r.p99 === null ? null : r.p99 / 1000), 'max');
  gauge('tapwire_endpoint_error_ratio', 'Share of 5xx and failed answers per endpoint and primary, over the last 5 minutes', (r) => r.errorRatio, 'average');
}

/** What collector mode counts (docs/collector.md); the collector calls these on its request path. */
export interface CollectorMetrics {
  received(route: string, result: 'accepted' | 'no_route' | 'rejected'): void;
  reference(route: string, outcome: Outcome): void;
}

/**
 * Collector series: `tapwire_collector_received_total{route,result}` (copies a mesh sent: accepted, no_route,
 * rejected; route "" when none matched), `tapwire_collector_reference_total{route,outcome}` (one outcome per
 * accepted copy) and `tapwire_collector_reference_in_flight{route}`. Routes come from config: bounded labels.
 */
export function registerCollectorMetrics(registry: Registry, src: { readonly inFlight: () => ReadonlyArray<{ route: string; referenceInFlight: number }> }): CollectorMetrics {
  const receivedTotal = new Counter({
    name: 'tapwire_collector_received_total',
    help: 'Copies a mesh mirrored to tapwire in collector mode, by result: accepted (routed and answered), no_route, rejected (malformed or over a limit)',
    labelNames: ['route', 'result'] as const,
    registers: [registry],
  });
  const referenceTotal = new Counter({
    name: 'tapwire_collector_reference_total',
    help: 'Reference requests of collector mode (to the route primary), one outcome per accepted copy; only delivered ones are compared',
    labelNames: ['route', 'outcome'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'tapwire_collector_reference_in_flight',
    help: 'Reference requests of collector mode sent or buffering and not yet finished',
    labelNames: ['route'] as const,
    registers: [registry],
    collect() {
      for (const r of src.inFlight()) this.labels(r.route).set(r.referenceInFlight);
    },
  });
  const received = new Map<string, CounterChild>();
  const outcomes = new Map<string, ReadonlyMap<Outcome, CounterChild>>();
  return {
    received(route, result) {
      const key = `${route}\u0000${result}`;
      let c = received.get(key);
      if (c === undefined) received.set(key, (c = receivedTotal.labels(route, result)));
      c.inc();
    },
    reference(route, outcome) {
      let byOutcome = outcomes.get(route);
      // Every outcome exists from the first copy on, so rate() and alerts see 0 instead of "no data".
      if (byOutcome === undefined) {
        const series = (o: Outcome): CounterChild => {
          const child = referenceTotal.labels(route, o);
          child.inc(0);
          return child;
        };
        outcomes.set(route, (byOutcome = new Map(OUTCOMES.map((o) => [o, series(o)]))));
      }
      byOutcome.get(outcome)?.inc();
    },
  };
}

/** What the capture metrics read at scrape time (the writer's stats; undefined while nothing captures). */
export interface CaptureMetricsSource {
  readonly stats: () => { readonly routes: Readonly<Record<string, Readonly<Record<string, number>>>>; readonly bytes: number; readonly files: number; readonly depth: number } | undefined;
}

/**
 * Capture series (docs/capture.md): `tapwire_capture_entries_total{route,result}` with result written |
 * dropped_queue_full | dropped_write_error | sampled_out, `tapwire_capture_bytes_total`, `tapwire_capture_files_total`,
 * `tapwire_capture_queue_depth`.
 */
export function registerCaptureMetrics(registry: Registry, src: CaptureMetricsSource): void {
  new Counter({
    name: 'tapwire_capture_entries_total',
    help: 'Requests of captured routes, by result: written to a capture file, dropped (queue full, write error), sampled out',
    labelNames: ['route', 'result'],
    registers: [registry],
    collect() {
      const s = src.stats();
      this.reset();
      for (const [route, counts] of Object.entries(s?.routes ?? {})) {
        for (const [result, n] of Object.entries(counts)) this.labels(route, result).inc(n);
      }
    },
  });
  new Counter({
    name: 'tapwire_capture_bytes_total',
    help: 'Bytes written to capture files (after gzip when it is on)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.stats()?.bytes ?? 0);
    },
  });
  new Counter({
    name: 'tapwire_capture_files_total',
    help: 'Capture files opened (one per rotation)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.stats()?.files ?? 0);
    },
  });
  new Gauge({
    name: 'tapwire_capture_queue_depth',
    help: 'Captured trials waiting to be written',
    registers: [registry],
    collect() {
      this.set(src.stats()?.depth ?? 0);
    },
  });
}
