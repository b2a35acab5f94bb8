// Writes per second into PostgreSQL: N concurrent writers (each its own PostgresStore and pool, standing for N
// replicas) flush realistic CompareBatches into one database as fast as they can, all on the same keys (every
// replica sees every endpoint: the contended case). Reports flushes/s, rows/s, the rows and bytes of one flush
// and the WAL the server wrote per flush. `npm run bench:pg -- [--writers 1,4,16] [--seconds 10] [--endpoints 20]`
// starts a throwaway cluster (test/helpers/pg.ts); TAPWIRE_BENCH_PG_URL=postgres://... uses a server of yours
// (the bench creates and drops a database named tapwire_bench_N there).
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { CompareBatch, DiffExample, EndpointDelta } from '../src/compare/types.ts';
import { createLatencyHistogram, encodeLatency, recordLatencyMs } from '../src/compare/latency.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { startPgCluster, type PgCluster } from '../test/helpers/pg.ts';

const { values } = parseArgs({
  options: { writers: { type: 'string', default: '1,4,16' }, seconds: { type: 'string', default: '10' }, endpoints: { type: 'string', default: '20' } },
});
const WRITERS = values.writers.split(',').map(Number);
const SECONDS = Number(values.seconds);
const ENDPOINTS = Number(values.endpoints);
/** trials one replica compares per endpoint per flush (1 s at 50 req/s per endpoint) */
const TRIALS = 50;
const EXAMPLES = 5;

let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

function latency(n: number, baseMs: number): string {
  const h = createLatencyHistogram();
  for (let i = 0; i < n; i++) recordLatencyMs(h, baseMs * (0.5 + rand() * 1.5));
  return encodeLatency(h);
}

/** One replica's flush: every endpoint × (primary, secondary, candidate), a few differing fields, a few examples. */
function flush(at: number): CompareBatch {
  const deltas: EndpointDelta[] = [];
  const examples: DiffExample[] = [];
  for (let e = 0; e < ENDPOINTS; e++) {
    const endpoint = `GET /api/v1/resource${e}/{id}`;
    const base = { route: 'api', endpoint, errors5xx: 0, failed: 0 };
    deltas.push({ ...base, upstream: 'v1', role: 'primary', exchanges: TRIALS, compared: 0, differing: 0, fields: {}, latency: latency(TRIALS, 20) });
    deltas.push({ ...base, upstream: 'v1b', role: 'secondary', exchanges: TRIALS, compared: TRIALS, differing: 10, fields: { '$.meta.generatedAt': 10 }, latency: latency(TRIALS, 20) });
    deltas.push({
      ...base,
      upstream: 'v2',
      role: 'candidate',
      exchanges: TRIALS,
      compared: TRIALS,
      differing: 12,
      fields: { '$.meta.generatedAt': 10, '$.items[*].price': 2, status: 1 },
      latency: latency(TRIALS, 22),
    });
  }
  for (let i = 0; i < EXAMPLES; i++) {
    const body = JSON.stringify({ id: i, items: Array.from({ length: 10 }, (_, k) => ({ id: k, price: 9.99 + k, name: `item ${k}` })) });
    examples.push({
      route: 'api',
      endpoint: `GET /api/v1/resource${i}/{id}`,
      upstream: 'v2',
      role: 'candidate',
      field: '$.items[*].price',
      slot: Math.floor(rand() * 25),
      trialId: `t-${at}-${i}`,
      at,
      request: { method: 'GET', path: `/api/v1/resource${i}/42`, headers: ['accept', 'application/json', 'authorization', '[REDACTED]'], body: '', truncated: false },
      left: { status: 200, headers: ['content-type', 'application/json'], body, truncated: false },
      right: { status: 200, headers: ['content-type', 'application/json'], body: body.replace('9.99', '10.99'), truncated: false },
      diffs: [{ path: '$.items[0].price', field: '$.items[*].price', kind: 'changed', left: 9.99, right: 10.99 }],
    });
  }
  return { at, deltas, examples };
}

function shape(b: CompareBatch): { rows: number; bytes: number } {
  const fieldRows = b.deltas.reduce((s, d) => s + Object.keys(d.fields).length, 0);
  const bytes = Buffer.byteLength(JSON.stringify(b));
  return { rows: b.deltas.length + fieldRows + b.examples.length, bytes };
}

async function walLsn(client: pg.Client): Promise<bigint> {
  const { rows } = await client.query<{ b: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b");
  return BigInt(rows[0]!.b.split('.')[0]!);
}

async function run(url: string, writers: number): Promise<void> {
  const stores = await Promise.all(Array.from({ length: writers }, () => PostgresStore.open(url, { poolSize: 2 })));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  // warm-up: the rows exist, as they do after the first minute of a real run
  await stores[0]!.write(flush(1));
  const batches = Array.from({ length: 32 }, (_, i) => flush(1_000 + i));
  const { rows } = shape(batches[0]!);
  const wal0 = await walLsn(admin);
  let flushes = 0;
  const lat: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    stores.map(async (s, w) => {
      for (let i = w; performance.now() < until; i++) {
        const t = performance.now();
        await s.write(batches[i % batches.length]!);
        lat.push(performance.now() - t);
        flushes++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const wal = Number((await walLsn(admin)) - wal0);
  lat.sort((a, b) => a - b);
  const [exch] = (await admin.query<{ n: string }>("SELECT SUM(exchanges)::text AS n FROM endpoint_aggregate WHERE role = 'primary'")).rows;
  const expected = (flushes + 1) * TRIALS * ENDPOINTS;
  await admin.end();
  for (const s of stores) await s.close();
  console.log(
    [
      `writers ${String(writers).padStart(3)}`,
      `flushes/s ${(flushes / secs).toFixed(1).padStart(7)}`,
      `rows/s ${((flushes * rows) / secs).toFixed(0).padStart(7)}`,
      `flush p50 ${lat[Math.floor(lat.length / 2)]!.toFixed(1)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(1)} ms`,
      `WAL/flush ${(wal / flushes / 1024).toFixed(1)} KiB`,
      // one process hosts every writer: at ~100% its own CPU (decoding and merging histograms), not PostgreSQL, is the limit
      `bench CPU ${(((cpu.user + cpu.system) / 1e6 / secs) * 100).toFixed(0)}%`,
      `sums ${Number(exch?.n) === expected ? 'exact' : `WRONG (${exch?.n} != ${expected})`}`,
    ].join(' | '),
  );
}

let cluster: PgCluster | undefined;
const external = process.env.TAPWIRE_BENCH_PG_URL;
try {
  if (!external) cluster = await startPgCluster();
  const shapeOf = shape(flush(1));
  console.log(
    `one flush: ${ENDPOINTS} endpoints x 3 roles = ${ENDPOINTS * 3} aggregate rows, ${shapeOf.rows - ENDPOINTS * 3 - EXAMPLES} field rows, ${EXAMPLES} examples: ` +
      `${shapeOf.rows} rows, ${(shapeOf.bytes / 1024).toFixed(1)} KiB of batch JSON; ${TRIALS} trials per endpoint; ${SECONDS} s per run; ${external ? 'your server' : 'throwaway cluster (fsync off)'}`,
  );
  for (const [i, n] of WRITERS.entries()) {
    const name = `tapwire_bench_${i}`;
    const base = external ?? cluster!.url('postgres');
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name}`);
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    const u = new URL(base);
    u.pathname = `/${name}`;
    await run(u.toString(), n);
    const d = new pg.Client({ connectionString: base });
    await d.connect();
    await d.query(`DROP DATABASE IF EXISTS ${name}`);
    await d.end();
  }
} finally {
  cluster?.stop();
}
