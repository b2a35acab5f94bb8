// The demo's books: per phase, what the clients saw, what tapwire reported (its Tap events and its stats),
// and what the upstreams counted, so the report can set each side against the others.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { LatencyRecorder, type LatencySummary } from '../admin/latency.ts';
import type { MirrorStats, Stats } from '../admin/stats.ts';
import type { Tap } from '../core/events.ts';
import { OUTCOMES, type Outcome } from '../core/outcomes.ts';
import type { Phase, PhaseName } from './phases.ts';
import type { TrafficResult } from './traffic.ts';
import type { DemoUpstream, UpstreamCounters, UpstreamMode } from './upstreams.ts';

export type Outcomes = Partial<Record<Outcome, number>>;

export interface ClientSide {
  readonly requests: number;
  readonly byStatus: Record<string, number>;
  /** transport failures and 5xx answers, by code */
  readonly errors: Record<string, number>;
  readonly errorCount: number;
  /** answers that did not come from the primary (x-served-by other than v1) */
  readonly notFromPrimary: number;
  readonly latencyMs: LatencySummary;
}

export interface CopySide {
  readonly matched: number;
  /** non-zero outcomes only */
  readonly outcomes: Outcomes;
  readonly inFlightStart: number;
  readonly inFlightEnd: number;
  /** matched = sum of outcomes + in flight at the end - in flight at the start */
  readonly reconciles: boolean;
}

export interface PhaseReport {
  readonly name: PhaseName;
  readonly mirror: UpstreamMode;
  /** how often the phase ran (more than once when cycling until Ctrl-C) */
  readonly runs: number;
  readonly seconds: number;
  readonly client: ClientSide;
  /** requests tapwire answered, by status code, from its `exchange` events */
  readonly served: { readonly requests: number; readonly byStatus: Record<string, number> };
  readonly copies: CopySide;
  /** from tapwire's events: primary exchanges and sent copies (any outcome) */
  readonly latencyMs: { readonly primary: LatencySummary; readonly mirror: LatencySummary };
  /**
   * The longest event-loop delay of the demo's process during the phase. tapwire, the upstreams and the
   * clients share that process: a stall there (GC, a busy machine) delays every request, the primary's too.
   */
  readonly eventLoopMaxMs: number;
  readonly upstreams: { readonly primary: UpstreamCounters; readonly mirror: UpstreamCounters };
}

interface Book {
  phase: Phase;
  runs: number;
  ms: number;
  client: { requests: number; byStatus: Record<string, number>; errors: Record<string, number>; notFromPrimary: number; latency: LatencyRecorder };
  served: { requests: number; byStatus: Record<string, number> };
  copies: { matched: number; outcomes: Record<Outcome, number>; inFlightStart: number; inFlightEnd: number };
  primary: LatencyRecorder;
  mirror: LatencyRecorder;
  eventLoopMaxMs: number;
  upstreams: { primary: Record<keyof UpstreamCounters, number>; mirror: Record<keyof UpstreamCounters, number> };
}

export interface LedgerOptions {
  readonly tap: Tap;
  readonly stats: Stats;
  /** the route and mirror policy whose copies the demo follows */
  readonly route: string;
  readonly mirror: string;
  readonly primaryName: string;
  readonly upstreams: { readonly primary: DemoUpstream; readonly mirror: DemoUpstream };
}

const COUNTER_KEYS: readonly (keyof UpstreamCounters)[] = ['received', 'marked', 'answered', 'reset', 'abandoned'];

export class Ledger {
  readonly #o: LedgerOptions;
  readonly #books = new Map<PhaseName, Book>();
  readonly #order: PhaseName[] = [];
  readonly #clientTotal = new LatencyRecorder();
  readonly #off: (() => void)[];
  readonly #loop = monitorEventLoopDelay({ resolution: 10 });
  #current: Book | undefined;
  #startedAt = 0;
  #at: { stats: MirrorStats | undefined; primary: UpstreamCounters; mirror: UpstreamCounters } | undefined;

  constructor(o: LedgerOptions) {
    this.#o = o;
    this.#off = [
      o.tap.on('exchange', (e) => {
        const b = this.#current;
        if (!b) return;
        b.served.requests++;
        bump(b.served.byStatus, String(e.status));
        if (e.upstream === o.primaryName) b.primary.record(e.durationMs);
      }),
      o.tap.on('copyEnd', (e) => {
        // Copies that end while a phase settles still belong to it: the next phase begins only once none is in flight.
        if (this.#current && e.started && e.route === o.route && e.mirror === o.mirror && e.durationMs !== undefined) {
          this.#current.mirror.record(e.durationMs);
        }
      }),
    ];
  }

  /** The mirror's live counters from tapwire's stats. */
  mirrorStats(): MirrorStats | undefined {
    return this.#o.stats
      .snapshot()
      .routes.find((r) => r.route === this.#o.route)
      ?.mirrors.find((m) => m.mirror === this.#o.mirror);
  }

  begin(phase: Phase): void {
    let b = this.#books.get(phase.name);
    if (!b) {
      b = newBook(phase);
      this.#books.set(phase.name, b);
      this.#order.push(phase.name);
    }
    b.runs++;
    this.#current = b;
    this.#startedAt = performance.now();
    this.#loop.reset();
    this.#loop.enable();
    this.#at = { stats: this.mirrorStats(), primary: this.#o.upstreams.primary.counters(), mirror: this.#o.upstreams.mirror.counters() };
  }

  /** Closes the current phase: adds the differences of tapwire's stats and the upstreams' counters since begin(). */
  end(): void {
    const b = this.#current;
    const at = this.#at;
    if (!b || !at) return;
    b.ms += performance.now() - this.#startedAt;
    this.#loop.disable();
    // The histogram counts in ns and includes its own 10 ms sampling resolution.
    b.eventLoopMaxMs = Math.max(b.eventLoopMaxMs, Math.round(this.#loop.max / 1e5) / 10);
    const now = this.mirrorStats();
    b.copies.matched += (now?.matched ?? 0) - (at.stats?.matched ?? 0);
    for (const o of OUTCOMES) b.copies.outcomes[o] += (now?.outcomes[o] ?? 0) - (at.stats?.outcomes[o] ?? 0);
    b.copies.inFlightStart += at.stats?.inFlight ?? 0;
    b.copies.inFlightEnd += now?.inFlight ?? 0;
    addCounters(b.upstreams.primary, at.primary, this.#o.upstreams.primary.counters());
    addCounters(b.upstreams.mirror, at.mirror, this.#o.upstreams.mirror.counters());
    this.#current = undefined;
    this.#at = undefined;
  }

  /** A result from the traffic generator, booked to the phase in which it finished. */
  client(r: TrafficResult): void {
    const b = this.#current;
    if (!b) return;
    const c = b.client;
    c.requests++;
    c.latency.record(r.ms);
    this.#clientTotal.record(r.ms);
    if (r.status !== undefined) bump(c.byStatus, String(r.status));
    if (r.error !== undefined) bump(c.errors, r.error);
    else if (r.status !== undefined && r.status >= 500) bump(c.errors, `HTTP ${r.status}`);
    if (r.status !== undefined && r.servedBy !== this.#o.primaryName) c.notFromPrimary++;
  }

  clientTotalLatency(): LatencySummary {
    return this.#clientTotal.summary();
  }

  phases(): PhaseReport[] {
    return this.#order.map((name) => report(this.#books.get(name)!));
  }

  close(): void {
    this.#loop.disable();
    for (const off of this.#off.splice(0)) off();
  }
}

function report(b: Book): PhaseReport {
  const { matched, inFlightStart, inFlightEnd } = b.copies;
  const sum = OUTCOMES.reduce((n, o) => n + b.copies.outcomes[o], 0);
  return {
    name: b.phase.name,
    mirror: b.phase.mirror,
    runs: b.runs,
    seconds: Math.round(b.ms / 100) / 10,
    client: {
      requests: b.client.requests,
      byStatus: { ...b.client.byStatus },
      errors: { ...b.client.errors },
      errorCount: Object.values(b.client.errors).reduce((n, v) => n + v, 0),
      notFromPrimary: b.client.notFromPrimary,
      latencyMs: b.client.latency.summary(),
    },
    served: { requests: b.served.requests, byStatus: { ...b.served.byStatus } },
    copies: { matched, outcomes: nonZero(b.copies.outcomes), inFlightStart, inFlightEnd, reconciles: matched === sum + inFlightEnd - inFlightStart },
    latencyMs: { primary: b.primary.summary(), mirror: b.mirror.summary() },
    eventLoopMaxMs: b.eventLoopMaxMs,
    upstreams: { primary: { ...b.upstreams.primary }, mirror: { ...b.upstreams.mirror } },
  };
}

export function nonZero(outcomes: Readonly<Record<Outcome, number>>): Outcomes {
  const out: Outcomes = {};
  for (const o of OUTCOMES) if (outcomes[o] !== 0) out[o] = outcomes[o];
  return out;
}

function newBook(phase: Phase): Book {
  const zero = () => Object.fromEntries(COUNTER_KEYS.map((k) => [k, 0])) as Record<keyof UpstreamCounters, number>;
  return {
    phase,
    runs: 0,
    ms: 0,
    client: { requests: 0, byStatus: {}, errors: {}, notFromPrimary: 0, latency: new LatencyRecorder() },
    served: { requests: 0, byStatus: {} },
    copies: { matched: 0, outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>, inFlightStart: 0, inFlightEnd: 0 },
    primary: new LatencyRecorder(),
    mirror: new LatencyRecorder(),
    eventLoopMaxMs: 0,
    upstreams: { primary: zero(), mirror: zero() },
  };
}

function addCounters(into: Record<keyof UpstreamCounters, number>, before: UpstreamCounters, after: UpstreamCounters): void {
  for (const k of COUNTER_KEYS) into[k] += after[k] - before[k];
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
