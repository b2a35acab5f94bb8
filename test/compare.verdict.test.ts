// The noise model (Diffy's thresholds, marks) and the verdict computed from summed endpoint rows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLatencyHistogram, encodeLatency, recordLatencyMs } from '../src/compare/latency.ts';
import { fieldCovers, isMarkedNoise, isRegression } from '../src/compare/noise.ts';
import { DEFAULT_THRESHOLDS, type EndpointAggregate, type NoiseMark, type Role, type Thresholds } from '../src/compare/types.ts';
import { computeVerdict } from '../src/compare/verdict.ts';

const T: Thresholds = DEFAULT_THRESHOLDS;

void describe('isRegression (Diffy thresholds)', () => {
  void it('a raw rate the noise explains is not a regression', () => {
    assert.equal(isRegression({ raw: 50, compared: 100, noise: 48, noiseCompared: 100 }, T), false);
  });
  void it('a raw rate without noise is', () => {
    assert.equal(isRegression({ raw: 50, compared: 100, noise: 0, noiseCompared: 100 }, T), true);
    assert.equal(isRegression({ raw: 50, compared: 100, noise: 0, noiseCompared: 0 }, T), true); // no secondary
  });
  void it('needs raw above noise, relative above 20% and absolute above 0.03%', () => {
    assert.equal(isRegression({ raw: 10, compared: 100, noise: 20, noiseCompared: 100 }, T), false); // below noise
    assert.equal(isRegression({ raw: 60, compared: 100, noise: 40, noiseCompared: 100 }, T), false); // relative 0.2, not above
    assert.equal(isRegression({ raw: 61, compared: 100, noise: 40, noiseCompared: 100 }, T), true);
    assert.equal(isRegression({ raw: 2, compared: 10_000, noise: 0, noiseCompared: 10_000 }, T), false); // 0.02% absolute
    assert.equal(isRegression({ raw: 4, compared: 10_000, noise: 0, noiseCompared: 10_000 }, T), true); // 0.04%
    assert.equal(isRegression({ raw: 0, compared: 0, noise: 0, noiseCompared: 0 }, T), false);
  });
  void it('compares rates when the secondary saw a different number of pairs', () => {
    assert.equal(isRegression({ raw: 50, compared: 100, noise: 480, noiseCompared: 1000 }, T), false);
    assert.equal(isRegression({ raw: 50, compared: 100, noise: 50, noiseCompared: 1000 }, T), true);
  });
});

void describe('noise marks', () => {
  const mark = (field: string, endpoint = '*', route = 'api'): NoiseMark => ({ route, endpoint, field, at: 0, source: 'api' });

  void it('a mark covers itself and what it prefixes at a path boundary', () => {
    assert.equal(fieldCovers('$.meta', '$.meta'), true);
    assert.equal(fieldCovers('$.meta', '$.meta.generatedAt'), true);
    assert.equal(fieldCovers('$.meta', '$.meta[*].x'), true);
    assert.equal(fieldCovers('$.meta', '$.metadata'), false);
    assert.equal(fieldCovers('header', 'header.date'), true);
    assert.equal(fieldCovers('header.date', 'header.dates'), false);
    assert.equal(fieldCovers('text', 'text:12'), true);
  });
  void it('matches by route, and by endpoint or *', () => {
    const marks = [mark('$.meta', 'GET /a'), mark('header.date')];
    assert.equal(isMarkedNoise('$.meta.x', 'GET /a', 'api', marks), true);
    assert.equal(isMarkedNoise('$.meta.x', 'GET /b', 'api', marks), false);
    assert.equal(isMarkedNoise('header.date', 'GET /b', 'api', marks), true);
    assert.equal(isMarkedNoise('header.date', 'GET /b', 'other-route', marks), false);
    assert.equal(isMarkedNoise('$.metadata', 'GET /a', 'api', marks), false);
  });
});

function hist(valuesMs: readonly number[]): string {
  const h = createLatencyHistogram();
  for (const v of valuesMs) recordLatencyMs(h, v);
  return encodeLatency(h);
}

const many = (n: number, ms: number) => Array.from({ length: n }, () => ms);

function row(role: Role, upstream: string, p: Partial<EndpointAggregate> = {}): EndpointAggregate {
  return {
    route: 'api',
    endpoint: 'GET /users/{id}',
    upstream,
    role,
    exchanges: 0,
    compared: 0,
    differing: 0,
    errors5xx: 0,
    failed: 0,
    fields: {},
    latency: '',
    firstAt: 1,
    lastAt: 2,
    ...p,
  };
}

/** a healthy endpoint: 200 requests, candidate and primary equally fast, no differences */
function healthy(p: { candidate?: Partial<EndpointAggregate>; primary?: Partial<EndpointAggregate>; secondary?: Partial<EndpointAggregate> } = {}) {
  return [
    row('primary', 'v1', { exchanges: 200, latency: hist(many(200, 10)), ...p.primary }),
    row('secondary', 'v1b', { exchanges: 200, compared: 200, ...p.secondary }),
    row('candidate', 'v2', { exchanges: 200, compared: 200, latency: hist(many(200, 10)), ...p.candidate }),
  ];
}

void describe('computeVerdict', () => {
  void it('passes a healthy endpoint, with its figures', () => {
    const r = computeVerdict(healthy(), [], T, 1234);
    assert.equal(r.verdict, 'pass');
    assert.equal(r.generatedAt, 1234);
    assert.deepEqual(r.summary, { endpoints: 1, pass: 1, fail: 0, insufficient_data: 0 });
    const e = r.endpoints[0]!;
    assert.equal(e.upstream, 'v2');
    assert.deepEqual(e.reasons, []);
    assert.equal(e.compared, 200);
    assert.equal(e.noiseCompared, 200);
    assert.equal(e.latency.primary.count, 200);
    assert.ok(Math.abs(e.latency.primary.p99! - 10) < 0.02);
    assert.ok(Math.abs(e.latency.ratioP99! - 1) < 1e-9);
    assert.deepEqual(e.errorRate, { primary: 0, candidate: 0, delta: 0 });
  });

  void it('too few compared pairs: insufficient_data with min_samples', () => {
    const r = computeVerdict(healthy({ candidate: { exchanges: 50, compared: 50, fields: { status: 50 }, differing: 50 } }), [], T, 0);
    assert.equal(r.verdict, 'insufficient_data');
    const e = r.endpoints[0]!;
    assert.equal(e.verdict, 'insufficient_data');
    assert.deepEqual(
      e.reasons.map((x) => x.code),
      ['min_samples'],
    );
    const reason = e.reasons[0]!;
    assert.ok(reason.code === 'min_samples' && reason.compared === 50 && reason.needed === 100);
    assert.equal(e.regressions.length, 1); // still reported, for information
  });

  void it('a candidate that never answers fails on errors instead of reading as insufficient data', () => {
    const r = computeVerdict(healthy({ candidate: { exchanges: 200, compared: 0, failed: 200, latency: '' } }), [], T, 0);
    const e = r.endpoints[0]!;
    assert.equal(e.verdict, 'fail');
    assert.deepEqual(
      e.reasons.map((x) => x.code),
      ['min_samples', 'errors'],
    );
  });

  void it('a field regression fails; a field the noise explains passes', () => {
    const rows = healthy({
      candidate: { differing: 100, fields: { '$.price': 60, '$.meta.generatedAt': 100 } },
      secondary: { differing: 98, fields: { '$.meta.generatedAt': 98 } },
    });
    const r = computeVerdict(rows, [], T, 0);
    const e = r.endpoints[0]!;
    assert.equal(e.verdict, 'fail');
    assert.deepEqual(e.regressions, [{ field: '$.price', raw: 60, rawRate: 0.3, noise: 0, noiseRate: 0 }]);
    assert.deepEqual(
      e.noisyFields.map((f) => [f.field, f.why]),
      [['$.meta.generatedAt', 'noise']],
    );
    const reason = e.reasons[0]!;
    assert.equal(reason.code, 'field_regression');
    assert.ok(reason.code === 'field_regression' && reason.field === '$.price');
    assert.equal(e.diffRate, 0.5);
  });

  void it('a marked field does not fail, whatever its rate', () => {
    const rows = healthy({ candidate: { differing: 100, fields: { '$.meta.generatedAt': 100 } } });
    const marks: NoiseMark[] = [{ route: 'api', endpoint: '*', field: '$.meta', at: 0, source: 'config' }];
    const e = computeVerdict(rows, marks, T, 0).endpoints[0]!;
    assert.equal(e.verdict, 'pass');
    assert.deepEqual(
      e.noisyFields.map((f) => [f.field, f.why]),
      [['$.meta.generatedAt', 'marked']],
    );
    // a mark for another route changes nothing
    const other = computeVerdict(rows, [{ ...marks[0]!, route: 'x' }], T, 0).endpoints[0]!;
    assert.equal(other.verdict, 'fail');
  });

  void it('fails on p99 latency ratio, only with enough latency values on both sides', () => {
    const slow = healthy({ candidate: { latency: hist([...many(190, 10), ...many(10, 50)]) } });
    const e = computeVerdict(slow, [], T, 0).endpoints[0]!;
    assert.equal(e.verdict, 'fail');
    const reason = e.reasons.find((x) => x.code === 'latency');
    assert.ok(reason !== undefined && reason.code === 'latency');
    assert.ok(Math.abs(reason.ratio - 5) < 0.02, String(reason.ratio));
    assert.ok(Math.abs(e.latency.ratioP50! - 1) < 1e-9);

    const fewPrimary = healthy({
      primary: { latency: hist(many(99, 10)) },
      candidate: { latency: hist(many(200, 50)) },
    });
    assert.equal(computeVerdict(fewPrimary, [], T, 0).endpoints[0]!.verdict, 'pass');
    // exactly at the limit is not above it
    const atLimit = healthy({ candidate: { latency: hist(many(200, 12)) } });
    assert.equal(computeVerdict(atLimit, [], T, 0).endpoints[0]!.verdict, 'pass');
  });

  void it('fails when the candidate error rate exceeds the primary one by more than errorRateDelta', () => {
    const worse = healthy({ primary: { errors5xx: 2 }, candidate: { errors5xx: 3, failed: 4 } });
    const e = computeVerdict(worse, [], T, 0).endpoints[0]!;
    assert.equal(e.verdict, 'fail');
    assert.deepEqual(e.errorRate, { primary: 0.01, candidate: 0.035, delta: 0.025 });
    const reason = e.reasons[0]!;
    assert.ok(reason.code === 'errors' && reason.delta === 0.025 && reason.limit === 0.01);
    // 1 point worse is within the default delta
    const same = healthy({ primary: { errors5xx: 2 }, candidate: { errors5xx: 4 } });
    assert.equal(computeVerdict(same, [], T, 0).endpoints[0]!.verdict, 'pass');
  });

  void it('overall: fail if any fails, pass if one passes and none fail, else insufficient_data; sorted', () => {
    const at = (endpoint: string, rows: EndpointAggregate[]) => rows.map((r) => ({ ...r, endpoint }));
    const pass = at('GET /b', healthy());
    const fail = at('GET /a', healthy({ candidate: { errors5xx: 100 } }));
    const thin = at('GET /c', healthy({ candidate: { compared: 5 } }));
    const r1 = computeVerdict([...thin, ...pass, ...fail], [], T, 0);
    assert.equal(r1.verdict, 'fail');
    assert.deepEqual(
      r1.endpoints.map((e) => [e.endpoint, e.verdict]),
      [
        ['GET /a', 'fail'],
        ['GET /b', 'pass'],
        ['GET /c', 'insufficient_data'],
      ],
    );
    assert.deepEqual(r1.summary, { endpoints: 3, pass: 1, fail: 1, insufficient_data: 1 });
    assert.equal(computeVerdict([...thin, ...pass], [], T, 0).verdict, 'pass');
    assert.equal(computeVerdict(thin, [], T, 0).verdict, 'insufficient_data');
    assert.equal(computeVerdict([], [], T, 0).verdict, 'insufficient_data');
  });

  void it('one entry per candidate; rows of one key are summed; deterministic whatever the row order', () => {
    const rows = [
      ...healthy(),
      row('candidate', 'v3', { exchanges: 100, compared: 100, differing: 100, fields: { status: 100 } }),
      row('candidate', 'v3', { exchanges: 100, compared: 100 }),
    ];
    const a = computeVerdict(rows, [], T, 0);
    const b = computeVerdict([...rows].reverse(), [], T, 0);
    assert.deepEqual(a, b);
    assert.deepEqual(
      a.endpoints.map((e) => [e.upstream, e.compared, e.verdict]),
      [
        ['v2', 200, 'pass'],
        ['v3', 200, 'fail'],
      ],
    );
  });
});
