// Live per-route statistics for the JSON API and the dashboard, fed only by Tap events (shape: docs/metrics.md).
import type { CopyEndEvent, ExchangeEvent, Tap } from '../core/events.ts';
import { OUTCOMES, type Outcome } from '../core/outcomes.ts';
import { LatencyRecorder, type LatencySummary } from './latency.ts';

export type { LatencySummary } from './latency.ts';
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'other';
export type OutcomeCounts = Readonly<Record<Outcome, number>>;

export interface PrimaryStats {
  readonly upstream: string;
  readonly requests: number;
  readonly status: Readonly<Record<StatusClass, number>>;
  readonly latencyMs: LatencySummary;
}

export interface MirrorStats {
  readonly mirror: string;
  /** copies this mirror policy considered: copyStart events + copyEnd events that were never started */
  readonly matched: number;
  readonly outcomes: OutcomeCounts;
  readonly inFlight: number;
  /** copyEnd events with an unknown outcome, or a started flag their outcome rules out (delivered but never started) */
  readonly violations: number;
  /** sent copies only */
  readonly latencyMs: LatencySummary;
}

export interface RouteStats {
  readonly route: string;
  /** client requests answered through this route */
  readonly requests: number;
  /** sums over the route's mirrors */
  readonly matched: number;
  readonly outcomes: OutcomeCounts;
  readonly inFlight: number;
  readonly primaries: readonly PrimaryStats[];
  readonly mirrors: readonly MirrorStats[];
}

export interface StatsSnapshot {
  readonly routes: readonly RouteStats[];
  /** requests tapwire answered itself before a route handled them, by error code */
  readonly rejected: ReadonlyArray<{ readonly code: string; readonly status: number; readonly count: number }>;
  readonly reloads: { readonly ok: number; readonly error: number };
}

export interface Stats {
  snapshot(): StatsSnapshot;
  /** Broken invariants, one sentence each; empty when everything adds up. `expectIdle` also requires inFlight = 0. */
  reconcile(opts?: { readonly expectIdle?: boolean }): string[];
  close(): void;
}

interface PrimaryState {
  requests: number;
  readonly status: Record<StatusClass, number>;
  readonly latency: LatencyRecorder;
}

interface MirrorState {
  matched: number;
  inFlight: number;
  violations: number;
  readonly outcomes: Record<Outcome, number>;
  readonly latency: LatencyRecorder;
}

interface RouteState {
  readonly primaries: Map<string, PrimaryState>;
  readonly mirrors: Map<string, MirrorState>;
}

const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'];

export function createStats(tap: Tap): Stats {
  const routes = new Map<string, RouteState>();
  const rejected = new Map<string, { status: number; count: number }>();
  const reloads = { ok: 0, error: 0 };

  const route = (name: string): RouteState => {
    let r = routes.get(name);
    if (r === undefined) routes.set(name, (r = { primaries: new Map(), mirrors: new Map() }));
    return r;
  };
  const mirror = (routeName: string, name: string): MirrorState => {
    const r = route(routeName);
    let m = r.mirrors.get(name);
    if (m === undefined) {
      m = { matched: 0, inFlight: 0, violations: 0, outcomes: zeroOutcomes(), latency: new LatencyRecorder() };
      r.mirrors.set(name, m);
    }
    return m;
  };

  const off = [
    tap.on('exchange', (e: ExchangeEvent) => {
      const r = route(e.route);
      let p = r.primaries.get(e.upstream);
      if (p === undefined) {
        p = { requests: 0, status: zeroStatus(), latency: new LatencyRecorder() };
        r.primaries.set(e.upstream, p);
      }
      p.requests++;
      p.status[statusClass(e.status)]++;
      p.latency.record(e.durationMs);
    }),
    tap.on('copyStart', (e) => {
      const m = mirror(e.route, e.mirror);
      m.matched++;
      m.inFlight++;
    }),
    tap.on('copyEnd', (e: CopyEndEvent) => {
      const m = mirror(e.route, e.mirror);
      if (e.started) m.inFlight--;
      else m.matched++;
      if (!isOutcome(e.outcome) || contradicts(e.outcome, e.started)) {
        // An unknown outcome is left out of `outcomes` on purpose: reconcile() then reports the gap.
        m.violations++;
      }
      if (isOutcome(e.outcome)) m.outcomes[e.outcome]++;
      if (e.started && e.durationMs !== undefined) m.latency.record(e.durationMs);
    }),
    tap.on('reject', (e) => {
      const r = rejected.get(e.code);
      if (r === undefined) rejected.set(e.code, { status: e.status, count: 1 });
      else r.count++;
    }),
    tap.on('reload', (e) => {
      reloads[e.ok ? 'ok' : 'error']++;
    }),
  ];

  function snapshot(): StatsSnapshot {
    return {
      routes: sortedEntries(routes).map(([name, r]) => routeSnapshot(name, r)),
      rejected: sortedEntries(rejected).map(([code, r]) => ({ code, status: r.status, count: r.count })),
      reloads: { ...reloads },
    };
  }

  function reconcile(opts?: { readonly expectIdle?: boolean }): string[] {
    const problems: string[] = [];
    const check = (where: string, c: Pick<MirrorStats, 'matched' | 'outcomes' | 'inFlight'>) => {
      const sum = sumOutcomes(c.outcomes);
      if (c.matched !== sum + c.inFlight) {
        problems.push(`${where}: matched ${c.matched} != sum of outcomes ${sum} + in flight ${c.inFlight}`);
      }
      if (c.inFlight < 0) problems.push(`${where}: in flight is ${c.inFlight} (a copy ended that never started)`);
      if (opts?.expectIdle === true && c.inFlight > 0) problems.push(`${where}: ${c.inFlight} copies still in flight`);
    };
    for (const r of snapshot().routes) {
      for (const m of r.mirrors) {
        const where = `route "${r.route}" mirror "${m.mirror}"`;
        check(where, m);
        if (m.violations > 0) {
          problems.push(`${where}: ${m.violations} copy ends with an unknown outcome or a started flag that contradicts it`);
        }
      }
      check(`route "${r.route}"`, r);
    }
    return problems;
  }

  return {
    snapshot,
    reconcile,
    close() {
      for (const unsubscribe of off.splice(0)) unsubscribe();
    },
  };
}

function routeSnapshot(name: string, r: RouteState): RouteStats {
  const primaries = sortedEntries(r.primaries).map(([upstream, p]): PrimaryStats => ({
    upstream,
    requests: p.requests,
    status: { ...p.status },
    latencyMs: p.latency.summary(),
  }));
  const mirrors = sortedEntries(r.mirrors).map(([mirror, m]): MirrorStats => ({
    mirror,
    matched: m.matched,
    outcomes: { ...m.outcomes },
    inFlight: m.inFlight,
    violations: m.violations,
    latencyMs: m.latency.summary(),
  }));
  const outcomes = zeroOutcomes();
  for (const m of mirrors) for (const o of OUTCOMES) outcomes[o] += m.outcomes[o];
  return {
    route: name,
    requests: primaries.reduce((n, p) => n + p.requests, 0),
    matched: mirrors.reduce((n, m) => n + m.matched, 0),
    outcomes,
    inFlight: mirrors.reduce((n, m) => n + m.inFlight, 0),
    primaries,
    mirrors,
  };
}

function zeroOutcomes(): Record<Outcome, number> {
  return Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
}

function zeroStatus(): Record<StatusClass, number> {
  return Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as Record<StatusClass, number>;
}

function sumOutcomes(outcomes: OutcomeCounts): number {
  let n = 0;
  for (const o of OUTCOMES) n += outcomes[o];
  return n;
}

function statusClass(status: number): StatusClass {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 && Number.isInteger(status) ? (`${c}xx` as StatusClass) : 'other';
}

// Only the unambiguous cases: body_too_large, overloaded, client_aborted and shutdown may end a copy before or
// after its copyStart (the dispatcher admits a copy, then may still drop it while the request body streams in).
const ONLY_AFTER_SENDING: ReadonlySet<Outcome> = new Set(['delivered', 'timeout', 'connect_error', 'reset', 'tls_error']);
const ONLY_BEFORE_START: ReadonlySet<Outcome> = new Set(['sampled_out', 'method_filtered']);
function contradicts(outcome: Outcome, started: boolean): boolean {
  return started ? ONLY_BEFORE_START.has(outcome) : ONLY_AFTER_SENDING.has(outcome);
}

const OUTCOME_SET: ReadonlySet<string> = new Set(OUTCOMES);
function isOutcome(o: string): o is Outcome {
  return OUTCOME_SET.has(o);
}

function sortedEntries<V>(map: ReadonlyMap<string, V>): Array<[string, V]> {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
