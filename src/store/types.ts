// The Store contract: where compare's additive deltas, kept examples and noise marks, and analysis's
// findings live between flushes and restarts. Every implementation (memory, SQLite, PostgreSQL later) passes test/store/contract.ts; the
// interface is async and the SQL portable so a networked store can join without changing a caller.
import { TapwireError } from '../core/errors.ts';
import type { CompareBatch, DiffExample, EndpointAggregate, NoiseMark } from '../compare/types.ts';
// Types only: the store keeps analysis findings as data and runs none of analysis's code.
import type { DetectorName, Finding, FindingState } from '../analysis/types.ts';

export type { DetectorName, Finding, FindingState };

export type StoreKind = 'memory' | 'sqlite' | 'postgres';

/** Rows of `aggregates()`; both keys optional, combined with AND. */
export interface AggregateFilter {
  readonly route?: string;
  readonly endpoint?: string;
}

export interface ExamplesQuery {
  readonly route?: string;
  readonly endpoint: string;
  /** exact field (the aggregation key, `$.items[*].price`) */
  readonly field?: string;
  readonly upstream?: string;
  /** default 20, at most 200; 0 returns nothing */
  readonly limit?: number;
}

/** What `reset()` forgets; both keys optional, combined with AND; nothing given: everything. */
export interface ResetScope {
  readonly route?: string;
  readonly endpoint?: string;
}

/** Rows of `findings()`; every key optional, combined with AND. */
export interface FindingsQuery {
  /** one state, or 'active' (open + ongoing); absent: every state */
  readonly state?: FindingState | 'active';
  readonly detector?: DetectorName;
  /** only findings with `lastSeen >= since` (epoch ms) */
  readonly since?: number;
  /** default 50, at most 500; 0 returns nothing */
  readonly limit?: number;
}

export interface PruneRules {
  /** epoch ms the ages are measured from */
  readonly now: number;
  /**
   * examples with `at`, aggregates with `lastAt` and resolved findings with `resolvedAt` (else `lastSeen`)
   * strictly before `now - maxAgeMs` go; Infinity: no age limit. Open and ongoing findings never go.
   */
  readonly maxAgeMs: number;
  /** examples kept at most (the oldest go first); Infinity: no count limit */
  readonly maxExamples: number;
}

export interface PruneResult {
  /** example rows deleted */
  readonly examples: number;
  /** aggregate rows deleted (their per-field counts go with them) */
  readonly aggregates: number;
  /** resolved findings deleted */
  readonly findings: number;
}

export interface StoreSize {
  readonly aggregates: number;
  readonly examples: number;
  readonly noiseMarks: number;
  readonly findings: number;
  /** bytes on disk (database file plus its WAL) when the store has a file */
  readonly bytes?: number;
}

/**
 * Semantics every store shares (checked by the contract suite):
 * - `write` sums counters and per-field counts, merges HDR histograms, keeps the smallest `firstAt` and
 *   the largest `lastAt` (both the batch's `at`), and upserts examples by (route, endpoint, upstream,
 *   field, slot): writing a slot replaces what was there. Several deltas for one key in a batch sum.
 *   The batch is validated first and written in one transaction: an invalid batch (a latency that is not
 *   a decodable HDR histogram, a counter that is not a non-negative safe integer, an epoch that is not an
 *   integer, an example that cannot be serialised as JSON, …) rejects with a `StoreError` (`invalid_batch`)
 *   and writes nothing.
 * - Orders are byte order of the UTF-8 text (SQLite's BINARY collation): aggregates by route, endpoint,
 *   upstream, role; examples newest first, ties by route, endpoint, upstream, field, slot; noise marks by
 *   route, endpoint, field; findings newest `lastSeen` first, ties by id. Example payloads, finding
 *   details and evidence round-trip through JSON in every store.
 * - `writeFindings` upserts by id: writing an id again replaces the whole finding. The findings are
 *   validated first and written in one transaction: an invalid one rejects the call with a `StoreError`
 *   (`invalid_batch`) and writes nothing.
 * - Mutations of one store object apply in call order. Histogram merging is CPU work (~0.5 ms per key),
 *   done in slices that yield to the event loop, so a large flush never blocks the data plane for long.
 * - After `close()` every call rejects with a `StoreError` (`closed`); `close()` twice is harmless.
 */
export interface Store {
  readonly kind: StoreKind;
  /** Apply additive deltas and upsert examples; atomic. */
  write(batch: CompareBatch): Promise<void>;
  /** The summed rows, optionally filtered. */
  aggregates(filter?: AggregateFilter): Promise<EndpointAggregate[]>;
  /** Examples for an endpoint, newest first. */
  examples(q: ExamplesQuery): Promise<DiffExample[]>;
  /** Noise marks, of one route or all. */
  noiseMarks(route?: string): Promise<NoiseMark[]>;
  /** Idempotent: marking an existing (route, endpoint, field) again keeps the first mark (its `at` and `source`). */
  markNoise(m: NoiseMark): Promise<void>;
  /** Whether a mark was removed. */
  unmarkNoise(m: { readonly route: string; readonly endpoint: string; readonly field: string }): Promise<boolean>;
  /** Forget aggregates (with their field counts) and examples in scope; noise marks stay. Returns aggregate rows + example rows deleted. */
  reset(scope?: ResetScope): Promise<number>;
  /** Upsert findings by id (the tracker's latest snapshot of each); atomic. */
  writeFindings(findings: readonly Finding[]): Promise<void>;
  /** Findings, newest `lastSeen` first (ties by id), optionally filtered. */
  findings(q?: FindingsQuery): Promise<Finding[]>;
  /** One finding by id. */
  finding(id: string): Promise<Finding | undefined>;
  /** Retention by age (examples, aggregates, resolved findings) and by example count. */
  prune(rules: PruneRules): Promise<PruneResult>;
  /** Row counts for /metrics and health. */
  size(): Promise<StoreSize>;
  /** Waits for queued mutations, then releases the store. */
  close(): Promise<void>;
}

/** Options of `openStore` (src/store/open.ts). */
export interface OpenStoreOptions {
  /** relative `sqlite:PATH`s resolve against it (default: the working directory) */
  readonly baseDir?: string;
  /** SQLite: how long to wait for another connection's lock (default 5000 ms) */
  readonly busyTimeoutMs?: number;
  /** memory: hard cap on example rows whatever `prune` says, the oldest dropped first (default 10,000) */
  readonly memoryMaxExamples?: number;
  /** CPU time spent merging histograms before yielding to the event loop (default 5 ms; 0 yields after every key) */
  readonly sliceMs?: number;
}

export const FINDINGS_DEFAULT_LIMIT = 50;
export const FINDINGS_MAX_LIMIT = 500;
export const MEMORY_MAX_FINDINGS = 10_000;
export const EXAMPLES_DEFAULT_LIMIT = 20;
export const EXAMPLES_MAX_LIMIT = 200;
export const MEMORY_MAX_EXAMPLES = 10_000;
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
export const DEFAULT_SLICE_MS = 5;

export type StoreErrorReason = 'open' | 'spec' | 'unsupported' | 'schema' | 'invalid_batch' | 'invalid_argument' | 'closed';

/**
 * Every failure a store reports on purpose. `code` is stable; `reason` says which kind.
 * (TW_ERR_STORE is not in src/core/errors.ts yet: the catalog belongs to core.)
 */
export class StoreError extends TapwireError {
  readonly reason: StoreErrorReason;
  constructor(reason: StoreErrorReason, message: string, options?: { cause?: unknown }) {
    super('TW_ERR_STORE', message, options);
    this.name = 'StoreError';
    this.reason = reason;
  }
}

/** `limit` of an examples query: default 20, clamped to 0..200. */
export function examplesLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return EXAMPLES_DEFAULT_LIMIT;
  return Math.min(EXAMPLES_MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

/** `limit` of a findings query: default 50, clamped to 0..500. */
export function findingsLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return FINDINGS_DEFAULT_LIMIT;
  return Math.min(FINDINGS_MAX_LIMIT, Math.max(0, Math.floor(limit)));
}

const FINDING_STATES: ReadonlySet<string> = new Set(['open', 'ongoing', 'resolved']);
const QUERY_STATES: ReadonlySet<string> = new Set(['open', 'ongoing', 'resolved', 'active']);
const SEVERITY_NAMES: ReadonlySet<string> = new Set(['info', 'low', 'medium', 'high', 'critical']);

/** Rejects a findings query a store could not answer faithfully (unknown state, NaN since). */
export function checkFindingsQuery(q: FindingsQuery): void {
  const bad = (what: string) => new StoreError('invalid_argument', `findings: ${what}`);
  if (q.state !== undefined && !QUERY_STATES.has(q.state)) throw bad("state must be 'open', 'ongoing', 'resolved' or 'active'");
  if (q.detector !== undefined && (typeof q.detector !== 'string' || (q.detector as string) === '')) throw bad('detector must be a non-empty string');
  if (q.since !== undefined && !Number.isFinite(q.since)) throw bad('since must be an epoch in milliseconds');
  if (q.limit !== undefined && typeof q.limit !== 'number') throw bad('limit must be a number');
}

/** A finding as every store keeps it: checked, its detail and evidence serialised as JSON. */
export interface PreparedFinding {
  readonly finding: Finding;
  readonly detail: string;
  readonly evidence: string;
}

const isEpoch = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Validates findings before any is written; throws a StoreError (`invalid_batch`) naming the first bad one. */
export function prepareFindings(findings: readonly Finding[]): PreparedFinding[] {
  const list: unknown = findings; // not narrowing `findings` itself: Array.isArray would make it any[]
  if (!Array.isArray(list)) throw new StoreError('invalid_batch', 'findings: expected an array');
  return findings.map((f, i): PreparedFinding => {
    const bad = (what: string) => new StoreError('invalid_batch', `finding ${i}${typeof f?.id === 'string' ? ` (${f.id})` : ''}: ${what}`);
    if (typeof f !== 'object' || f === null) throw bad('not an object');
    for (const k of ['id', 'detector', 'key', 'title'] as const) {
      if (typeof f[k] !== 'string') throw bad(`${k} must be a string`);
    }
    if (f.id === '' || (f.detector as string) === '') throw bad('id and detector must not be empty');
    if (!SEVERITY_NAMES.has(f.severity)) throw bad(`unknown severity ${JSON.stringify(f.severity)}`);
    if (!FINDING_STATES.has(f.state)) throw bad(`unknown state ${JSON.stringify(f.state)}`);
    if (!isEpoch(f.firstSeen) || !isEpoch(f.lastSeen)) throw bad('firstSeen and lastSeen must be epochs in integer milliseconds');
    if (f.resolvedAt !== undefined && !isEpoch(f.resolvedAt)) throw bad('resolvedAt must be an epoch in integer milliseconds');
    if (!Number.isSafeInteger(f.count) || f.count < 0) throw bad('count must be a non-negative integer');
    if (typeof f.detail !== 'object' || f.detail === null || Array.isArray(f.detail)) throw bad('detail must be an object');
    const evidenceList: unknown = f.evidence;
    if (!Array.isArray(evidenceList)) throw bad('evidence must be an array');
    let detail: string;
    let evidence: string;
    try {
      detail = JSON.stringify(f.detail);
      evidence = JSON.stringify(f.evidence);
    } catch (err) {
      throw bad(`detail or evidence cannot be serialised as JSON (${(err as Error).message})`);
    }
    const finding: Finding = {
      id: f.id,
      detector: f.detector,
      key: f.key,
      severity: f.severity,
      title: f.title,
      state: f.state,
      firstSeen: f.firstSeen,
      lastSeen: f.lastSeen,
      count: f.count,
      detail: JSON.parse(detail) as Finding['detail'],
      evidence: JSON.parse(evidence) as Finding['evidence'],
      ...(f.resolvedAt !== undefined ? { resolvedAt: f.resolvedAt } : {}),
    };
    return { finding, detail, evidence };
  });
}

/** Whether a finding is in a query's state ('active': open or ongoing). */
export function stateMatches(state: FindingState, q: FindingsQuery['state']): boolean {
  return q === undefined || q === state || (q === 'active' && state !== 'resolved');
}

/** Orders strings by code point, i.e. the byte order of their UTF-8 (SQLite's BINARY collation), not by UTF-16 unit. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Surrogates (U+D800–DFFF) stand for code points above U+FFFF: they rank above U+E000–FFFF.
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  if (unit >= 0xe000) return unit - 0x800;
  return unit + 0x2000;
}

/** Compares tuples of strings and numbers element by element (strings with `compareText`). */
export function compareTuple(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : compareText(String(x), String(y));
    if (c !== 0) return c;
  }
  return 0;
}

/** Rejects a noise mark a store could not keep faithfully. */
export function checkNoiseMark(m: NoiseMark): void {
  const bad = (what: string) => new StoreError('invalid_argument', `noise mark: ${what}`);
  for (const k of ['route', 'endpoint', 'field'] as const) {
    if (typeof m[k] !== 'string' || m[k] === '') throw bad(`${k} must be a non-empty string`);
  }
  if (!Number.isSafeInteger(m.at) || m.at < 0) throw bad('at must be an epoch in integer milliseconds');
  if (m.source !== 'config' && m.source !== 'api') throw bad("source must be 'config' or 'api'");
}

/** Rejects retention rules that would delete by accident (NaN, negative limits). */
export function checkPruneRules(p: PruneRules): void {
  const bad = (what: string) => new StoreError('invalid_argument', `prune: ${what}`);
  if (!Number.isFinite(p.now)) throw bad('now must be an epoch in milliseconds');
  if (!(p.maxAgeMs >= 0)) throw bad('maxAgeMs must be >= 0 (Infinity: no age limit)');
  if (!(p.maxExamples >= 0) || (Number.isFinite(p.maxExamples) && !Number.isInteger(p.maxExamples))) {
    throw bad('maxExamples must be an integer >= 0 (Infinity: no count limit)');
  }
}
