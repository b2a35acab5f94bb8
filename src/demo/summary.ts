// The demo's summary: per-phase books plus tapwire's own totals, and the checks that set tapwire's numbers
// against the clients', the upstreams' and /metrics'. A check that fails makes the demo exit 1.
import type { LatencySummary, StatsSnapshot } from '../admin/stats.ts';
import { OUTCOMES, type Outcome } from '../core/outcomes.ts';
import { nonZero, type ClientSide, type Outcomes, type PhaseReport } from './ledger.ts';
import type { UpstreamCounters } from './upstreams.ts';

export interface Check {
  readonly ok: boolean;
  readonly what: string;
}

export interface DemoSettings {
  readonly durationMs: number;
  readonly warmUpMs: number;
  readonly phaseMs: number;
  readonly rate: number;
  readonly concurrency: number;
  readonly mirrorTimeoutMs: number;
  readonly mirrorSlowMs: number;
  readonly maxInFlight: number;
}

export interface DemoTotals {
  readonly seconds: number;
  readonly client: ClientSide;
  readonly served: { readonly requests: number; readonly byStatus: Record<string, number> };
  /** straight from tapwire's stats */
  readonly copies: { readonly matched: number; readonly outcomes: Outcomes; readonly inFlight: number; readonly reconciles: boolean };
  readonly latencyMs: { readonly primary: LatencySummary | null; readonly mirror: LatencySummary | null };
  readonly upstreams: { readonly primary: UpstreamCounters; readonly mirror: UpstreamCounters };
  readonly rejected: StatsSnapshot['rejected'];
}

export interface DemoSummary {
  readonly settings: DemoSettings;
  readonly addresses: { readonly tapwire: string; readonly admin: string | null; readonly primary: string; readonly mirror: string };
  readonly interrupted: boolean;
  readonly phases: readonly PhaseReport[];
  readonly total: DemoTotals;
  /** stats.reconcile() polled while traffic flowed, copies in flight included */
  readonly live: { readonly checks: number; readonly maxInFlight: number; readonly problems: readonly string[] };
  readonly metrics: { readonly url: string | null; readonly lines: readonly string[]; readonly error?: string };
  readonly checks: readonly Check[];
  readonly ok: boolean;
}

export interface SummaryInput {
  readonly settings: DemoSettings;
  readonly addresses: DemoSummary['addresses'];
  readonly interrupted: boolean;
  readonly phases: readonly PhaseReport[];
  readonly clientLatency: LatencySummary;
  readonly stats: StatsSnapshot;
  /** stats.reconcile({ expectIdle: true }) once traffic stopped */
  readonly idleProblems: readonly string[];
  readonly route: string;
  readonly mirror: string;
  readonly upstreams: { readonly primary: UpstreamCounters; readonly mirror: UpstreamCounters };
  readonly live: DemoSummary['live'];
  readonly metrics: DemoSummary['metrics'];
}

export function summarize(i: SummaryInput): DemoSummary {
  const route = i.stats.routes.find((r) => r.route === i.route);
  const mirror = route?.mirrors.find((m) => m.mirror === i.mirror);
  const outcomes = mirror ? nonZero(mirror.outcomes) : {};
  const sumOutcomes = Object.values(outcomes).reduce((n, v) => n + v, 0);
  const client = sumClients(i.phases, i.clientLatency);
  const served = { requests: 0, byStatus: {} as Record<string, number> };
  for (const p of i.phases) {
    served.requests += p.served.requests;
    for (const [s, n] of Object.entries(p.served.byStatus)) served.byStatus[s] = (served.byStatus[s] ?? 0) + n;
  }
  const total: DemoTotals = {
    seconds: Math.round(i.phases.reduce((n, p) => n + p.seconds, 0) * 10) / 10,
    client,
    served,
    copies: { matched: mirror?.matched ?? 0, outcomes, inFlight: mirror?.inFlight ?? 0, reconciles: (mirror?.matched ?? 0) === sumOutcomes + (mirror?.inFlight ?? 0) },
    latencyMs: { primary: route?.primaries[0]?.latencyMs ?? null, mirror: mirror?.latencyMs ?? null },
    upstreams: i.upstreams,
    rejected: i.stats.rejected,
  };
  const checks = runChecks(i, total);
  return {
    settings: i.settings,
    addresses: i.addresses,
    interrupted: i.interrupted,
    phases: i.phases,
    total,
    live: i.live,
    metrics: i.metrics,
    checks,
    ok: checks.every((c) => c.ok),
  };
}

function runChecks(i: SummaryInput, t: DemoTotals): Check[] {
  const checks: Check[] = [];
  const add = (ok: boolean, what: string) => checks.push({ ok, what });
  const { primary, mirror } = t.upstreams;

  const badPhases = i.phases.filter((p) => !p.copies.reconciles).map((p) => p.name);
  add(
    t.copies.reconciles && badPhases.length === 0 && i.idleProblems.length === 0 && i.live.problems.length === 0,
    `matched = sum of outcomes + in flight: in total (${t.copies.matched} = ${t.copies.matched - t.copies.inFlight} + ${t.copies.inFlight}), in every phase` +
      `${badPhases.length ? ` (NOT in ${badPhases.join(', ')})` : ''}, and in ${i.live.checks} live checks during traffic with up to ${i.live.maxInFlight} copies in flight` +
      [...i.idleProblems, ...i.live.problems.slice(0, 3)].map((p) => `\n      ${p}`).join(''),
  );

  // staging may finish an answer that tapwire has already given up on (its timer fired first, e.g. on a busy
  // machine): that copy is a timeout, not a delivery. So staging's count may exceed `delivered`, by at most the timeouts.
  const delivered = t.copies.outcomes.delivered ?? 0;
  const late = (answered: number, d: number, timeouts: number) => answered - d >= 0 && answered - d <= timeouts;
  const offPhases = i.phases
    .filter((p) => !late(p.upstreams.mirror.answered, p.copies.outcomes.delivered ?? 0, p.copies.outcomes.timeout ?? 0))
    .map((p) => p.name);
  const extra = mirror.answered - delivered;
  add(
    late(mirror.answered, delivered, t.copies.outcomes.timeout ?? 0) && offPhases.length === 0,
    `copies delivered (${delivered}) = requests staging answered (${mirror.answered})` +
      (extra !== 0 ? ` - ${extra} that staging finished after tapwire's timeout had fired (timeouts: ${t.copies.outcomes.timeout ?? 0})` : '') +
      (offPhases.length ? `; does NOT add up in ${offPhases.join(', ')}` : ', in every phase'),
  );

  add(
    mirror.marked === mirror.received && primary.marked === 0,
    `every request staging received carried x-tapwire-mirror: 1 (${mirror.marked} of ${mirror.received}); v1 received ${primary.marked} with it`,
  );

  const rejected = t.rejected.reduce((n, r) => n + r.count, 0);
  add(
    t.client.requests === t.served.requests + rejected && t.served.requests === primary.answered,
    `clients sent ${t.client.requests} requests, tapwire answered ${t.served.requests} through routes (+${rejected} itself), v1 answered ${primary.answered}`,
  );

  add(
    t.client.errorCount === 0 && t.client.notFromPrimary === 0,
    `client errors: ${t.client.errorCount}${t.client.errorCount ? ` (${Object.entries(t.client.errors).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}; answers not from v1: ${t.client.notFromPrimary}`,
  );

  for (const p of i.phases.filter((x) => x.mirror !== 'healthy')) {
    const check = clientDidNotWait(p, i.settings.mirrorTimeoutMs);
    add(check.ok, `clients did not wait on staging during ${p.name}: ${check.why}`);
  }

  if (i.metrics.error !== undefined) add(false, `GET /metrics failed: ${i.metrics.error}`);
  else {
    const fromMetrics = parseOutcomeLines(i.metrics.lines, i.route, i.mirror);
    const differ = OUTCOMES.filter((o) => (fromMetrics.get(o) ?? 0) !== (t.copies.outcomes[o] ?? 0));
    add(differ.length === 0, `/metrics tapwire_mirror_requests_total agrees with the stats API for every outcome${differ.length ? ` (except ${differ.join(', ')})` : ''}`);
  }
  return checks;
}

/**
 * A client that waited on a copy would wait at least the mirror timeout, every time, on top of the primary:
 * its p50 would show it first. The p99 must stay under the timeout, unless the primary's own p99 explains
 * the tail (then the whole process stalled, primary included, which is not waiting on the mirror).
 */
/**
 * How far above the primary's own latency the client's may be without having waited on a copy: a quarter of the
 * mirror timeout, plus what the process itself stalled (a busy machine delays the client's answers by that much
 * whatever the mirror does), but never more than three quarters of the timeout — a client waiting on a copy
 * would wait the whole timeout on every request.
 */
export function stallSlack(timeoutMs: number, eventLoopMaxMs: number | undefined): number {
  return Math.min(timeoutMs / 4 + Math.max(0, eventLoopMaxMs ?? 0), (timeoutMs * 3) / 4);
}

export function clientDidNotWait(p: PhaseReport, timeoutMs: number): { ok: boolean; why: string } {
  const { p50, p99 } = p.client.latencyMs;
  const primaryP99 = p.latencyMs.primary.p99;
  const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(1)}ms`);
  if (p50 === null || p99 === null || primaryP99 === null) return { ok: false, why: 'no requests measured' };
  // A loaded machine slows the whole process, primary included: what the client saw beyond the primary's own
  // median is what it could have waited on a copy.
  const primaryP50 = p.latencyMs.primary.p50 ?? 0;
  const slack = stallSlack(timeoutMs, p.eventLoopMaxMs);
  const median = p50 < timeoutMs / 4 || p50 - primaryP50 < slack;
  const tail = p99 < timeoutMs;
  const stall = !tail && p99 - primaryP99 < slack;
  const why =
    `p50 ${ms(p50)} (limit ${timeoutMs / 4}ms, or ${slack.toFixed(0)}ms above the primary's own p50 ${ms(primaryP50)}), p99 ${ms(p99)} (limit ${timeoutMs}ms, the mirror timeout)` +
    (stall ? `; the tail is the process stalling, not the mirror: the primary's own p99 was ${ms(primaryP99)}, event loop delay up to ${p.eventLoopMaxMs}ms` : '');
  return { ok: median && (tail || stall), why };
}

/** outcome → value of tapwire_mirror_requests_total{route,mirror,outcome} in Prometheus text. */
export function parseOutcomeLines(lines: readonly string[], route: string, mirror: string): Map<Outcome, number> {
  const out = new Map<Outcome, number>();
  for (const line of lines) {
    const m = /^tapwire_mirror_requests_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = new Map<string, string>();
    for (const x of m[1]!.matchAll(/(\w+)="([^"]*)"/g)) labels.set(x[1]!, x[2]!);
    if (labels.get('route') !== route || labels.get('mirror') !== mirror) continue;
    out.set(labels.get('outcome') as Outcome, Number(m[2]));
  }
  return out;
}

function sumClients(phases: readonly PhaseReport[], latencyMs: LatencySummary): ClientSide {
  const byStatus: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let requests = 0;
  let notFromPrimary = 0;
  for (const p of phases) {
    requests += p.client.requests;
    notFromPrimary += p.client.notFromPrimary;
    for (const [k, v] of Object.entries(p.client.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v;
    for (const [k, v] of Object.entries(p.client.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  return { requests, byStatus, errors, errorCount: Object.values(errors).reduce((n, v) => n + v, 0), notFromPrimary, latencyMs };
}
