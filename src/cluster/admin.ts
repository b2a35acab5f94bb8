// What the primary of `tapwire run --workers N` serves on the one admin port: every worker's metrics summed
// (prom-client's cluster protocol and aggregators), and their stats merged into one snapshot.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { LatencySummary, MirrorStats, PrimaryStats, RouteStats, StatsSnapshot } from '../admin/stats.ts';

/** prom-client's cluster protocol: a worker that created an AggregatorRegistry answers with its registries as JSON. */
const GET_METRICS_REQ = 'prom-client:getMetricsReq';
const GET_METRICS_RES = 'prom-client:getMetricsRes';
/** A scrape waits this long for the workers; one that has not answered (dying, blocked) is left out and counted. */
const SCRAPE_TIMEOUT_MS = 3000;

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

interface Pending {
  readonly waiting: Set<number>;
  readonly responses: MetricsJson[];
  readonly finish: () => void;
}

export interface WorkerScrape {
  /** each answering worker's registries, as prom-client JSON */
  readonly parts: MetricsJson[];
  /** workers asked that did not answer in time */
  readonly missing: number;
}

/**
 * Asks every connected worker for its metrics. Request ids start far from prom-client's own counter; the primary
 * never constructs an AggregatorRegistry, so prom-client's own primary-side listener (which throws on ids it did
 * not issue) is never installed.
 */
export function createMetricsGatherer(): { gather(): Promise<WorkerScrape>; close(): void } {
  let seq = 1 << 30;
  const pending = new Map<number, Pending>();
  const onMessage = (worker: Worker, m: unknown): void => {
    const msg = m as { type?: unknown; requestId?: unknown; metrics?: MetricsJson[]; error?: unknown };
    if (msg?.type !== GET_METRICS_RES || typeof msg.requestId !== 'number') return;
    const p = pending.get(msg.requestId);
    if (!p || !p.waiting.delete(worker.id)) return;
    if (msg.error === undefined && Array.isArray(msg.metrics)) p.responses.push(...msg.metrics);
    if (p.waiting.size === 0) p.finish();
  };
  cluster.on('message', onMessage);
  return {
    gather() {
      const requestId = seq++;
      return new Promise<WorkerScrape>((resolve) => {
        const waiting = new Set<number>();
        const responses: MetricsJson[] = [];
        const timer = setTimeout(() => finish(), SCRAPE_TIMEOUT_MS);
        const finish = (): void => {
          clearTimeout(timer);
          pending.delete(requestId);
          resolve({ parts: responses, missing: waiting.size });
        };
        pending.set(requestId, { waiting, responses, finish });
        for (const worker of Object.values(cluster.workers ?? {})) {
          if (!worker?.isConnected()) continue;
          waiting.add(worker.id);
          worker.send({ type: GET_METRICS_REQ, requestId });
        }
        if (waiting.size === 0) finish();
      });
    },
    close() {
      cluster.off('message', onMessage);
      for (const p of pending.values()) p.finish();
    },
  };
}

/**
 * A Registry whose exposition is the sum of the workers' registries and the primary's own (cluster metrics).
 * prom-client's aggregators decide how each series combines: counters and histograms add up; gauges declare theirs.
 * The admin server renders it like any registry, Prometheus text or OpenMetrics (it switches the content type).
 */
export class ClusterRegistry extends Registry {
  readonly #gather: () => Promise<WorkerScrape>;
  readonly #own: Registry;
  readonly #onMissing: (n: number) => void;

  constructor(gather: () => Promise<WorkerScrape>, own: Registry, onMissing: (n: number) => void) {
    super();
    this.#gather = gather;
    this.#own = own;
    this.#onMissing = onMissing;
  }

  override async metrics(): Promise<string> {
    const scrape = await this.#gather();
    if (scrape.missing > 0) this.#onMissing(scrape.missing);
    const all = [...scrape.parts, await this.#own.getMetricsAsJSON()];
    const sum = AggregatorRegistry.aggregate(all);
    // prom-client accepts the content type at run time; its typings only know the constructor's (exposition.ts)
    (sum as unknown as { setContentType(type: string): void }).setContentType(this.contentType);
    return sum.metrics();
  }
}

const sumRecord = <K extends string>(a: Readonly<Record<K, number>>, b: Readonly<Record<K, number>>): Record<K, number> => {
  const out = { ...a } as Record<K, number>;
  for (const [k, v] of Object.entries(b) as Array<[K, number]>) out[k] = (out[k] ?? 0) + v;
  return out;
};

const maxOrNull = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

/** Percentiles of separate histograms do not combine: the merged one is the worst worker's, an upper bound. */
function mergeLatency(a: LatencySummary, b: LatencySummary): LatencySummary {
  return { count: a.count + b.count, p50: maxOrNull(a.p50, b.p50), p90: maxOrNull(a.p90, b.p90), p99: maxOrNull(a.p99, b.p99), p999: maxOrNull(a.p999, b.p999), max: maxOrNull(a.max, b.max) };
}

function mergeBy<T>(lists: ReadonlyArray<readonly T[]>, key: (t: T) => string, merge: (a: T, b: T) => T): T[] {
  const out = new Map<string, T>();
  for (const list of lists) for (const item of list) {
    const k = key(item);
    const prev = out.get(k);
    out.set(k, prev === undefined ? item : merge(prev, item));
  }
  return [...out.values()];
}

const mergePrimary = (a: PrimaryStats, b: PrimaryStats): PrimaryStats => ({
  upstream: a.upstream,
  requests: a.requests + b.requests,
  status: sumRecord(a.status, b.status),
  latencyMs: mergeLatency(a.latencyMs, b.latencyMs),
});

const mergeMirror = (a: MirrorStats, b: MirrorStats): MirrorStats => ({
  mirror: a.mirror,
  matched: a.matched + b.matched,
  outcomes: sumRecord(a.outcomes, b.outcomes),
  inFlight: a.inFlight + b.inFlight,
  violations: a.violations + b.violations,
  latencyMs: mergeLatency(a.latencyMs, b.latencyMs),
});

const mergeRoute = (a: RouteStats, b: RouteStats): RouteStats => ({
  route: a.route,
  requests: a.requests + b.requests,
  matched: a.matched + b.matched,
  outcomes: sumRecord(a.outcomes, b.outcomes),
  inFlight: a.inFlight + b.inFlight,
  primaries: mergeBy([a.primaries, b.primaries], (p) => p.upstream, mergePrimary),
  mirrors: mergeBy([a.mirrors, b.mirrors], (m) => m.mirror, mergeMirror),
});

/** One snapshot out of the workers' latest: counts add up (the accounting invariant holds for the sum too). */
export function mergeStats(snapshots: readonly StatsSnapshot[]): StatsSnapshot {
  return {
    routes: mergeBy(snapshots.map((s) => s.routes), (r) => r.route, mergeRoute),
    rejected: mergeBy(snapshots.map((s) => s.rejected), (r) => `${r.code}/${r.status}`, (a, b) => ({ ...a, count: a.count + b.count })),
    reloads: snapshots.reduce((acc, s) => ({ ok: acc.ok + s.reloads.ok, error: acc.error + s.reloads.error }), { ok: 0, error: 0 }),
  };
}

/** Requests one worker answered (through a route or refused itself), from its stats. */
export function answered(s: StatsSnapshot): number {
  return s.routes.reduce((n, r) => n + r.requests, 0) + s.rejected.reduce((n, r) => n + r.count, 0);
}
