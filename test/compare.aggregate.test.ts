// The aggregator: additive deltas per (route, endpoint, upstream, role), example sampling (first N, then a
// reservoir), redaction of examples, bounds, and flush.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createAggregator, parseRedactPath, redactPath, type AggregatorOptions, type ComparedTrial, type OtherSide } from '../src/compare/aggregate.ts';
import { createLatencyHistogram, decodeLatency, encodeLatency, LatencyCounts, latencyPercentiles, mergeEncodedLatency, mergeLatency, recordLatencyMs, summarizeLatency } from '../src/compare/latency.ts';
import type { CompareBatch, DiffExample, EndpointDelta, FieldDiff, PairResult } from '../src/compare/types.ts';

/** mulberry32: a seeded random in [0, 1) */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function agg(o: Partial<AggregatorOptions> = {}) {
  return createAggregator({ now: () => 1000, random: seeded(1), ...o });
}

const diff = (path: string, field = path.replace(/\[\d+\]/g, '[*]'), left: unknown = 1, right: unknown = 2): FieldDiff => ({
  path,
  field,
  kind: 'changed',
  left,
  right,
});

function result(diffs: FieldDiff[] = []): PairResult {
  return { diffs, overflow: false, bodyMode: 'json' };
}

function other(p: Partial<OtherSide> & { upstream?: string } = {}): OtherSide {
  return { upstream: 'v2', role: 'candidate', status: 200, truncated: false, failed: false, totalMs: 20, result: result(), ...p };
}

let nextId = 0;
function trial(p: Partial<ComparedTrial> = {}): ComparedTrial {
  return {
    trialId: `t${nextId++}`,
    route: 'api',
    endpoint: 'GET /users/{id}',
    at: 500,
    request: { method: 'GET', path: '/users/1', headers: ['Host', 'x'] },
    primary: { upstream: 'v1', status: 200, truncated: false, failed: false, totalMs: 10 },
    others: [other()],
    ...p,
  };
}

const find = (b: CompareBatch | undefined, upstream: string, role = 'candidate'): EndpointDelta | undefined =>
  b?.deltas.find((d) => d.upstream === upstream && d.role === role);

void describe('createAggregator: counts', () => {
  void it('counts exchanges, compared, differing, 5xx and failures per row', () => {
    const a = agg();
    a.add(trial());
    a.add(trial({ others: [other({ result: result([diff('status')]), status: 500 })] }));
    a.add(trial({ others: [other({ failed: true, status: undefined, result: undefined, totalMs: undefined })] }));
    a.add(trial({ primary: { upstream: 'v1', truncated: false, failed: true }, others: [other({ result: undefined })] }));
    a.add(trial({ primary: { upstream: 'v1', status: 503, truncated: false, failed: false, totalMs: 5 }, others: [other({ role: 'secondary', upstream: 'v1b' })] }));
    const b = a.flush()!;
    assert.equal(b.at, 1000);
    assert.deepEqual(
      b.deltas.map((d) => [d.upstream, d.role, d.exchanges, d.compared, d.differing, d.errors5xx, d.failed]),
      [
        ['v1', 'primary', 5, 0, 0, 1, 1],
        ['v1b', 'secondary', 1, 1, 0, 0, 0],
        ['v2', 'candidate', 4, 2, 1, 1, 1],
      ],
    );
    assert.deepEqual(find(b, 'v2')!.fields, { status: 1 });
    // primary latency only for trials where a candidate was compared (2 of 5), candidate latency per compared pair
    assert.equal(mergeLatency([find(b, 'v1', 'primary')!.latency]).totalCount, 2);
    assert.equal(mergeLatency([find(b, 'v2')!.latency]).totalCount, 2);
    assert.equal(mergeLatency([find(b, 'v1b', 'secondary')!.latency]).totalCount, 1);
  });

  void it('counts each distinct field once per pair', () => {
    const a = agg();
    a.add(trial({ others: [other({ result: result([diff('$.items[0].price'), diff('$.items[1].price'), diff('$.items[1].name'), diff('status')]) })] }));
    a.add(trial({ others: [other({ result: result([diff('$.items[7].price')]) })] }));
    assert.deepEqual(find(a.flush(), 'v2')!.fields, { '$.items[*].name': 1, '$.items[*].price': 2, status: 1 });
  });

  void it('counts add up over many random trials and flushes (property)', () => {
    const arbOther = fc.record({
      upstream: fc.constantFrom('v2', 'v3', 'v1b'),
      failed: fc.boolean(),
      status: fc.constantFrom(200, 404, 500, 503),
      fields: fc.uniqueArray(fc.constantFrom('status', '$.a', '$.b[*].c', 'header.etag'), { maxLength: 4 }),
    });
    const arbTrial = fc.record({
      endpoint: fc.constantFrom('GET /a', 'GET /b/{id}'),
      primaryFailed: fc.boolean(),
      others: fc.uniqueArray(arbOther, { selector: (o) => o.upstream, maxLength: 3 }),
      flushAfter: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(arbTrial, { maxLength: 40 }), (ts) => {
        const a = agg({ maxFieldsPerEndpoint: 3 });
        const batches: CompareBatch[] = [];
        const expected = new Map<string, { exchanges: number; compared: number; differing: number; failed: number; errors5xx: number; fieldTotal: number }>();
        const bump = (k: string, f: (e: { exchanges: number; compared: number; differing: number; failed: number; errors5xx: number; fieldTotal: number }) => void) => {
          let e = expected.get(k);
          if (e === undefined) expected.set(k, (e = { exchanges: 0, compared: 0, differing: 0, failed: 0, errors5xx: 0, fieldTotal: 0 }));
          f(e);
        };
        for (const t of ts) {
          const others: OtherSide[] = t.others.map((o) => {
            const answered = !o.failed && !t.primaryFailed;
            return other({
              upstream: o.upstream,
              role: o.upstream === 'v1b' ? 'secondary' : 'candidate',
              failed: o.failed,
              status: o.failed ? undefined : o.status,
              result: answered ? result(o.fields.map((f) => diff(f, f))) : undefined,
            });
          });
          a.add(trial({ endpoint: t.endpoint, primary: { upstream: 'v1', status: 200, truncated: false, failed: t.primaryFailed, totalMs: 3 }, others }));
          bump(`${t.endpoint}|v1`, (e) => {
            e.exchanges++;
            if (t.primaryFailed) e.failed++;
          });
          for (const o of others) {
            bump(`${t.endpoint}|${o.upstream}`, (e) => {
              e.exchanges++;
              if (o.failed) e.failed++;
              else if (o.status! >= 500) e.errors5xx++;
              if (o.result !== undefined) {
                e.compared++;
                if (o.result.diffs.length > 0) e.differing++;
                e.fieldTotal += o.result.diffs.length; // fields are distinct here; `other` counts once per pair
              }
            });
          }
          if (t.flushAfter) {
            const b = a.flush();
            if (b !== undefined) batches.push(b);
          }
        }
        const last = a.flush();
        if (last !== undefined) batches.push(last);
        assert.equal(a.flush(), undefined);
        const got = new Map<string, { exchanges: number; compared: number; differing: number; failed: number; errors5xx: number; fieldTotal: number }>();
        for (const b of batches) {
          for (const d of b.deltas) {
            const k = `${d.endpoint}|${d.upstream}`;
            const g = got.get(k) ?? { exchanges: 0, compared: 0, differing: 0, failed: 0, errors5xx: 0, fieldTotal: 0 };
            g.exchanges += d.exchanges;
            g.compared += d.compared;
            g.differing += d.differing;
            g.failed += d.failed;
            g.errors5xx += d.errors5xx;
            g.fieldTotal += Object.values(d.fields).reduce((x, y) => x + y, 0);
            got.set(k, g);
            assert.ok(Object.keys(d.fields).filter((f) => f !== 'other').length <= 3);
          }
        }
        for (const [k, e] of expected) {
          const g = got.get(k)!;
          assert.deepEqual({ ...g, fieldTotal: 0 }, { ...e, errors5xx: k.endsWith('|v1') ? 0 : e.errors5xx, fieldTotal: 0 }, k);
          assert.ok(g.fieldTotal <= e.fieldTotal && g.fieldTotal >= Math.min(e.fieldTotal, e.differing), k);
        }
      }),
      { numRuns: 150 },
    );
  });
});

void describe('createAggregator: flush', () => {
  void it('returns undefined when nothing happened, and resets deltas', () => {
    const a = agg();
    assert.equal(a.flush(), undefined);
    a.add(trial());
    const b1 = a.flush()!;
    assert.equal(find(b1, 'v2')!.exchanges, 1);
    assert.equal(a.flush(), undefined);
    a.add(trial());
    a.add(trial());
    assert.equal(find(a.flush(), 'v2')!.exchanges, 2);
    assert.equal(a.stats().rows, 2);
  });

  void it('latency deltas merge into the right percentiles', () => {
    const a = agg();
    const enc: string[] = [];
    for (let i = 1; i <= 1000; i++) {
      a.add(trial({ others: [other({ totalMs: i })] }));
      if (i % 100 === 0) enc.push(find(a.flush(), 'v2')!.latency);
    }
    assert.equal(enc.length, 10);
    const p = summarizeLatency(enc);
    assert.equal(p.count, 1000);
    assert.ok(Math.abs(p.p50! - 500) <= 0.5, String(p.p50));
    assert.ok(Math.abs(p.p90! - 900) <= 0.9, String(p.p90));
    assert.ok(Math.abs(p.p99! - 990) <= 1, String(p.p99));
    assert.deepEqual(summarizeLatency(''), { count: 0, p50: null, p90: null, p99: null });
  });

  void it('LatencyCounts encodes like a histogram of the same samples; bad input is skipped', () => {
    const c = new LatencyCounts();
    const h = createLatencyHistogram();
    const random = seeded(7);
    for (let i = 0; i < 5000; i++) {
      const ms = random() * random() * 2000;
      c.record(ms);
      recordLatencyMs(h, ms);
    }
    for (const bad of [NaN, -1, Infinity]) {
      c.record(bad);
      recordLatencyMs(h, bad);
    }
    assert.equal(c.count, 5000);
    assert.deepEqual(summarizeLatency(c.encode()), latencyPercentiles(h));
    assert.deepEqual(summarizeLatency([c.encode(), '', 'not base64!', encodeLatency(h)]).count, 10_000);
    assert.equal(decodeLatency('garbage'), undefined);
    assert.equal(mergeEncodedLatency(['', '']), '');
    c.clear();
    assert.equal(c.encode(), '');
    const big = new LatencyCounts();
    big.record(10 * 60_000); // 10 minutes: clamped to 60 s
    const p99 = summarizeLatency(big.encode()).p99!;
    assert.ok(p99 >= 60_000 && p99 <= 60_000 * 1.001, String(p99));
  });
});

void describe('createAggregator: examples', () => {
  const differing = (field = 'status', upstream = 'v2') => trial({ others: [other({ upstream, result: result([diff(field)]) })] });

  void it('takes the first N slots, then fills the reservoir, then samples', () => {
    const a = agg({ firstN: 2, reservoir: 3, maxExamplesPerFlush: 1000 });
    const slots: number[] = [];
    for (let i = 0; i < 5; i++) {
      a.add(differing());
      slots.push(...a.flush()!.examples.map((e) => e.slot));
    }
    assert.deepEqual(slots, [0, 1, 2, 3, 4]);
    let written = 0;
    for (let i = 0; i < 1000; i++) {
      a.add(differing());
      for (const e of a.flush()!.examples) {
        assert.ok(e.slot >= 2 && e.slot < 5);
        written++;
      }
    }
    // Algorithm R writes about reservoir * ln(n / reservoir) times after filling: 3 * ln(1003/3) ≈ 17
    assert.ok(written > 5 && written < 45, String(written));
  });

  void it('keeps separate slots per (route, endpoint, upstream, field), one example per distinct field', () => {
    const a = agg({ firstN: 1, reservoir: 0 });
    a.add(trial({ others: [other({ result: result([diff('$.a[0]'), diff('$.a[1]'), diff('status')]) }), other({ upstream: 'v1b', role: 'secondary', result: result([diff('status')]) })] }));
    const ex = a.flush()!.examples;
    assert.deepEqual(
      ex.map((e) => [e.upstream, e.role, e.field, e.slot]).sort(),
      [
        ['v1b', 'secondary', 'status', 0],
        ['v2', 'candidate', '$.a[*]', 0],
        ['v2', 'candidate', 'status', 0],
      ],
    );
    assert.equal(ex[0]!.diffs.length >= 1, true);
    a.add(differing());
    assert.equal(a.flush()!.examples.length, 0); // slot 0 already taken, no reservoir
  });

  void it('the reservoir is uniform over the stream after the first N (statistical)', () => {
    // 400 runs of a 105-example stream, firstN 5 and reservoir 20: each of the 100 later examples ends in the
    // reservoir with probability 20/100. Count, per decile of the stream, how often its examples survive.
    const runs = 400;
    const n = 100;
    const perDecile = new Array<number>(10).fill(0);
    const random = seeded(42);
    for (let run = 0; run < runs; run++) {
      const a = agg({ firstN: 5, reservoir: 20, random, maxExamplesPerFlush: 10_000 });
      const base = nextId;
      for (let i = 0; i < n + 5; i++) a.add(differing());
      const store = new Map<number, string>();
      for (const e of a.flush()!.examples) store.set(e.slot, e.trialId);
      // examples in one flush replace by slot: the survivors are what the slots hold
      const ids = [...store.entries()].filter(([slot]) => slot >= 5).map(([, id]) => id);
      assert.equal(ids.length, 20);
      for (const id of ids) {
        const pos = Number(id.slice(1)) - base - 5; // 0..99 within the stream after the first 5
        assert.ok(pos >= 0 && pos < n, String(pos));
        perDecile[Math.floor(pos / 10)]!++;
      }
    }
    // expected 400 runs * 20 slots / 10 deciles = 800 per decile; sd ≈ sqrt(800 * 0.8) ≈ 25; allow ±5 sd
    for (const c of perDecile) assert.ok(Math.abs(c - 800) < 125, perDecile.join(','));
  });

  void it('an example carries the request, both sides and the diffs', () => {
    const a = agg();
    a.add(
      trial({
        request: { method: 'POST', path: '/users/1?x=1', headers: ['Content-Type', 'application/json'], body: Buffer.from('{"a":1}') },
        primary: { upstream: 'v1', status: 200, headers: ['ETag', '"1"'], body: Buffer.from('{"v":1}'), truncated: false, failed: false, totalMs: 1 },
        others: [other({ status: 201, headers: ['ETag', '"2"'], body: Buffer.from('{"v":2}'), truncated: true, result: result([diff('$.v'), diff('status', 'status', 200, 201)]) })],
      }),
    );
    const ex = a.flush()!.examples;
    assert.equal(ex.length, 2);
    const e = ex[0]!;
    assert.deepEqual(e.request, { method: 'POST', path: '/users/1?x=1', headers: ['Content-Type', 'application/json'], body: '{"a":1}', truncated: false });
    assert.deepEqual(e.left, { status: 200, headers: ['ETag', '"1"'], body: '{"v":1}', truncated: false });
    assert.deepEqual(e.right, { status: 201, headers: ['ETag', '"2"'], body: '{"v":2}', truncated: true });
    assert.equal(e.diffs.length, 2);
    assert.equal(e.at, 500);
    assert.equal(e.route, 'api');
    assert.equal(e.endpoint, 'GET /users/{id}');
  });
});

void describe('createAggregator: redaction', () => {
  const one = (o: Partial<AggregatorOptions>, t: Partial<ComparedTrial>): DiffExample => {
    const a = agg(o);
    a.add(trial(t));
    return a.flush()!.examples[0]!;
  };

  void it('redacts secret headers on every message, and diffs of secret headers', () => {
    const e = one(
      { secretHeaders: ['X-Internal'] },
      {
        request: { method: 'GET', path: '/', headers: ['Authorization', 'Bearer abc', 'Cookie', 'sid=1', 'X-Internal', 'k', 'Accept', '*/*'] },
        primary: { upstream: 'v1', status: 200, headers: ['Set-Cookie', 'sid=2', 'X-Csrf-Token', 't'], truncated: false, failed: false },
        others: [
          other({
            headers: ['Set-Cookie', 'sid=3'],
            result: result([diff('header.set-cookie', 'header.set-cookie', 'sid=2', 'sid=3'), diff('header.etag', 'header.etag', 'a', 'b')]),
          }),
        ],
      },
    );
    assert.deepEqual(e.request.headers, ['Authorization', '[REDACTED]', 'Cookie', '[REDACTED]', 'X-Internal', '[REDACTED]', 'Accept', '*/*']);
    assert.deepEqual(e.left.headers, ['Set-Cookie', '[REDACTED]', 'X-Csrf-Token', '[REDACTED]']);
    assert.deepEqual(e.right.headers, ['Set-Cookie', '[REDACTED]']);
    assert.deepEqual(
      e.diffs.map((d) => [d.path, d.left, d.right]),
      [
        ['header.set-cookie', '[REDACTED]', '[REDACTED]'],
        ['header.etag', 'a', 'b'],
      ],
    );
  });

  void it('redacts secret-looking query values', () => {
    assert.equal(redactPath('/a?page=2&access_token=abc&api-key=k&x=1'), '/a?page=2&access_token=[REDACTED]&api-key=[REDACTED]&x=1');
    assert.equal(redactPath('/a?%73ession=1&flag'), '/a?%73ession=[REDACTED]&flag');
    assert.equal(redactPath('/a?bad=%E0%A4%A&password=p#frag'), '/a?bad=%E0%A4%A&password=[REDACTED]');
    assert.equal(redactPath('/plain'), '/plain');
    const e = one({}, { request: { method: 'GET', path: '/u?token=s3cret', headers: [] }, others: [other({ result: result([diff('status')]) })] });
    assert.equal(e.request.path, '/u?token=[REDACTED]');
  });

  void it('redacts JSON paths in bodies and in diffs', () => {
    const paths = ['$.user.password', '$..apiKey', '$.items[*].card'];
    assert.ok(paths.every((p) => parseRedactPath(p) !== undefined));
    const e = one(
      { redactJsonPaths: paths },
      {
        request: { method: 'POST', path: '/', headers: [], body: Buffer.from('{"user":{"name":"a","password":"hunter2"}}') },
        primary: {
          upstream: 'v1',
          status: 200,
          body: Buffer.from('{"deep":{"x":[{"apiKey":"k1"}]},"items":[{"card":"4111","n":1}],"ok":true}'),
          truncated: false,
          failed: false,
        },
        others: [
          other({
            body: Buffer.from('{"items":[{"card":"5500"}'), // truncated capture: does not parse
            result: result([
              diff('$.items[0].card', '$.items[*].card', '4111', '5500'),
              diff('$.user', '$.user', { name: 'a', password: 'x' }, { name: 'b', password: 'y' }),
              diff('$.deep', '$.deep', '{"x":[{"apiKey"…', 7),
              diff('$.ok', '$.ok', true, false),
            ]),
          }),
        ],
      },
    );
    assert.equal(e.request.body, '{"user":{"name":"a","password":"[REDACTED]"}}');
    assert.equal(e.left.body, '{"deep":{"x":[{"apiKey":"[REDACTED]"}]},"items":[{"card":"[REDACTED]","n":1}],"ok":true}');
    assert.match(e.right.body, /^<25 bytes of JSON withheld/);
    assert.deepEqual(
      e.diffs.map((d) => [d.path, d.left, d.right]),
      [
        ['$.items[0].card', '[REDACTED]', '[REDACTED]'],
        ['$.user', { name: 'a', password: '[REDACTED]' }, { name: 'b', password: '[REDACTED]' }],
        ['$.deep', '[REDACTED]', 7],
        ['$.ok', true, false],
      ],
    );
    // without paths a JSON body is shown as is
    const plain = one({}, { primary: { upstream: 'v1', body: Buffer.from('{"password":"p"}'), truncated: false, failed: false }, others: [other({ result: result([diff('status')]) })] });
    assert.equal(plain.left.body, '{"password":"p"}');
  });

  void it('cuts text bodies to 16 KiB at a character boundary and replaces binary bodies', () => {
    const big = Buffer.from('é'.repeat(10_000)); // 20,000 bytes
    const bin = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe]);
    const e = one({}, { primary: { upstream: 'v1', body: big, truncated: false, failed: false }, others: [other({ body: bin, result: result([diff('body')]) })] });
    assert.equal(e.left.body, 'é'.repeat(8192));
    assert.equal(e.left.truncated, true);
    assert.match(e.right.body, /^<7 bytes, sha256 [0-9a-f]{16}…>$/);
  });
});

void describe('createAggregator: bounds', () => {
  void it('counts fields past maxFieldsPerEndpoint under `other`, across flushes', () => {
    const a = agg({ maxFieldsPerEndpoint: 2 });
    a.add(trial({ others: [other({ result: result([diff('$.a'), diff('$.b'), diff('$.c'), diff('$.d')]) })] }));
    assert.deepEqual(find(a.flush(), 'v2')!.fields, { '$.a': 1, '$.b': 1, other: 1 });
    a.add(trial({ others: [other({ result: result([diff('$.e'), diff('$.a')]) })] }));
    assert.deepEqual(find(a.flush(), 'v2')!.fields, { '$.a': 1, other: 1 });
    assert.equal(a.stats().fieldsDropped, 3);
  });

  void it('stops sampling new example keys past maxExampleKeys', () => {
    const a = agg({ maxExampleKeys: 3, maxExamplesPerFlush: 1000 });
    for (let i = 0; i < 10; i++) a.add(trial({ others: [other({ result: result([diff(`$.f${i}`)]) })] }));
    const b = a.flush()!;
    assert.equal(new Set(b.examples.map((e) => e.field)).size, 3);
    assert.deepEqual(Object.keys(find(b, 'v2')!.fields).length, 10); // counting is not affected
    assert.equal(a.stats().exampleKeys, 3);
    assert.equal(a.stats().exampleKeysDropped, 7);
  });

  void it('drops examples past maxExamplesPerFlush and counts them; a rewritten slot does not grow the queue', () => {
    const a = agg({ maxExamplesPerFlush: 4, firstN: 2, reservoir: 0 });
    for (let i = 0; i < 6; i++) a.add(trial({ others: [other({ result: result([diff(`$.f${i}`)]) })] }));
    assert.equal(a.stats().examplesPending, 4);
    assert.equal(a.stats().examplesDropped, 2);
    assert.equal(a.flush()!.examples.length, 4);
    assert.equal(a.stats().examplesPending, 0);

    const r = agg({ maxExamplesPerFlush: 3, firstN: 0, reservoir: 1, random: () => 0 });
    for (let i = 0; i < 50; i++) r.add(trial({ others: [other({ result: result([diff('$.x')]) })] }));
    assert.equal(r.stats().examplesPending, 1);
    assert.equal(r.flush()!.examples[0]!.trialId, `t${nextId - 1}`); // the later example replaced the earlier one
  });

  void it('counts a trial under endpoint `other` when its rows would pass maxRows', () => {
    const a = agg({ maxRows: 4 });
    a.add(trial({ endpoint: 'GET /a' })); // 2 rows
    a.add(trial({ endpoint: 'GET /b' })); // 4 rows
    a.add(trial({ endpoint: 'GET /c' })); // would be 6: other
    a.add(trial({ endpoint: 'GET /a' })); // known rows still count under their name
    const b = a.flush()!;
    assert.deepEqual(
      b.deltas.map((d) => [d.endpoint, d.role, d.exchanges]),
      [
        ['GET /a', 'primary', 2],
        ['GET /a', 'candidate', 2],
        ['GET /b', 'primary', 1],
        ['GET /b', 'candidate', 1],
        ['other', 'primary', 1],
        ['other', 'candidate', 1],
      ],
    );
    assert.equal(a.stats().rowsOverflowed, 1);
  });
});
