// The PostgreSQL store (pg Pool): what several tapwire replicas share. A flush is one transaction of a few
// unnest() statements; counters and field counts are summed by the database, so concurrent writers of one
// key add up. HDR histograms cannot be summed in SQL, so each is merged in JS: optimistically before the
// transaction (in slices, no lock held), then checked under the row lock the upsert takes; when another
// writer changed the histogram in between, it is merged again from the locked value. A lost update is
// impossible: the histogram written is always "locked current value + this batch". docs/SCALING.md.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { CompareBatch, DiffExample, EndpointAggregate, NoiseMark, Role } from '../compare/types.ts';
import { MutationQueue, Slicer, exampleFromRow, mergeInto, prepareBatch, type PreparedBatch, type PreparedDelta, type PreparedExample } from './hdr.ts';
import { redactUrl } from './open.ts';
import { migratePg } from './pg-schema.ts';
import * as SQL from './pg-sql.ts';
import {
  DEFAULT_SLICE_MS,
  StoreError,
  checkFindingsQuery,
  checkNoiseMark,
  checkPruneRules,
  compareTuple,
  examplesLimit,
  findingsLimit,
  prepareFindings,
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

export interface PostgresStoreOptions {
  /** connections per process (default 4; `?pool_max=N` in the URL sets it too) */
  readonly poolSize?: number;
  /** see OpenStoreOptions.sliceMs */
  readonly sliceMs?: number;
  /** how long opening waits for a connection (default 10 s) */
  readonly connectTimeoutMs?: number;
}

export const DEFAULT_PG_POOL_SIZE = 4;
/** pg_try_advisory_xact_lock key of retention: one replica prunes at a time, the others skip that round. */
export const PRUNE_LOCK = 0x7461707072;
/** a deadlock (40P01) or serialization failure (40001) rolls the transaction back: it is run again, this many times in all */
const TX_ATTEMPTS = 4;

// BIGINT and COUNT(*) arrive as numbers: every stored count and epoch is a safe integer (prepareBatch checks).
const int8 = (v: string): number => Number(v);
const builtin = pg.types.getTypeParser.bind(pg.types) as (oid: number, format?: 'text' | 'binary') => (v: string) => unknown;
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? int8 : builtin(oid, format))) as typeof pg.types.getTypeParser,
};

interface AggregateRowPg {
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
  fields: [string, number][];
}

interface ExampleRowPg {
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

interface FindingRowPg {
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

function findingFromRow(r: FindingRowPg): Finding {
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

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const rowKey = (r: { route: string; endpoint: string; upstream: string; role: string }) => JSON.stringify([r.route, r.endpoint, r.upstream, r.role]);

/** PostgreSQL text cannot hold U+0000 (SQLite can): a key holding one is refused before anything is written. */
function checkText(batch: PreparedBatch): void {
  const bad = (where: string) => new StoreError('invalid_batch', `invalid batch: ${where} contains U+0000, which PostgreSQL text cannot hold`);
  const nul = (...texts: string[]) => texts.some((t) => t.includes('\0'));
  for (const d of batch.deltas) {
    if (nul(d.route, d.endpoint, d.upstream, ...d.fields.keys())) throw bad(`the delta ${d.key}`);
  }
  for (const e of batch.examples) if (nul(e.route, e.endpoint, e.upstream, e.field, e.trialId)) throw bad(`the example ${e.key}`);
}

/** Findings' free text (titles, keys) may quote traffic: U+0000 becomes U+FFFD rather than failing the write. */
const text = (s: string) => (s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s);

/** `WHERE a.route = $1 AND ...` for the optional keys present. */
function where(pairs: readonly (readonly [column: string, value: string | undefined])[], first = 1): { sql: string; params: string[] } {
  const clauses: string[] = [];
  const params: string[] = [];
  for (const [c, v] of pairs) {
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new StoreError('invalid_argument', `${c} must be a string`);
    params.push(v);
    clauses.push(`${c} = $${first + params.length - 1}`);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Splits `pool_max` off the URL (pg would pass it to the server as a setting). */
function poolSizeFrom(url: string): { url: string; poolSize?: number } {
  const m = /([?&])pool_max=(\d+)(&?)/.exec(url);
  if (!m) return { url };
  const rest = url.slice(0, m.index) + (m[3] ? m[1] : '') + url.slice(m.index + m[0].length);
  return { url: rest.replace(/[?&]$/, ''), poolSize: Number(m[2]) };
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /** the URL without its password */
  readonly url: string;
  readonly #pool: pg.Pool;
  readonly #queue = new MutationQueue();
  readonly #sliceMs: number;
  readonly #reads = new Set<Promise<unknown>>();
  #closed = false;

  private constructor(url: string, pool: pg.Pool, sliceMs: number) {
    this.url = url;
    this.#pool = pool;
    this.#sliceMs = sliceMs;
  }

  /** Connects, migrates, and returns the store; throws a StoreError naming the URL (without its password). */
  static async open(spec: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const { url, poolSize } = poolSizeFrom(spec);
    const shown = redactUrl(url);
    const max = Math.max(1, Math.floor(opts.poolSize ?? poolSize ?? DEFAULT_PG_POOL_SIZE));
    const pool = new pg.Pool({
      connectionString: url,
      max,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      // a statement stuck behind a lock or a slow disk fails the flush instead of holding it for ever
      statement_timeout: 30_000,
      application_name: 'tapwire',
      types: TYPES,
    });
    // an idle connection the server dropped: the pool forgets it and the next query opens another
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migratePg(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      const reason = err instanceof StoreError ? err.reason : 'open';
      throw new StoreError(reason, `cannot open the PostgreSQL store at ${shown}: ${(err as Error).message || String(err)}`, { cause: err });
    }
    return new PostgresStore(shown, pool, opts.sliceMs ?? DEFAULT_SLICE_MS);
  }

  #open(): void {
    if (this.#closed) throw new StoreError('closed', `the store at ${this.url} is closed`);
  }

  /** One transaction, run again on a deadlock or serialization failure (nothing of a failed attempt stays). */
  async #tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: unknown) => (broken = e as Error));
        const code = (err as { code?: unknown }).code;
        if (attempt < TX_ATTEMPTS && (code === '40P01' || code === '40001')) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  async write(batch: CompareBatch): Promise<void> {
    this.#open();
    return this.#queue.run(async () => {
      const slicer = new Slicer(this.#sliceMs);
      const prepared = await prepareBatch(batch, slicer);
      checkText(prepared);
      const deltas = [...prepared.deltas].sort((a, b) => compareTuple([a.route, a.endpoint, a.upstream, a.role], [b.route, b.endpoint, b.upstream, b.role]));
      const examples = lastPerKey(prepared.examples);
      if (deltas.length === 0 && examples.length === 0) return;

      // Optimistic: merge against what is stored now, outside any transaction and in slices.
      const timed = deltas.filter((d) => d.latency);
      const read = new Map<string, string>();
      if (timed.length) {
        const { rows } = await this.#pool.query<{ route: string; endpoint: string; upstream: string; role: string; latency: string }>(SQL.SELECT_LATENCIES, keyArrays(timed));
        for (const r of rows) read.set(rowKey(r), r.latency);
      }
      const merged = new Map<string, string>();
      for (const d of timed) {
        await slicer.tick();
        merged.set(d.key, mergeInto(read.get(d.key) ?? '', d));
      }

      await this.#tx(async (c) => {
        // Field counts and examples first: the aggregate rows, which every replica's flush touches, stay locked
        // only from their upsert to the commit (two round trips), not while the rest is written.
        const fields: [PreparedDelta, string, number][] = [];
        for (const d of deltas) for (const [f, n] of [...d.fields].sort((a, b) => compareTuple([a[0]], [b[0]]))) fields.push([d, f, n]);
        if (fields.length) {
          await c.query({
            name: 'tw_upsert_fields',
            text: SQL.UPSERT_FIELDS,
            values: [...keyArrays(fields.map((f) => f[0])), fields.map((f) => f[1]), fields.map((f) => f[2])],
          });
        }
        if (examples.length) {
          const col = <K extends keyof PreparedExample>(k: K) => examples.map((e) => e[k]);
          await c.query({
            name: 'tw_upsert_examples',
            text: SQL.UPSERT_EXAMPLES,
            values: [col('route'), col('endpoint'), col('upstream'), col('field'), col('slot'), col('role'), col('trialId'), col('at'), col('request'), col('left'), col('right'), col('diffs')],
          });
        }
        if (deltas.length === 0) return;
        const up = await c.query<{ route: string; endpoint: string; upstream: string; role: string; digest: string }>({
          name: 'tw_upsert_aggregates',
          text: SQL.UPSERT_AGGREGATES,
          values: [...keyArrays(deltas), ...(['exchanges', 'compared', 'differing', 'errors5xx', 'failed'] as const).map((k) => deltas.map((d) => d[k])), prepared.at],
        });
        if (timed.length === 0) return;
        // The upsert locked every row; a digest that differs from the one merged against means another writer committed meanwhile.
        const digests = new Map(up.rows.map((r) => [rowKey(r), r.digest]));
        const stale = timed.filter((d) => digests.get(d.key) !== md5(read.get(d.key) ?? ''));
        if (stale.length) {
          const { rows } = await c.query<{ route: string; endpoint: string; upstream: string; role: string; latency: string }>(SQL.SELECT_LATENCIES, keyArrays(stale));
          const locked = new Map(rows.map((r) => [rowKey(r), r.latency]));
          for (const d of stale) merged.set(d.key, mergeInto(locked.get(d.key) ?? '', d));
        }
        await c.query({ name: 'tw_update_latencies', text: SQL.UPDATE_LATENCIES, values: [...keyArrays(timed), timed.map((d) => merged.get(d.key)!)] });
      });
    });
  }

  aggregates(filter: AggregateFilter = {}): Promise<EndpointAggregate[]> {
    return this.#read(async () => {
      const w = where([['a.route', filter.route], ['a.endpoint', filter.endpoint]]);
      const { rows } = await this.#pool.query<AggregateRowPg>(SQL.selectAggregates(w.sql), w.params);
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
          fields: Object.fromEntries(r.fields),
          latency: r.latency,
          firstAt: r.first_at,
          lastAt: r.last_at,
        }),
      );
    });
  }

  examples(q: ExamplesQuery): Promise<DiffExample[]> {
    return this.#read(async () => {
      if (typeof q?.endpoint !== 'string') throw new StoreError('invalid_argument', 'examples: endpoint is required');
      const limit = examplesLimit(q.limit);
      if (limit === 0) return [];
      const w = where([
        ['endpoint', q.endpoint],
        ['route', q.route],
        ['upstream', q.upstream],
        ['field', q.field],
      ]);
      const sql = `SELECT * FROM diff_example ${w.sql} ORDER BY at DESC, ${SQL.EXAMPLE_KEY_ORDER} LIMIT $${w.params.length + 1}`;
      const { rows } = await this.#pool.query<ExampleRowPg>(sql, [...w.params, limit]);
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
    if (prepared.length === 0) return this.#queue.run(() => undefined);
    // one row per id (the last wins, as if written one after another), sorted so writers lock in one order
    const byId = new Map(prepared.map((p) => [text(p.finding.id), p]));
    const list = [...byId.entries()].sort((a, b) => compareTuple([a[0]], [b[0]]));
    const col = <T>(fn: (p: (typeof list)[number][1]) => T) => list.map(([, p]) => fn(p));
    const values = [
      list.map(([id]) => id),
      col((p) => text(p.finding.detector)),
      col((p) => text(p.finding.key)),
      col((p) => p.finding.severity),
      col((p) => text(p.finding.title)),
      col((p) => p.finding.state),
      col((p) => p.finding.firstSeen),
      col((p) => p.finding.lastSeen),
      col((p) => p.finding.count),
      col((p) => p.detail),
      col((p) => p.evidence),
      col((p) => p.finding.resolvedAt ?? null),
    ];
    return this.#queue.run(async () => {
      await this.#tx((c) => c.query({ name: 'tw_upsert_findings', text: SQL.UPSERT_FINDINGS, values }));
    });
  }

  findings(q: FindingsQuery = {}): Promise<Finding[]> {
    return this.#read(async () => {
      checkFindingsQuery(q);
      const limit = findingsLimit(q.limit);
      if (limit === 0) return [];
      const clauses: string[] = [];
      const params: (string | number)[] = [];
      const param = (v: string | number) => `$${params.push(v)}`;
      if (q.state === 'active') clauses.push("state IN ('open', 'ongoing')");
      else if (q.state !== undefined) clauses.push(`state = ${param(q.state)}`);
      if (q.detector !== undefined) clauses.push(`detector = ${param(q.detector)}`);
      if (q.since !== undefined) clauses.push(`last_seen >= ${param(Math.ceil(q.since))}`);
      const sql = `SELECT * FROM finding ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY last_seen DESC, id LIMIT ${param(limit)}`;
      const { rows } = await this.#pool.query<FindingRowPg>(sql, params);
      return rows.map(findingFromRow);
    });
  }

  finding(id: string): Promise<Finding | undefined> {
    return this.#read(async () => {
      if (typeof id !== 'string') throw new StoreError('invalid_argument', 'finding: id must be a string');
      const { rows } = await this.#pool.query<FindingRowPg>('SELECT * FROM finding WHERE id = $1', [text(id)]);
      return rows[0] && findingFromRow(rows[0]);
    });
  }

  noiseMarks(route?: string): Promise<NoiseMark[]> {
    return this.#read(async () => {
      const w = where([['route', route]]);
      const { rows } = await this.#pool.query<NoiseMark>(`SELECT route, endpoint, field, at, source FROM noise_mark ${w.sql} ORDER BY route, endpoint, field`, w.params);
      return rows;
    });
  }

  async markNoise(m: NoiseMark): Promise<void> {
    this.#open();
    checkNoiseMark(m);
    return this.#queue.run(async () => {
      await this.#pool.query(
        'INSERT INTO noise_mark (route, endpoint, field, at, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (route, endpoint, field) DO NOTHING',
        [text(m.route), text(m.endpoint), text(m.field), m.at, m.source],
      );
    });
  }

  async unmarkNoise(m: { route: string; endpoint: string; field: string }): Promise<boolean> {
    this.#open();
    return this.#queue.run(async () => {
      const r = await this.#pool.query('DELETE FROM noise_mark WHERE route = $1 AND endpoint = $2 AND field = $3', [text(m.route), text(m.endpoint), text(m.field)]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async reset(scope: ResetScope = {}): Promise<number> {
    this.#open();
    const w = where([['route', scope.route], ['endpoint', scope.endpoint]]);
    return this.#queue.run(() =>
      this.#tx(async (c) => {
        // fields, examples, aggregates: the order writers lock in
        await c.query(`DELETE FROM endpoint_field ${w.sql}`, w.params);
        const e = (await c.query(`DELETE FROM diff_example ${w.sql}`, w.params)).rowCount ?? 0;
        const a = (await c.query(`DELETE FROM endpoint_aggregate ${w.sql}`, w.params)).rowCount ?? 0;
        return a + e;
      }),
    );
  }

  async prune(p: PruneRules): Promise<PruneResult> {
    this.#open();
    checkPruneRules(p);
    return this.#queue.run(() =>
      this.#tx(async (c): Promise<PruneResult> => {
        let examples = 0;
        let aggregates = 0;
        let findings = 0;
        // Every replica runs retention; one at a time does the work, the others find nothing left or skip.
        const { rows } = await c.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS got', [PRUNE_LOCK]);
        if (!rows[0]?.got) return { examples, aggregates, findings };
        if (Number.isFinite(p.maxAgeMs)) {
          const cutoff = Math.floor(p.now - p.maxAgeMs);
          findings += (await c.query("DELETE FROM finding WHERE state = 'resolved' AND COALESCE(resolved_at, last_seen) < $1", [cutoff])).rowCount ?? 0;
          examples += (await c.query('DELETE FROM diff_example WHERE at < $1', [cutoff])).rowCount ?? 0;
          const gone = await c.query<{ route: string; endpoint: string; upstream: string; role: string }>(
            'DELETE FROM endpoint_aggregate WHERE last_at < $1 RETURNING route, endpoint, upstream, role',
            [cutoff],
          );
          aggregates += gone.rowCount ?? 0;
          if (gone.rows.length) await c.query(`DELETE FROM endpoint_field f USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(route, endpoint, upstream, role)
            WHERE f.route = k.route AND f.endpoint = k.endpoint AND f.upstream = k.upstream AND f.role = k.role`, keyArrays(gone.rows));
        }
        if (Number.isFinite(p.maxExamples)) {
          const { rows: count } = await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM diff_example');
          const n = count[0]?.n ?? 0;
          if (n > p.maxExamples) {
            const r = await c.query(
              `DELETE FROM diff_example WHERE (${SQL.EXAMPLE_KEY_ORDER}) IN (SELECT ${SQL.EXAMPLE_KEY_ORDER} FROM diff_example ORDER BY at, ${SQL.EXAMPLE_KEY_ORDER} LIMIT $1)`,
              [n - p.maxExamples],
            );
            examples += r.rowCount ?? 0;
          }
        }
        return { examples, aggregates, findings };
      }),
    );
  }

  size(): Promise<StoreSize> {
    return this.#read(async () => {
      const { rows } = await this.#pool.query<{ aggregates: number; examples: number; noise_marks: number; findings: number; bytes: number }>(SQL.SIZE);
      const r = rows[0]!;
      return { aggregates: r.aggregates, examples: r.examples, noiseMarks: r.noise_marks, findings: r.findings, bytes: r.bytes };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.idle();
    await Promise.allSettled([...this.#reads]);
    await this.#pool.end();
  }

  #read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError('closed', `the store at ${this.url} is closed`));
    const p = fn();
    this.#reads.add(p);
    void p.then(
      () => this.#reads.delete(p),
      () => this.#reads.delete(p),
    );
    return p;
  }
}

/** The four key columns of rows, as arrays for unnest(). */
function keyArrays(rows: readonly { route: string; endpoint: string; upstream: string; role: string }[]): string[][] {
  return [rows.map((r) => r.route), rows.map((r) => r.endpoint), rows.map((r) => r.upstream), rows.map((r) => r.role)];
}

/** A batch's examples with one row per key (a later one replaces an earlier), sorted by key. */
function lastPerKey(examples: readonly PreparedExample[]): PreparedExample[] {
  const byKey = new Map<string, PreparedExample>();
  for (const e of examples) byKey.set(e.key, e);
  return [...byKey.values()].sort((a, b) => compareTuple([a.route, a.endpoint, a.upstream, a.field, a.slot], [b.route, b.endpoint, b.upstream, b.field, b.slot]));
}

export function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  return PostgresStore.open(url, opts);
}
