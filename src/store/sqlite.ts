// The SQLite store (better-sqlite3), tapwire's default: WAL, synchronous=NORMAL, a busy timeout, versioned
// migrations, the file created 0600 (SQLite gives its -wal and -shm the same mode). A batch is one
// immediate transaction of prepared statements; counters and field counts are summed by the SQL
// (`ON CONFLICT DO UPDATE SET n = n + excluded.n`, portable to PostgreSQL); histograms are merged in JS,
// in slices before the transaction, and re-merged inside it if another connection changed them meanwhile.
// Findings are upserted by id in one immediate transaction, their detail and evidence as JSON text.
import { closeSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { CompareBatch, DiffExample, EndpointAggregate, NoiseMark, Role } from '../compare/types.ts';
import { MutationQueue, Slicer, exampleFromRow, mergeInto, prepareBatch, type PreparedBatch, type PreparedDelta } from './hdr.ts';
import { migrate } from './migrations.ts';
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_SLICE_MS,
  StoreError,
  checkFindingsQuery,
  checkNoiseMark,
  checkPruneRules,
  examplesLimit,
  findingsLimit,
  prepareFindings,
  type AggregateFilter,
  type ExamplesQuery,
  type Finding,
  type FindingsQuery,
  type PreparedFinding,
  type PruneResult,
  type PruneRules,
  type ResetScope,
  type Store,
  type StoreSize,
} from './types.ts';

type Db = Database.Database;
type Stmt = Database.Statement;

export interface SqliteStoreOptions {
  /** see OpenStoreOptions */
  readonly busyTimeoutMs?: number;
  readonly sliceMs?: number;
}

interface AggregateRowDb {
  route: string;
  endpoint: string;
  upstream: string;
  role: Role;
  exchanges: number;
  compared: number;
  differing: number;
  errors_5xx: number;
  failed: number;
  latency: string;
  first_at: number;
  last_at: number;
}

interface FieldRowDb {
  route: string;
  endpoint: string;
  upstream: string;
  role: Role;
  field: string;
  count: number;
}

interface ExampleRowDb {
  route: string;
  endpoint: string;
  upstream: string;
  field: string;
  slot: number;
  role: DiffExample['role'];
  trial_id: string;
  at: number;
  request_json: string;
  left_json: string;
  right_json: string;
  diffs_json: string;
}

interface FindingRowDb {
  id: string;
  detector: Finding['detector'];
  finding_key: string;
  severity: Finding['severity'];
  title: string;
  state: Finding['state'];
  first_seen: number;
  last_seen: number;
  signal_count: number;
  detail_json: string;
  evidence_json: string;
  resolved_at: number | null;
}

function findingFromRow(r: FindingRowDb): Finding {
  return {
    id: r.id,
    detector: r.detector,
    key: r.finding_key,
    severity: r.severity,
    title: r.title,
    state: r.state,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    count: r.signal_count,
    detail: JSON.parse(r.detail_json) as Finding['detail'],
    evidence: JSON.parse(r.evidence_json) as Finding['evidence'],
    ...(r.resolved_at !== null ? { resolvedAt: r.resolved_at } : {}),
  };
}

/** What a write read before its transaction: the stored histograms, and the data_version they were read at. */
interface ReadState {
  readonly version: number;
  readonly latency: Map<string, string>;
}

const UPSERT_AGGREGATE = `INSERT INTO endpoint_aggregate
  (route, endpoint, upstream, role, exchanges, compared, differing, errors_5xx, failed, latency, first_at, last_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (route, endpoint, upstream, role) DO UPDATE SET
    exchanges = endpoint_aggregate.exchanges + excluded.exchanges,
    compared = endpoint_aggregate.compared + excluded.compared,
    differing = endpoint_aggregate.differing + excluded.differing,
    errors_5xx = endpoint_aggregate.errors_5xx + excluded.errors_5xx,
    failed = endpoint_aggregate.failed + excluded.failed,
    latency = CASE WHEN excluded.latency = '' THEN endpoint_aggregate.latency ELSE excluded.latency END,
    first_at = CASE WHEN excluded.first_at < endpoint_aggregate.first_at THEN excluded.first_at ELSE endpoint_aggregate.first_at END,
    last_at = CASE WHEN excluded.last_at > endpoint_aggregate.last_at THEN excluded.last_at ELSE endpoint_aggregate.last_at END`;

const UPSERT_FIELD = `INSERT INTO endpoint_field (route, endpoint, upstream, role, field, count) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (route, endpoint, upstream, role, field) DO UPDATE SET count = endpoint_field.count + excluded.count`;

const UPSERT_EXAMPLE = `INSERT INTO diff_example
  (route, endpoint, upstream, field, slot, role, trial_id, at, request_json, left_json, right_json, diffs_json)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (route, endpoint, upstream, field, slot) DO UPDATE SET
    role = excluded.role, trial_id = excluded.trial_id, at = excluded.at, request_json = excluded.request_json,
    left_json = excluded.left_json, right_json = excluded.right_json, diffs_json = excluded.diffs_json`;

const UPSERT_FINDING = `INSERT INTO finding
  (id, detector, finding_key, severity, title, state, first_seen, last_seen, signal_count, detail_json, evidence_json, resolved_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET
    detector = excluded.detector, finding_key = excluded.finding_key, severity = excluded.severity, title = excluded.title,
    state = excluded.state, first_seen = excluded.first_seen, last_seen = excluded.last_seen, signal_count = excluded.signal_count,
    detail_json = excluded.detail_json, evidence_json = excluded.evidence_json, resolved_at = excluded.resolved_at`;

const EXAMPLE_KEY_ORDER = 'route, endpoint, upstream, field, slot';

/** `WHERE` for the optional keys present, e.g. `WHERE route = ? AND endpoint = ?`, and its parameters. */
function where(pairs: readonly (readonly [column: string, value: string | undefined])[]): { sql: string; params: string[] } {
  const clauses: string[] = [];
  const params: string[] = [];
  for (const [c, v] of pairs) {
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new StoreError('invalid_argument', `${c} must be a string`);
    clauses.push(`${c} = ?`);
    params.push(v);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Says why a path could not be opened in words an operator can act on. */
function describeOpenError(path: string, err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT') return `the directory ${dirname(path)} does not exist`;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${message})`;
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'SQLITE_NOTADB') return 'the file is not a SQLite database';
  if (code === 'SQLITE_CANTOPEN') return `SQLite cannot open it (${message})`;
  if (code === 'SQLITE_READONLY') return `the file or its directory is read-only (${message})`;
  return message;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  /** the database file, or ':memory:' */
  readonly path: string;
  readonly #db: Db;
  readonly #queue = new MutationQueue();
  readonly #sliceMs: number;
  readonly #statements = new Map<string, Stmt>();
  /** the stored histogram of a delta's row, '' when none */
  readonly #latencyOf: (d: PreparedDelta) => string;
  readonly #dataVersion: () => number;
  readonly #apply: (batch: PreparedBatch, read: ReadState, merged: ReadonlyMap<string, string>) => void;
  readonly #applyFindings: (findings: readonly PreparedFinding[]) => void;
  #closed = false;

  /** Opens (creating if needed) and migrates the database; throws a StoreError naming the path. */
  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    this.#sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
    const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const memory = path === ':memory:';
    let db: Db | undefined;
    try {
      if (!memory) createPrivate(path);
      db = new Database(path, { timeout: busy });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busy))}`);
      migrate(db);
    } catch (err) {
      db?.close();
      const reason = err instanceof StoreError ? err.reason : 'open';
      throw new StoreError(reason, `cannot open the SQLite store at ${path}: ${describeOpenError(path, err)}`, { cause: err });
    }
    this.#db = db;

    const selectLatency = db.prepare<[string, string, string, string], { latency: string }>(
      'SELECT latency FROM endpoint_aggregate WHERE route = ? AND endpoint = ? AND upstream = ? AND role = ?',
    );
    const upsertAggregate = db.prepare(UPSERT_AGGREGATE);
    const upsertField = db.prepare(UPSERT_FIELD);
    const upsertExample = db.prepare(UPSERT_EXAMPLE);
    // changes when another connection commits (never for this one's own commits)
    const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#dataVersion = () => dataVersion.get()!;
    this.#latencyOf = (d) => selectLatency.get(d.route, d.endpoint, d.upstream, d.role)?.latency ?? '';
    const apply = db.transaction((batch: PreparedBatch, read: ReadState, merged: ReadonlyMap<string, string>) => {
      const othersWrote = dataVersion.get() !== read.version;
      for (const d of batch.deltas) {
        let latency = '';
        if (d.latency) {
          latency = merged.get(d.key)!;
          if (othersWrote) {
            // another connection (another process) committed since we read: merge again what it changed
            const now = this.#latencyOf(d);
            if (now !== read.latency.get(d.key)) latency = mergeInto(now, d);
          }
        }
        upsertAggregate.run(d.route, d.endpoint, d.upstream, d.role, d.exchanges, d.compared, d.differing, d.errors5xx, d.failed, latency, batch.at, batch.at);
        for (const [field, n] of d.fields) upsertField.run(d.route, d.endpoint, d.upstream, d.role, field, n);
      }
      for (const e of batch.examples) {
        upsertExample.run(e.route, e.endpoint, e.upstream, e.field, e.slot, e.role, e.trialId, e.at, e.request, e.left, e.right, e.diffs);
      }
    });
    this.#apply = (batch, read, merged) => apply.immediate(batch, read, merged);
    const upsertFinding = db.prepare(UPSERT_FINDING);
    const applyFindings = db.transaction((findings: readonly PreparedFinding[]) => {
      for (const { finding: f, detail, evidence } of findings) {
        upsertFinding.run(f.id, f.detector, f.key, f.severity, f.title, f.state, f.firstSeen, f.lastSeen, f.count, detail, evidence, f.resolvedAt ?? null);
      }
    });
    this.#applyFindings = (findings) => applyFindings.immediate(findings);
  }

  #stmt(sql: string): Stmt {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  #open(): void {
    if (this.#closed) throw new StoreError('closed', `the store at ${this.path} is closed`);
  }

  async write(batch: CompareBatch): Promise<void> {
    this.#open();
    return this.#queue.run(async () => {
      const slicer = new Slicer(this.#sliceMs);
      const prepared = await prepareBatch(batch, slicer);
      const read: ReadState = { version: this.#dataVersion(), latency: new Map() };
      const merged = new Map<string, string>();
      for (const d of prepared.deltas) {
        if (!d.latency) continue;
        await slicer.tick();
        const stored = this.#latencyOf(d);
        read.latency.set(d.key, stored);
        merged.set(d.key, mergeInto(stored, d));
      }
      this.#apply(prepared, read, merged);
    });
  }

  aggregates(filter: AggregateFilter = {}): Promise<EndpointAggregate[]> {
    return this.#read(() => {
      const w = where([['route', filter.route], ['endpoint', filter.endpoint]]);
      const rows = this.#stmt(`SELECT * FROM endpoint_aggregate ${w.sql} ORDER BY route, endpoint, upstream, role`).all(...w.params) as AggregateRowDb[];
      const fieldRows = this.#stmt(`SELECT * FROM endpoint_field ${w.sql} ORDER BY route, endpoint, upstream, role, field`).all(...w.params) as FieldRowDb[];
      const fields = new Map<string, [string, number][]>();
      for (const f of fieldRows) {
        const key = JSON.stringify([f.route, f.endpoint, f.upstream, f.role]);
        let list = fields.get(key);
        if (!list) fields.set(key, (list = []));
        list.push([f.field, f.count]);
      }
      return rows.map(
        (r): EndpointAggregate => ({
          route: r.route,
          endpoint: r.endpoint,
          upstream: r.upstream,
          role: r.role,
          exchanges: r.exchanges,
          compared: r.compared,
          differing: r.differing,
          errors5xx: r.errors_5xx,
          failed: r.failed,
          fields: Object.fromEntries(fields.get(JSON.stringify([r.route, r.endpoint, r.upstream, r.role])) ?? []),
          latency: r.latency,
          firstAt: r.first_at,
          lastAt: r.last_at,
        }),
      );
    });
  }

  examples(q: ExamplesQuery): Promise<DiffExample[]> {
    return this.#read(() => {
      if (typeof q?.endpoint !== 'string') throw new StoreError('invalid_argument', 'examples: endpoint is required');
      const limit = examplesLimit(q.limit);
      if (limit === 0) return [];
      const w = where([
        ['endpoint', q.endpoint],
        ['route', q.route],
        ['upstream', q.upstream],
        ['field', q.field],
      ]);
      const rows = this.#stmt(`SELECT * FROM diff_example ${w.sql} ORDER BY at DESC, ${EXAMPLE_KEY_ORDER} LIMIT ?`).all(...w.params, limit) as ExampleRowDb[];
      return rows.map((r) =>
        exampleFromRow({
          route: r.route,
          endpoint: r.endpoint,
          upstream: r.upstream,
          field: r.field,
          slot: r.slot,
          role: r.role,
          trialId: r.trial_id,
          at: r.at,
          request: r.request_json,
          left: r.left_json,
          right: r.right_json,
          diffs: r.diffs_json,
        }),
      );
    });
  }

  async writeFindings(findings: readonly Finding[]): Promise<void> {
    this.#open();
    const prepared = prepareFindings(findings);
    return this.#queue.run(() => this.#applyFindings(prepared));
  }

  findings(q: FindingsQuery = {}): Promise<Finding[]> {
    return this.#read(() => {
      checkFindingsQuery(q);
      const limit = findingsLimit(q.limit);
      if (limit === 0) return [];
      const clauses: string[] = [];
      const params: (string | number)[] = [];
      if (q.state === 'active') clauses.push("state IN ('open', 'ongoing')");
      else if (q.state !== undefined) {
        clauses.push('state = ?');
        params.push(q.state);
      }
      if (q.detector !== undefined) {
        clauses.push('detector = ?');
        params.push(q.detector);
      }
      if (q.since !== undefined) {
        clauses.push('last_seen >= ?');
        params.push(q.since);
      }
      const sql = `SELECT * FROM finding ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY last_seen DESC, id LIMIT ?`;
      return (this.#stmt(sql).all(...params, limit) as FindingRowDb[]).map(findingFromRow);
    });
  }

  finding(id: string): Promise<Finding | undefined> {
    return this.#read(() => {
      if (typeof id !== 'string') throw new StoreError('invalid_argument', 'finding: id must be a string');
      const row = this.#stmt('SELECT * FROM finding WHERE id = ?').get(id) as FindingRowDb | undefined;
      return row && findingFromRow(row);
    });
  }

  noiseMarks(route?: string): Promise<NoiseMark[]> {
    return this.#read(() => {
      const w = where([['route', route]]);
      return this.#stmt(`SELECT route, endpoint, field, at, source FROM noise_mark ${w.sql} ORDER BY route, endpoint, field`).all(...w.params) as NoiseMark[];
    });
  }

  async markNoise(m: NoiseMark): Promise<void> {
    this.#open();
    checkNoiseMark(m);
    return this.#queue.run(() => {
      this.#stmt('INSERT INTO noise_mark (route, endpoint, field, at, source) VALUES (?, ?, ?, ?, ?) ON CONFLICT (route, endpoint, field) DO NOTHING').run(
        m.route,
        m.endpoint,
        m.field,
        m.at,
        m.source,
      );
    });
  }

  async unmarkNoise(m: { route: string; endpoint: string; field: string }): Promise<boolean> {
    this.#open();
    return this.#queue.run(
      () => this.#stmt('DELETE FROM noise_mark WHERE route = ? AND endpoint = ? AND field = ?').run(m.route, m.endpoint, m.field).changes > 0,
    );
  }

  async reset(scope: ResetScope = {}): Promise<number> {
    this.#open();
    const w = where([['route', scope.route], ['endpoint', scope.endpoint]]);
    return this.#queue.run(() =>
      this.#db
        .transaction(() => {
          this.#stmt(`DELETE FROM endpoint_field ${w.sql}`).run(...w.params);
          const a = this.#stmt(`DELETE FROM endpoint_aggregate ${w.sql}`).run(...w.params).changes;
          const e = this.#stmt(`DELETE FROM diff_example ${w.sql}`).run(...w.params).changes;
          return a + e;
        })
        .immediate(),
    );
  }

  async prune(p: PruneRules): Promise<PruneResult> {
    this.#open();
    checkPruneRules(p);
    return this.#queue.run(() =>
      this.#db
        .transaction((): PruneResult => {
          let examples = 0;
          let aggregates = 0;
          let findings = 0;
          if (Number.isFinite(p.maxAgeMs)) {
            const cutoff = p.now - p.maxAgeMs;
            findings += this.#stmt("DELETE FROM finding WHERE state = 'resolved' AND COALESCE(resolved_at, last_seen) < ?").run(cutoff).changes;
            examples += this.#stmt('DELETE FROM diff_example WHERE at < ?').run(cutoff).changes;
            this.#stmt(
              'DELETE FROM endpoint_field WHERE (route, endpoint, upstream, role) IN (SELECT route, endpoint, upstream, role FROM endpoint_aggregate WHERE last_at < ?)',
            ).run(cutoff);
            aggregates += this.#stmt('DELETE FROM endpoint_aggregate WHERE last_at < ?').run(cutoff).changes;
          }
          if (Number.isFinite(p.maxExamples)) {
            const { n } = this.#stmt('SELECT COUNT(*) AS n FROM diff_example').get() as { n: number };
            if (n > p.maxExamples) {
              examples += this.#stmt(
                `DELETE FROM diff_example WHERE (${EXAMPLE_KEY_ORDER}) IN (SELECT ${EXAMPLE_KEY_ORDER} FROM diff_example ORDER BY at, ${EXAMPLE_KEY_ORDER} LIMIT ?)`,
              ).run(n - p.maxExamples).changes;
            }
          }
          return { examples, aggregates, findings };
        })
        .immediate(),
    );
  }

  size(): Promise<StoreSize> {
    return this.#read(() => {
      const count = (table: string) => (this.#stmt(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      const out = { aggregates: count('endpoint_aggregate'), examples: count('diff_example'), noiseMarks: count('noise_mark'), findings: count('finding') };
      if (this.path === ':memory:') return out;
      return { ...out, bytes: fileSize(this.path) + fileSize(`${this.path}-wal`) };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.idle();
    this.#db.close();
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

/** Creates the file readable by its owner only, unless it exists (an existing file keeps its mode). */
function createPrivate(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Store {
  return new SqliteStore(path, opts);
}
