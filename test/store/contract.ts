// The Store contract: one suite every store passes (memory, SQLite, PostgreSQL later). `open` returns a
// fresh, empty store each time; the suite closes what it opens.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Finding } from '../../src/analysis/types.ts';
import type { CompareBatch, DiffExample, EndpointDelta, NoiseMark } from '../../src/compare/types.ts';
import { StoreError, type Store } from '../../src/store/types.ts';

export function hist(values: readonly number[]): string {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false });
  for (const v of values) h.recordValue(v);
  return h.totalCount === 0 ? '' : encodeIntoCompressedBase64(h);
}

const PERCENTILES = [0, 10, 50, 90, 99, 99.9, 100];
export function percentiles(encoded: string): number[] {
  const h = decodeFromCompressedBase64(encoded, 64, false);
  return [h.totalCount, ...PERCENTILES.map((p) => h.getValueAtPercentile(p))];
}

export function delta(over: Partial<EndpointDelta> = {}): EndpointDelta {
  return { route: 'users', endpoint: 'GET /users/{id}', upstream: 'v2', role: 'candidate', exchanges: 0, compared: 0, differing: 0, errors5xx: 0, failed: 0, fields: {}, latency: '', ...over };
}

export function example(over: Partial<DiffExample> = {}): DiffExample {
  return {
    route: 'users',
    endpoint: 'GET /users/{id}',
    upstream: 'v2',
    role: 'candidate',
    field: '$.name',
    slot: 0,
    trialId: 't-1',
    at: 1_000,
    request: { method: 'GET', path: '/users/7', headers: ['accept', 'application/json'], body: '', truncated: false },
    left: { status: 200, headers: ['content-type', 'application/json'], body: '{"name":"Ada"}', truncated: false },
    right: { status: 200, headers: ['content-type', 'application/json'], body: '{"name":"Grace"}', truncated: false },
    diffs: [{ path: '$.name', field: '$.name', kind: 'changed', left: 'Ada', right: 'Grace' }],
    ...over,
  };
}

export function batch(at: number, deltas: readonly EndpointDelta[] = [], examples: readonly DiffExample[] = []): CompareBatch {
  return { at, deltas, examples };
}

export function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: 'f-1',
    detector: 'flood',
    key: 'source:203.0.113.7',
    severity: 'high',
    title: 'single-source flood from 203.0.113.7: 812 req/s (baseline 3 req/s)',
    state: 'open',
    firstSeen: 1_000,
    lastSeen: 1_000,
    count: 1,
    detail: { rate: 812, baseline: 3, burst: true, unit: 'req/s' },
    evidence: [
      {
        at: 1_000,
        method: 'POST',
        target: '/login?user=ada&token=[REDACTED]',
        source: '203.0.113.7',
        headers: ['user-agent', 'curl/8.0', 'authorization', '[REDACTED]'],
        body: '{"user":"ada"}',
        status: 401,
        match: { part: 'query', name: 'user', text: 'ada' },
      },
      { at: 1_001, method: 'GET', target: '/', source: '203.0.113.7', headers: [], status: 200 },
    ],
    ...over,
  };
}

function mark(over: Partial<NoiseMark> = {}): NoiseMark {
  return { route: 'users', endpoint: '*', field: 'header.date', at: 1_000, source: 'api', ...over };
}

/** Deterministic pseudo-random latencies (µs) so runs compare the same numbers. */
function latencies(seed: number, n: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.push(50 + (x % 2_000_000));
  }
  return out;
}

export function storeContract(name: string, open: () => Promise<Store>): void {
  void describe(`Store contract: ${name}`, () => {
    const withStore = (fn: (s: Store, t: TestContext) => Promise<void>) => async (t: TestContext) => {
      const s = await open();
      try {
        await fn(s, t);
      } finally {
        await s.close();
      }
    };

    void it(
      'starts empty',
      withStore(async (s) => {
        assert.deepEqual(await s.aggregates(), []);
        assert.deepEqual(await s.examples({ endpoint: 'GET /x' }), []);
        assert.deepEqual(await s.noiseMarks(), []);
        const size = await s.size();
        assert.deepEqual([size.aggregates, size.examples, size.noiseMarks, size.findings], [0, 0, 0, 0]);
        assert.deepEqual(await s.findings(), []);
        assert.ok(['memory', 'sqlite', 'postgres'].includes(s.kind));
      }),
    );

    void it(
      'sums counters and per-field counts over several batches, and deltas of one key within a batch',
      withStore(async (s) => {
        await s.write(batch(100, [delta({ exchanges: 10, compared: 9, differing: 3, errors5xx: 1, failed: 1, fields: { '$.name': 2, status: 1 } })]));
        await s.write(batch(200, [delta({ exchanges: 5, compared: 5, differing: 2, fields: { '$.name': 1, '$.items[*].price': 2 } })]));
        await s.write(
          batch(300, [
            delta({ exchanges: 1, compared: 1, differing: 1, errors5xx: 2, fields: { status: 4 } }),
            delta({ exchanges: 2, failed: 3, fields: { status: 1 } }),
          ]),
        );
        const rows = await s.aggregates();
        assert.equal(rows.length, 1);
        const r = rows[0]!;
        assert.deepEqual(
          { route: r.route, endpoint: r.endpoint, upstream: r.upstream, role: r.role },
          { route: 'users', endpoint: 'GET /users/{id}', upstream: 'v2', role: 'candidate' },
        );
        assert.deepEqual([r.exchanges, r.compared, r.differing, r.errors5xx, r.failed], [18, 15, 6, 3, 4]);
        assert.deepEqual(r.fields, { '$.items[*].price': 2, '$.name': 3, status: 6 });
        assert.equal(r.latency, '');
      }),
    );

    void it(
      'keeps roles and upstreams apart, and orders rows by route, endpoint, upstream, role',
      withStore(async (s) => {
        await s.write(
          batch(100, [
            delta({ route: 'b', upstream: 'v2', role: 'candidate', exchanges: 1 }),
            delta({ route: 'a', upstream: 'v1', role: 'primary', exchanges: 2 }),
            delta({ route: 'a', upstream: 'v1b', role: 'secondary', exchanges: 3 }),
            delta({ route: 'a', upstream: 'v2', role: 'candidate', exchanges: 4 }),
            delta({ route: 'a', endpoint: 'GET /a', upstream: 'v2', role: 'candidate', exchanges: 5 }),
          ]),
        );
        const rows = await s.aggregates();
        assert.deepEqual(
          rows.map((r) => [r.route, r.endpoint, r.upstream, r.role, r.exchanges]),
          [
            ['a', 'GET /a', 'v2', 'candidate', 5],
            ['a', 'GET /users/{id}', 'v1', 'primary', 2],
            ['a', 'GET /users/{id}', 'v1b', 'secondary', 3],
            ['a', 'GET /users/{id}', 'v2', 'candidate', 4],
            ['b', 'GET /users/{id}', 'v2', 'candidate', 1],
          ],
        );
      }),
    );

    void it(
      'merges HDR histograms: percentiles of the merge equal those of one histogram holding every value',
      withStore(async (s) => {
        const a = latencies(1, 500);
        const b = latencies(2, 300);
        const c = latencies(3, 200);
        await s.write(batch(100, [delta({ role: 'primary', upstream: 'v1', exchanges: 500, latency: hist(a) })]));
        await s.write(batch(200, [delta({ role: 'primary', upstream: 'v1', exchanges: 300, latency: hist(b) })]));
        // an empty histogram in a later delta leaves the merge as it was; two deltas of one key in a batch merge too
        await s.write(
          batch(300, [
            delta({ role: 'primary', upstream: 'v1', exchanges: 0, latency: '' }),
            delta({ role: 'primary', upstream: 'v1', exchanges: 200, latency: hist(c.slice(0, 100)) }),
            delta({ role: 'primary', upstream: 'v1', latency: hist(c.slice(100)) }),
          ]),
        );
        const [r] = await s.aggregates();
        assert.ok(r);
        assert.equal(r.exchanges, 1000);
        assert.deepEqual(percentiles(r.latency), percentiles(hist([...a, ...b, ...c])));
        // and the stored string itself decodes to the standard shape
        const h = decodeFromCompressedBase64(r.latency, 64, false);
        assert.equal(h.highestTrackableValue >= 60_000_000, true);
      }),
    );

    void it(
      'keeps the earliest firstAt and the latest lastAt, whatever order batches arrive in',
      withStore(async (s) => {
        await s.write(batch(500, [delta({ exchanges: 1 })]));
        await s.write(batch(200, [delta({ exchanges: 1 })]));
        await s.write(batch(900, [delta({ exchanges: 1 })]));
        await s.write(batch(700, [delta({ exchanges: 1 }), delta({ endpoint: 'GET /other', exchanges: 1 })]));
        const rows = await s.aggregates();
        assert.deepEqual(
          rows.map((r) => [r.endpoint, r.firstAt, r.lastAt, r.exchanges]),
          [
            ['GET /other', 700, 700, 1],
            ['GET /users/{id}', 200, 900, 4],
          ],
        );
      }),
    );

    void it(
      'filters aggregates by route, endpoint, or both',
      withStore(async (s) => {
        await s.write(
          batch(100, [
            delta({ route: 'a', endpoint: 'GET /x', exchanges: 1, fields: { f: 1 } }),
            delta({ route: 'a', endpoint: 'GET /y', exchanges: 2, fields: { g: 1 } }),
            delta({ route: 'b', endpoint: 'GET /x', exchanges: 3, fields: { h: 1 } }),
          ]),
        );
        const pick = (rows: { route: string; endpoint: string; fields: object }[]) => rows.map((r) => [r.route, r.endpoint, Object.keys(r.fields).join()]);
        assert.deepEqual(pick(await s.aggregates({ route: 'a' })), [
          ['a', 'GET /x', 'f'],
          ['a', 'GET /y', 'g'],
        ]);
        assert.deepEqual(pick(await s.aggregates({ endpoint: 'GET /x' })), [
          ['a', 'GET /x', 'f'],
          ['b', 'GET /x', 'h'],
        ]);
        assert.deepEqual(pick(await s.aggregates({ route: 'b', endpoint: 'GET /x' })), [['b', 'GET /x', 'h']]);
        assert.deepEqual(await s.aggregates({ route: 'nope' }), []);
        assert.equal((await s.aggregates({})).length, 3);
      }),
    );

    void it(
      'round-trips an example exactly, and writing its slot again replaces it',
      withStore(async (s) => {
        const first = example({ trialId: 't-1', at: 1_000 });
        await s.write(batch(1_000, [], [first]));
        assert.deepEqual(await s.examples({ endpoint: first.endpoint }), [first]);
        const second = example({
          trialId: 't-2',
          at: 2_000,
          role: 'secondary',
          right: { status: 500, headers: [], body: '<12 bytes, sha256 ab>', truncated: true },
          diffs: [{ path: 'status', field: 'status', kind: 'changed', left: 200, right: 500 }],
        });
        await s.write(batch(2_000, [], [second]));
        assert.deepEqual(await s.examples({ endpoint: first.endpoint }), [second]);
        await s.write(batch(3_000, [], [example({ slot: 1, trialId: 't-3', at: 500 })]));
        assert.deepEqual(
          (await s.examples({ endpoint: first.endpoint })).map((e) => [e.slot, e.trialId]),
          [
            [0, 't-2'],
            [1, 't-3'],
          ],
        );
        assert.equal((await s.size()).examples, 2);
      }),
    );

    void it(
      'returns examples newest first, filtered by route, field and upstream, within the limit (default 20, at most 200)',
      withStore(async (s) => {
        const many: DiffExample[] = [];
        for (let i = 0; i < 250; i++) many.push(example({ slot: i, at: 10_000 + i, trialId: `t-${i}` }));
        await s.write(batch(1, [], many));
        await s.write(
          batch(2, [], [
            example({ field: 'status', slot: 0, at: 5, trialId: 'f' }),
            example({ upstream: 'v3', slot: 0, at: 6, trialId: 'u' }),
            example({ route: 'other', slot: 0, at: 7, trialId: 'r' }),
            example({ endpoint: 'GET /elsewhere', slot: 0, at: 8, trialId: 'e' }),
          ]),
        );
        const ep = 'GET /users/{id}';
        const def = await s.examples({ endpoint: ep });
        assert.equal(def.length, 20);
        assert.deepEqual(
          def.slice(0, 3).map((e) => e.at),
          [10_249, 10_248, 10_247],
        );
        assert.equal((await s.examples({ endpoint: ep, limit: 1000 })).length, 200);
        assert.equal((await s.examples({ endpoint: ep, limit: 3 })).length, 3);
        assert.deepEqual(await s.examples({ endpoint: ep, limit: 0 }), []);
        const all = await s.examples({ endpoint: ep, limit: 200 });
        for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.at >= all[i]!.at, 'newest first');
        assert.deepEqual(
          (await s.examples({ endpoint: ep, field: 'status' })).map((e) => e.trialId),
          ['f'],
        );
        assert.deepEqual(
          (await s.examples({ endpoint: ep, upstream: 'v3' })).map((e) => e.trialId),
          ['u'],
        );
        assert.deepEqual(
          (await s.examples({ endpoint: ep, route: 'other' })).map((e) => e.trialId),
          ['r'],
        );
        assert.deepEqual(
          (await s.examples({ endpoint: 'GET /elsewhere' })).map((e) => e.trialId),
          ['e'],
        );
        // without a route, an endpoint's examples of every route
        const lowest = await s.examples({ endpoint: ep, limit: 200 });
        assert.ok(!lowest.some((e) => e.endpoint !== ep));
      }),
    );

    void it(
      'breaks ties of `at` by route, endpoint, upstream, field, slot',
      withStore(async (s) => {
        await s.write(
          batch(1, [], [
            example({ upstream: 'b', slot: 1, at: 9, trialId: 'b1' }),
            example({ upstream: 'a', slot: 2, at: 9, trialId: 'a2' }),
            example({ upstream: 'a', slot: 1, at: 9, trialId: 'a1' }),
            example({ upstream: 'a', field: '$.a', slot: 5, at: 9, trialId: 'a$' }),
          ]),
        );
        assert.deepEqual(
          (await s.examples({ endpoint: 'GET /users/{id}' })).map((e) => e.trialId),
          ['a$', 'a1', 'a2', 'b1'],
        );
      }),
    );

    void it(
      'marks noise idempotently, lists marks per route, and unmarks',
      withStore(async (s) => {
        await s.markNoise(mark({ at: 1 }));
        await s.markNoise(mark({ at: 2, source: 'config' }));
        await s.markNoise(mark({ field: '$.ts', endpoint: 'GET /x' }));
        await s.markNoise(mark({ route: 'orders', field: '$.id' }));
        const marks = await s.noiseMarks();
        assert.deepEqual(marks, [
          { route: 'orders', endpoint: '*', field: '$.id', at: 1_000, source: 'api' },
          { route: 'users', endpoint: '*', field: 'header.date', at: 1, source: 'api' },
          { route: 'users', endpoint: 'GET /x', field: '$.ts', at: 1_000, source: 'api' },
        ]);
        assert.deepEqual(
          (await s.noiseMarks('users')).map((m) => m.field),
          ['header.date', '$.ts'],
        );
        assert.deepEqual(await s.noiseMarks('nope'), []);
        assert.equal(await s.unmarkNoise({ route: 'users', endpoint: '*', field: 'header.date' }), true);
        assert.equal(await s.unmarkNoise({ route: 'users', endpoint: '*', field: 'header.date' }), false);
        assert.equal((await s.size()).noiseMarks, 2);
        await assert.rejects(s.markNoise(mark({ field: '' })), (e: unknown) => e instanceof StoreError && e.reason === 'invalid_argument');
      }),
    );

    void it(
      'resets one endpoint, one route, or everything, and leaves noise marks alone',
      withStore(async (s) => {
        const seed = () =>
          s.write(
            batch(
              100,
              [
                delta({ route: 'a', endpoint: 'GET /x', exchanges: 1, fields: { f: 1 } }),
                delta({ route: 'a', endpoint: 'GET /y', exchanges: 1 }),
                delta({ route: 'b', endpoint: 'GET /x', exchanges: 1 }),
              ],
              [example({ route: 'a', endpoint: 'GET /x' }), example({ route: 'a', endpoint: 'GET /y' }), example({ route: 'b', endpoint: 'GET /x' })],
            ),
          );
        await s.markNoise(mark());
        await seed();
        assert.equal(await s.reset({ route: 'a', endpoint: 'GET /x' }), 2);
        assert.deepEqual(
          (await s.aggregates()).map((r) => `${r.route} ${r.endpoint}`),
          ['a GET /y', 'b GET /x'],
        );
        assert.deepEqual(await s.examples({ endpoint: 'GET /x', route: 'a' }), []);
        assert.equal((await s.examples({ endpoint: 'GET /x' })).length, 1);
        // the field counts went with the row: writing the key again starts from zero
        await s.write(batch(200, [delta({ route: 'a', endpoint: 'GET /x', exchanges: 1 })]));
        assert.deepEqual((await s.aggregates({ route: 'a', endpoint: 'GET /x' }))[0]!.fields, {});
        assert.equal(await s.reset({ route: 'a' }), 3);
        assert.deepEqual(
          (await s.aggregates()).map((r) => r.route),
          ['b'],
        );
        await seed();
        assert.equal(await s.reset(), 6);
        assert.deepEqual(await s.aggregates(), []);
        assert.equal((await s.size()).examples, 0);
        assert.equal((await s.noiseMarks()).length, 1);
        assert.equal(await s.reset(), 0);
      }),
    );

    void it(
      'prunes examples and aggregates older than maxAgeMs',
      withStore(async (s) => {
        await s.write(batch(100, [delta({ endpoint: 'GET /old', exchanges: 1, fields: { f: 1 } })], [example({ at: 100, slot: 0 }), example({ at: 899, slot: 1 })]));
        await s.write(batch(900, [delta({ endpoint: 'GET /new', exchanges: 1 })], [example({ at: 900, slot: 2 }), example({ at: 950, slot: 3 })]));
        await s.write(batch(50, [delta({ endpoint: 'GET /new', exchanges: 1 })])); // firstAt goes back; lastAt stays 900
        const res = await s.prune({ now: 1_000, maxAgeMs: 100, maxExamples: Infinity });
        assert.deepEqual(res, { examples: 2, aggregates: 1, findings: 0 });
        assert.deepEqual(
          (await s.aggregates()).map((r) => r.endpoint),
          ['GET /new'],
        );
        assert.deepEqual(
          (await s.examples({ endpoint: 'GET /users/{id}' })).map((e) => e.at),
          [950, 900],
        );
        // a pruned key written again starts from zero, field counts included
        await s.write(batch(1_000, [delta({ endpoint: 'GET /old', exchanges: 1 })]));
        const old = (await s.aggregates({ endpoint: 'GET /old' }))[0]!;
        assert.deepEqual([old.exchanges, old.fields, old.firstAt], [1, {}, 1_000]);
        assert.deepEqual(await s.prune({ now: 1_000, maxAgeMs: Infinity, maxExamples: Infinity }), { examples: 0, aggregates: 0, findings: 0 });
      }),
    );

    void it(
      'prunes examples down to maxExamples, the oldest first',
      withStore(async (s) => {
        const ex: DiffExample[] = [];
        for (let i = 0; i < 10; i++) ex.push(example({ slot: i, at: [5, 1, 9, 3, 7, 2, 8, 4, 6, 0][i]!, trialId: `t${i}` }));
        await s.write(batch(1, [delta({ exchanges: 1 })], ex));
        assert.deepEqual(await s.prune({ now: 10, maxAgeMs: Infinity, maxExamples: 3 }), { examples: 7, aggregates: 0, findings: 0 });
        assert.deepEqual(
          (await s.examples({ endpoint: 'GET /users/{id}' })).map((e) => e.at),
          [9, 8, 7],
        );
        assert.deepEqual(await s.prune({ now: 10, maxAgeMs: Infinity, maxExamples: 3 }), { examples: 0, aggregates: 0, findings: 0 });
        assert.deepEqual(await s.prune({ now: 10, maxAgeMs: Infinity, maxExamples: 0 }), { examples: 3, aggregates: 0, findings: 0 });
        assert.equal((await s.aggregates()).length, 1, 'count pruning never touches aggregates');
        await assert.rejects(s.prune({ now: 10, maxAgeMs: Number.NaN, maxExamples: 1 }), (e: unknown) => e instanceof StoreError && e.reason === 'invalid_argument');
        await assert.rejects(s.prune({ now: 10, maxAgeMs: 1, maxExamples: -1 }), StoreError);
      }),
    );

    void it(
      'rejects an invalid batch as a whole and writes nothing of it',
      withStore(async (s) => {
        await s.write(batch(100, [delta({ exchanges: 1, latency: hist([10]) })], [example()]));
        const before = { aggregates: await s.aggregates(), examples: await s.examples({ endpoint: 'GET /users/{id}' }), size: await s.size() };
        const valid = delta({ exchanges: 5, fields: { f: 1 }, latency: hist([20]) });
        const bad: [string, CompareBatch][] = [
          ['a latency that is not a histogram', batch(200, [valid, delta({ endpoint: 'GET /new', latency: 'not-a-histogram' })], [example({ slot: 9 })])],
          ['a truncated histogram', batch(200, [valid, delta({ latency: hist([1, 2, 3]).slice(0, 40) })])],
          ['a histogram beyond 60 s', batch(200, [valid, delta({ latency: outOfRangeHistogram() })])],
          ['a negative counter', batch(200, [valid, delta({ exchanges: -1 })])],
          ['a fractional counter', batch(200, [valid, delta({ compared: 1.5 })])],
          ['a NaN field count', batch(200, [valid, delta({ fields: { f: Number.NaN } })])],
          ['an unknown role', batch(200, [valid, delta({ role: 'boss' as never })])],
          ['an empty route', batch(200, [valid, delta({ route: '' })])],
          ['a fractional epoch', batch(200.5, [valid])],
          ['an example that cannot be JSON', batch(200, [valid], [example({ slot: 9 }), example({ slot: 8, diffs: [{ path: 'x', field: 'x', kind: 'changed', left: 1n }] })])],
          ['an example with a negative slot', batch(200, [valid], [example({ slot: -1 })])],
          ['an example for the primary', batch(200, [valid], [example({ role: 'primary' as never })])],
        ];
        for (const [why, b] of bad) {
          await assert.rejects(s.write(b), (e: unknown) => e instanceof StoreError && e.reason === 'invalid_batch' && e.code === 'TW_ERR_STORE', why);
        }
        assert.deepEqual(await s.aggregates(), before.aggregates);
        assert.deepEqual(await s.examples({ endpoint: 'GET /users/{id}' }), before.examples);
        assert.deepEqual(await s.size().then((z) => ({ ...z, bytes: undefined })), { ...before.size, bytes: undefined });
        // and the store still works
        await s.write(batch(300, [valid]));
        assert.equal((await s.aggregates())[0]!.exchanges, 6);
      }),
    );

    void it(
      'reports its size',
      withStore(async (s) => {
        await s.write(batch(1, [delta({ exchanges: 1 }), delta({ role: 'secondary', upstream: 'v1b', exchanges: 1 })], [example({ slot: 0 }), example({ slot: 1 }), example({ slot: 2 })]));
        await s.markNoise(mark());
        const size = await s.size();
        assert.deepEqual([size.aggregates, size.examples, size.noiseMarks], [2, 3, 1]);
        if (size.bytes !== undefined) assert.ok(size.bytes > 0);
      }),
    );

    void it(
      'round-trips a finding exactly, and writing its id again replaces it',
      withStore(async (s) => {
        const f = finding();
        await s.writeFindings([f]);
        assert.deepEqual(await s.finding('f-1'), f);
        assert.deepEqual(await s.findings(), [f]);
        assert.equal(await s.finding('nope'), undefined);
        const resolved = finding({ state: 'resolved', severity: 'critical', lastSeen: 5_000, resolvedAt: 65_000, count: 40, detail: { rate: 2 }, evidence: [] });
        await s.writeFindings([resolved]);
        assert.deepEqual(await s.finding('f-1'), resolved);
        assert.deepEqual(await s.findings({ state: 'resolved' }), [resolved]);
        assert.equal((await s.size()).findings, 1);
        // resolvedAt absent stays absent (never null), and the returned objects are copies
        const back = (await s.findings({ state: 'resolved' }))[0]!;
        (back.evidence as unknown[]).length = 0;
        assert.equal((await s.finding('f-1'))!.resolvedAt, 65_000);
        await s.writeFindings([finding({ id: 'f-2' })]);
        assert.ok(!('resolvedAt' in (await s.finding('f-2'))!));
        assert.deepEqual(await s.writeFindings([]), undefined);
      }),
    );

    void it(
      'filters findings by state (active: open + ongoing), detector and since; newest lastSeen first, ties by id; limit 50 by default, at most 500',
      withStore(async (s) => {
        await s.writeFindings([
          finding({ id: 'a', state: 'open', detector: 'flood', lastSeen: 300 }),
          finding({ id: 'b', state: 'ongoing', detector: 'scan', lastSeen: 500 }),
          finding({ id: 'c', state: 'resolved', detector: 'flood', lastSeen: 400, resolvedAt: 460 }),
          finding({ id: 'e', state: 'ongoing', detector: 'flood', lastSeen: 300 }),
          finding({ id: 'd', state: 'open', detector: 'signature', lastSeen: 300 }),
        ]);
        const ids = (fs: Finding[]) => fs.map((f) => f.id);
        assert.deepEqual(ids(await s.findings()), ['b', 'c', 'a', 'd', 'e']);
        assert.deepEqual(ids(await s.findings({ state: 'active' })), ['b', 'a', 'd', 'e']);
        assert.deepEqual(ids(await s.findings({ state: 'open' })), ['a', 'd']);
        assert.deepEqual(ids(await s.findings({ state: 'ongoing' })), ['b', 'e']);
        assert.deepEqual(ids(await s.findings({ state: 'resolved' })), ['c']);
        assert.deepEqual(ids(await s.findings({ detector: 'flood' })), ['c', 'a', 'e']);
        assert.deepEqual(ids(await s.findings({ detector: 'flood', state: 'active' })), ['a', 'e']);
        assert.deepEqual(ids(await s.findings({ since: 400 })), ['b', 'c']);
        assert.deepEqual(ids(await s.findings({ since: 400, state: 'active', detector: 'scan' })), ['b']);
        assert.deepEqual(ids(await s.findings({ limit: 2 })), ['b', 'c']);
        assert.deepEqual(await s.findings({ limit: 0 }), []);
        assert.deepEqual(await s.findings({ detector: 'rate_spike' }), []);

        const many: Finding[] = [];
        for (let i = 0; i < 620; i++) many.push(finding({ id: `m${String(i).padStart(3, '0')}`, lastSeen: 10_000 + i, evidence: [] }));
        await s.writeFindings(many);
        const def = await s.findings();
        assert.equal(def.length, 50);
        assert.deepEqual(ids(def.slice(0, 2)), ['m619', 'm618']);
        assert.equal((await s.findings({ limit: 10_000 })).length, 500);
        assert.equal((await s.size()).findings, 625);

        const invalid = (e: unknown) => e instanceof StoreError && e.reason === 'invalid_argument';
        await assert.rejects(s.findings({ state: 'closed' as never }), invalid);
        await assert.rejects(s.findings({ since: Number.NaN }), invalid);
      }),
    );

    void it(
      'rejects invalid findings as a whole and writes none of them',
      withStore(async (s) => {
        await s.writeFindings([finding({ id: 'kept' })]);
        const bad: [string, Finding][] = [
          ['an unknown severity', finding({ id: 'x', severity: 'urgent' as never })],
          ['an unknown state', finding({ id: 'x', state: 'closed' as never })],
          ['an empty id', finding({ id: '' })],
          ['a fractional epoch', finding({ id: 'x', lastSeen: 1.5 })],
          ['a negative count', finding({ id: 'x', count: -1 })],
          ['a detail that cannot be JSON', finding({ id: 'x', detail: { n: 1n as never } })],
          ['evidence that is not a list', finding({ id: 'x', evidence: {} as never })],
        ];
        for (const [why, f] of bad) {
          await assert.rejects(s.writeFindings([finding({ id: 'first', title: 'changed' }), f]), (e: unknown) => e instanceof StoreError && e.reason === 'invalid_batch', why);
        }
        assert.deepEqual(
          (await s.findings({ limit: 500 })).map((f) => [f.id, f.title]),
          [['kept', finding().title]],
        );
      }),
    );

    void it(
      'prunes resolved findings by resolvedAt (else lastSeen), never open or ongoing ones',
      withStore(async (s) => {
        await s.writeFindings([
          finding({ id: 'old-resolved', state: 'resolved', lastSeen: 100, resolvedAt: 160 }),
          finding({ id: 'resolved-late', state: 'resolved', lastSeen: 100, resolvedAt: 950 }),
          finding({ id: 'no-resolved-at', state: 'resolved', lastSeen: 200 }),
          finding({ id: 'old-open', state: 'open', lastSeen: 100 }),
          finding({ id: 'old-ongoing', state: 'ongoing', lastSeen: 100 }),
        ]);
        assert.deepEqual(await s.prune({ now: 1_000, maxAgeMs: Infinity, maxExamples: Infinity }), { examples: 0, aggregates: 0, findings: 0 });
        assert.deepEqual(await s.prune({ now: 1_000, maxAgeMs: 100, maxExamples: 0 }), { examples: 0, aggregates: 0, findings: 2 });
        assert.deepEqual(
          (await s.findings()).map((f) => f.id),
          ['old-ongoing', 'old-open', 'resolved-late'], // one lastSeen: by id
        );
        assert.equal((await s.size()).findings, 3);
      }),
    );

    void it(
      'applies findings writes in call order, and rejects them once closed',
      withStore(async (s) => {
        const writes: Promise<void>[] = [];
        for (let i = 1; i <= 30; i++) writes.push(s.writeFindings([finding({ count: i, lastSeen: 1_000 + i, state: i === 1 ? 'open' : 'ongoing' })]));
        await Promise.all(writes);
        const f = (await s.finding('f-1'))!;
        assert.deepEqual([f.count, f.lastSeen, f.state], [30, 1_030, 'ongoing']);
        const pending = s.writeFindings([finding({ id: 'late' })]);
        await s.close();
        await pending;
        const closed = (e: unknown) => e instanceof StoreError && e.reason === 'closed';
        await assert.rejects(s.writeFindings([finding()]), closed);
        await assert.rejects(s.findings(), closed);
        await assert.rejects(s.finding('f-1'), closed);
      }),
    );

    void it(
      'lands every one of many concurrent writes',
      withStore(async (s) => {
        const n = 60;
        const values = latencies(9, n);
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            s.write(
              batch(
                1_000 + i,
                [delta({ exchanges: 1, compared: 1, differing: i % 2, fields: { [`f${i % 3}`]: 1 }, latency: hist([values[i]!]) })],
                [example({ slot: i % 7, at: 1_000 + i, trialId: `t${i}` })],
              ),
            ),
          ),
        );
        const [r] = await s.aggregates();
        assert.ok(r);
        assert.deepEqual([r.exchanges, r.compared, r.differing, r.firstAt, r.lastAt], [n, n, n / 2, 1_000, 1_000 + n - 1]);
        assert.deepEqual(r.fields, { f0: 20, f1: 20, f2: 20 });
        assert.deepEqual(percentiles(r.latency), percentiles(hist(values)));
        const ex = await s.examples({ endpoint: 'GET /users/{id}' });
        assert.equal(ex.length, 7);
        // calls apply in order: each slot holds the last write to it
        assert.deepEqual(
          ex.map((e) => e.trialId),
          ['t59', 't58', 't57', 't56', 't55', 't54', 't53'],
        );
      }),
    );

    void it(
      'rejects every call once closed; closing twice is harmless',
      withStore(async (s) => {
        const pending = s.write(batch(1, [delta({ exchanges: 1 })]));
        await s.close();
        await pending; // a write called before close() lands
        await s.close();
        const closed = (e: unknown) => e instanceof StoreError && e.reason === 'closed';
        await assert.rejects(s.write(batch(2, [delta()])), closed);
        await assert.rejects(s.aggregates(), closed);
        await assert.rejects(s.examples({ endpoint: 'x' }), closed);
        await assert.rejects(s.noiseMarks(), closed);
        await assert.rejects(s.markNoise(mark()), closed);
        await assert.rejects(s.unmarkNoise(mark()), closed);
        await assert.rejects(s.reset(), closed);
        await assert.rejects(s.prune({ now: 1, maxAgeMs: 1, maxExamples: 1 }), closed);
        await assert.rejects(s.size(), closed);
      }),
    );

    void it(
      'writes a batch of 1,000 deltas (timing logged, not asserted)',
      withStore(async (s, t) => {
        const mk = (seed: number) =>
          Array.from({ length: 1_000 }, (_, i) =>
            delta({ endpoint: `GET /e${i % 250}`, upstream: `u${Math.floor(i / 250)}`, exchanges: 100, compared: 100, differing: 3, fields: { '$.a': 2, '$.b[*].c': 1 }, latency: hist(latencies(seed + i, 100)) }),
          );
        const first = mk(1);
        const second = mk(5_000);
        const loop = monitorEventLoopDelay({ resolution: 1 });
        loop.enable();
        let t0 = performance.now();
        await s.write(batch(1, first));
        const fresh = performance.now() - t0;
        t0 = performance.now();
        await s.write(batch(2, second));
        const merging = performance.now() - t0;
        loop.disable();
        const [r] = await s.aggregates({ endpoint: 'GET /e0' });
        assert.equal(r!.exchanges, 200);
        t.diagnostic(
          `${name}: 1,000 deltas (100-sample histograms, 2 fields): new keys ${fresh.toFixed(0)} ms, merging into existing ${merging.toFixed(0)} ms, longest event-loop stall ${(loop.max / 1e6).toFixed(1)} ms`,
        );
      }),
    );
  });
}

/** A valid histogram whose range goes past 60 s, with a value out there. */
function outOfRangeHistogram(): string {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false });
  h.recordValue(300_000_000);
  return encodeIntoCompressedBase64(h);
}
