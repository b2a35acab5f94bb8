// The memory store: the Store contract in Maps, for tests, demos and runs that need nothing kept. Same
// semantics as SQLite (examples round-trip through JSON, histograms stored encoded), bounded by `prune`
// and by hard caps on example rows (the oldest dropped first) and on findings (the oldest resolved first).
import type { CompareBatch, DiffExample, EndpointAggregate, NoiseMark, Role } from '../compare/types.ts';
import { MutationQueue, Slicer, exampleFromRow, mergeInto, prepareBatch, type PreparedExample } from './hdr.ts';
import {
  DEFAULT_SLICE_MS,
  MEMORY_MAX_EXAMPLES,
  MEMORY_MAX_FINDINGS,
  StoreError,
  checkFindingsQuery,
  checkNoiseMark,
  checkPruneRules,
  compareText,
  compareTuple,
  examplesLimit,
  findingsLimit,
  prepareFindings,
  stateMatches,
  type AggregateFilter,
  type ExamplesQuery,
  type Finding,
  type FindingsQuery,
  type PruneResult,
  type PruneRules,
  type ResetScope,
  type Store,
  type StoreSize,
} from './types.ts';

interface AggregateRow {
  readonly route: string;
  readonly endpoint: string;
  readonly upstream: string;
  readonly role: Role;
  exchanges: number;
  compared: number;
  differing: number;
  errors5xx: number;
  failed: number;
  readonly fields: Map<string, number>;
  latency: string;
  firstAt: number;
  lastAt: number;
}

type ExampleRow = Omit<PreparedExample, 'key'>;

export interface MemoryStoreOptions {
  /** hard cap on example rows (default 10,000) */
  readonly maxExamples?: number;
  /** hard cap on findings (default 10,000): past it the oldest resolved go first, then the oldest by lastSeen */
  readonly maxFindings?: number;
  /** see OpenStoreOptions.sliceMs */
  readonly sliceMs?: number;
}

/** Newest lastSeen first, ties by id. */
const findingOrder = (a: Finding, b: Finding) => b.lastSeen - a.lastSeen || compareText(a.id, b.id);

/** A copy nobody else holds a reference to (findings round-trip through JSON, as in SQLite). */
const copyFinding = (f: Finding): Finding => JSON.parse(JSON.stringify(f)) as Finding;

const oldestFirst = (a: ExampleRow, b: ExampleRow) =>
  a.at - b.at || compareTuple([a.route, a.endpoint, a.upstream, a.field, a.slot], [b.route, b.endpoint, b.upstream, b.field, b.slot]);
const newestFirst = (a: ExampleRow, b: ExampleRow) =>
  b.at - a.at || compareTuple([a.route, a.endpoint, a.upstream, a.field, a.slot], [b.route, b.endpoint, b.upstream, b.field, b.slot]);

function inScope(row: { route: string; endpoint: string }, s: { route?: string | undefined; endpoint?: string | undefined }): boolean {
  return (s.route === undefined || row.route === s.route) && (s.endpoint === undefined || row.endpoint === s.endpoint);
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly #aggregates = new Map<string, AggregateRow>();
  readonly #examples = new Map<string, ExampleRow>();
  readonly #noise = new Map<string, NoiseMark>();
  readonly #findings = new Map<string, Finding>();
  readonly #queue = new MutationQueue();
  readonly #maxExamples: number;
  readonly #maxFindings: number;
  readonly #sliceMs: number;
  #closed = false;

  constructor(opts: MemoryStoreOptions = {}) {
    const max = opts.maxExamples ?? MEMORY_MAX_EXAMPLES;
    if (!Number.isSafeInteger(max) || max < 0) throw new StoreError('invalid_argument', 'memory store: maxExamples must be an integer >= 0');
    this.#maxExamples = max;
    const maxFindings = opts.maxFindings ?? MEMORY_MAX_FINDINGS;
    if (!Number.isSafeInteger(maxFindings) || maxFindings < 0) throw new StoreError('invalid_argument', 'memory store: maxFindings must be an integer >= 0');
    this.#maxFindings = maxFindings;
    this.#sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
  }

  #open(): void {
    if (this.#closed) throw new StoreError('closed', 'the store is closed');
  }

  async write(batch: CompareBatch): Promise<void> {
    this.#open();
    return this.#queue.run(async () => {
      // Validate and merge histograms first (sliced, so the event loop keeps turning); the queue keeps other
      // mutations out until the synchronous apply below.
      const slicer = new Slicer(this.#sliceMs);
      const prepared = await prepareBatch(batch, slicer);
      const latency = new Map<string, string>();
      for (const d of prepared.deltas) {
        if (!d.latency) continue;
        await slicer.tick();
        latency.set(d.key, mergeInto(this.#aggregates.get(d.key)?.latency ?? '', d));
      }
      for (const d of prepared.deltas) {
        let row = this.#aggregates.get(d.key);
        if (!row) {
          row = { route: d.route, endpoint: d.endpoint, upstream: d.upstream, role: d.role, exchanges: 0, compared: 0, differing: 0, errors5xx: 0, failed: 0, fields: new Map(), latency: '', firstAt: prepared.at, lastAt: prepared.at };
          this.#aggregates.set(d.key, row);
        }
        row.exchanges += d.exchanges;
        row.compared += d.compared;
        row.differing += d.differing;
        row.errors5xx += d.errors5xx;
        row.failed += d.failed;
        for (const [f, n] of d.fields) row.fields.set(f, (row.fields.get(f) ?? 0) + n);
        row.latency = latency.get(d.key) ?? row.latency;
        row.firstAt = Math.min(row.firstAt, prepared.at);
        row.lastAt = Math.max(row.lastAt, prepared.at);
      }
      for (const { key, ...row } of prepared.examples) this.#examples.set(key, row);
      if (this.#examples.size > this.#maxExamples) this.#dropOldest(this.#examples.size - this.#maxExamples);
    });
  }

  #dropOldest(n: number): number {
    if (n <= 0) return 0;
    const keyed = [...this.#examples].sort((a, b) => oldestFirst(a[1], b[1]));
    for (let i = 0; i < n && i < keyed.length; i++) this.#examples.delete(keyed[i]![0]);
    return Math.min(n, keyed.length);
  }

  async writeFindings(findings: readonly Finding[]): Promise<void> {
    this.#open();
    const prepared = prepareFindings(findings);
    return this.#queue.run(() => {
      for (const p of prepared) {
        // re-inserting moves the id to the end of the Map's order: the cap's tie-break is the latest write
        this.#findings.delete(p.finding.id);
        this.#findings.set(p.finding.id, p.finding);
      }
      if (this.#findings.size > this.#maxFindings) this.#dropFindings(this.#findings.size - this.#maxFindings);
    });
  }

  /** Drops `n` findings: resolved ones first, oldest lastSeen first within each group. */
  #dropFindings(n: number): void {
    const victims = [...this.#findings.values()].sort(
      (a, b) => Number(b.state === 'resolved') - Number(a.state === 'resolved') || a.lastSeen - b.lastSeen || compareText(a.id, b.id),
    );
    for (let i = 0; i < n && i < victims.length; i++) this.#findings.delete(victims[i]!.id);
  }

  findings(q: FindingsQuery = {}): Promise<Finding[]> {
    return this.#read(() => {
      checkFindingsQuery(q);
      const limit = findingsLimit(q.limit);
      if (limit === 0) return [];
      return [...this.#findings.values()]
        .filter((f) => stateMatches(f.state, q.state) && (q.detector === undefined || f.detector === q.detector) && (q.since === undefined || f.lastSeen >= q.since))
        .sort(findingOrder)
        .slice(0, limit)
        .map(copyFinding);
    });
  }

  finding(id: string): Promise<Finding | undefined> {
    return this.#read(() => {
      if (typeof id !== 'string') throw new StoreError('invalid_argument', 'finding: id must be a string');
      const f = this.#findings.get(id);
      return f && copyFinding(f);
    });
  }

  aggregates(filter: AggregateFilter = {}): Promise<EndpointAggregate[]> {
    return this.#read(() =>
      [...this.#aggregates.values()]
        .filter((r) => inScope(r, filter))
        .sort((a, b) => compareTuple([a.route, a.endpoint, a.upstream, a.role], [b.route, b.endpoint, b.upstream, b.role]))
        .map(
          (r): EndpointAggregate => ({
            route: r.route,
            endpoint: r.endpoint,
            upstream: r.upstream,
            role: r.role,
            exchanges: r.exchanges,
            compared: r.compared,
            differing: r.differing,
            errors5xx: r.errors5xx,
            failed: r.failed,
            fields: Object.fromEntries([...r.fields].sort((a, b) => compareTuple([a[0]], [b[0]]))),
            latency: r.latency,
            firstAt: r.firstAt,
            lastAt: r.lastAt,
          }),
        ),
    );
  }

  examples(q: ExamplesQuery): Promise<DiffExample[]> {
    return this.#read(() => {
      if (typeof q?.endpoint !== 'string') throw new StoreError('invalid_argument', 'examples: endpoint is required');
      const limit = examplesLimit(q.limit);
      if (limit === 0) return [];
      return [...this.#examples.values()]
        .filter((e) => inScope(e, q) && (q.field === undefined || e.field === q.field) && (q.upstream === undefined || e.upstream === q.upstream))
        .sort(newestFirst)
        .slice(0, limit)
        .map(exampleFromRow);
    });
  }

  noiseMarks(route?: string): Promise<NoiseMark[]> {
    return this.#read(() =>
      [...this.#noise.values()]
        .filter((m) => route === undefined || m.route === route)
        .sort((a, b) => compareTuple([a.route, a.endpoint, a.field], [b.route, b.endpoint, b.field]))
        .map((m) => ({ ...m })),
    );
  }

  async markNoise(m: NoiseMark): Promise<void> {
    this.#open();
    checkNoiseMark(m);
    const mark: NoiseMark = { route: m.route, endpoint: m.endpoint, field: m.field, at: m.at, source: m.source };
    return this.#queue.run(() => {
      const key = JSON.stringify([m.route, m.endpoint, m.field]);
      if (!this.#noise.has(key)) this.#noise.set(key, mark);
    });
  }

  async unmarkNoise(m: { route: string; endpoint: string; field: string }): Promise<boolean> {
    this.#open();
    return this.#queue.run(() => {
      return this.#noise.delete(JSON.stringify([m.route, m.endpoint, m.field]));
    });
  }

  async reset(scope: ResetScope = {}): Promise<number> {
    this.#open();
    return this.#queue.run(() => {
      let n = 0;
      for (const [k, r] of this.#aggregates) if (inScope(r, scope) && this.#aggregates.delete(k)) n++;
      for (const [k, e] of this.#examples) if (inScope(e, scope) && this.#examples.delete(k)) n++;
      return n;
    });
  }

  async prune(p: PruneRules): Promise<PruneResult> {
    this.#open();
    checkPruneRules(p);
    return this.#queue.run(() => {
      let examples = 0;
      let aggregates = 0;
      let findings = 0;
      if (Number.isFinite(p.maxAgeMs)) {
        const cutoff = p.now - p.maxAgeMs;
        for (const [k, e] of this.#examples) if (e.at < cutoff && this.#examples.delete(k)) examples++;
        for (const [k, r] of this.#aggregates) if (r.lastAt < cutoff && this.#aggregates.delete(k)) aggregates++;
        for (const [k, f] of this.#findings) if (f.state === 'resolved' && (f.resolvedAt ?? f.lastSeen) < cutoff && this.#findings.delete(k)) findings++;
      }
      if (Number.isFinite(p.maxExamples)) examples += this.#dropOldest(this.#examples.size - p.maxExamples);
      return { examples, aggregates, findings };
    });
  }

  size(): Promise<StoreSize> {
    return this.#read(() => ({ aggregates: this.#aggregates.size, examples: this.#examples.size, noiseMarks: this.#noise.size, findings: this.#findings.size }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.idle();
  }

  #read<T>(fn: () => T): Promise<T> {
    try {
      this.#open();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  return new MemoryStore(opts);
}
