// The performance view on known inputs: 1 m / 5 m rates (and while the view is younger than the window),
// percentiles identical to the compare histograms' over a sliding 5-minute window, error ratios, the slowest
// endpoints, the overflow row, idle rows dropped, the busiest sources among a million distinct addresses in
// a fixed number of counters, and metric rows that never carry a path or a client address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLatencyHistogram, latencyPercentiles, recordLatencyMs } from '../src/compare/latency.ts';
import { PERF_METRIC_LABELS, createPerformanceView, perfMetricRows, sparsePercentiles } from '../src/analysis/perf.ts';
import type { RequestEvent } from '../src/analysis/types.ts';

const T0 = Date.UTC(2025, 0, 1, 0, 0, 0);

function ev(at: number, o: Partial<RequestEvent> = {}): RequestEvent {
  return {
    at,
    route: o.route ?? 'api',
    endpoint: o.endpoint ?? 'GET /a',
    method: 'GET',
    path: o.path ?? '/a',
    query: '',
    source: o.source ?? '10.0.0.1',
    headers: [],
    body: undefined,
    bodyBytes: 0,
    upstream: o.upstream ?? 'backend',
    status: o.status ?? 200,
    latencyMs: o.latencyMs ?? 10,
  };
}

/** `perSecond` events per second from second `from` to `to` (exclusive), spread evenly. */
function feed(view: { observe(e: RequestEvent): void }, from: number, to: number, perSecond: number, o: (i: number) => Partial<RequestEvent> = () => ({})): void {
  let i = 0;
  for (let s = from; s < to; s++) for (let k = 0; k < perSecond; k++) view.observe(ev(T0 + s * 1000 + Math.floor((k * 1000) / perSecond), o(i++)));
}

test('rates over 1 and 5 minutes on known inputs, sorted by rate; a young view divides by its age', () => {
  const v = createPerformanceView();
  feed(v, 0, 600, 10, () => ({ endpoint: 'GET /a' }));
  feed(v, 480, 600, 5, () => ({ endpoint: 'GET /b', path: '/b' }));
  const s = v.snapshot(T0 + 600_000 + 300);
  assert.deepEqual(
    s.endpoints.map((e) => [e.endpoint, e.rate1m, e.rate5m, e.count]),
    [
      ['GET /a', 10, 10, 3000],
      ['GET /b', 5, 2, 600],
    ],
  );
  assert.equal(s.totals.rate1m, 15);
  assert.equal(s.totals.rate5m, 12);
  assert.equal(s.upstreams.length, 1);
  assert.equal(s.upstreams[0]!.rate1m, 15);

  const young = createPerformanceView();
  feed(young, 0, 30, 10);
  const y = young.snapshot(T0 + 30_000);
  assert.equal(y.endpoints[0]!.rate1m, 10);
  assert.equal(y.endpoints[0]!.rate5m, 10);
});

test('percentiles equal the compare histograms’ (hdr) on the same samples', () => {
  const v = createPerformanceView();
  const h = createLatencyHistogram();
  for (let i = 1; i <= 1000; i++) {
    const ms = i * 1.7 + (i % 7) * 0.013;
    v.observe(ev(T0 + i * 10, { latencyMs: ms }));
    recordLatencyMs(h, ms);
  }
  const row = v.snapshot(T0 + 20_000).endpoints[0]!;
  const want = latencyPercentiles(h);
  assert.deepEqual([row.p50, row.p90, row.p99], [want.p50, want.p90, want.p99]);
  assert.ok(Math.abs(row.p50! - 850) < 2, String(row.p50));
  assert.ok(Math.abs(row.p99! - 1683) < 3, String(row.p99));
  assert.deepEqual(sparsePercentiles([]), { count: 0, p50: null, p90: null, p99: null });
});

test('latency memory is bounded: widely spread latencies coarsen to 2 digits, percentiles stay within 1%', () => {
  const v = createPerformanceView();
  const h = createLatencyHistogram();
  // 20,000 distinct values over 4 decades in one minute
  for (let i = 0; i < 20_000; i++) {
    const ms = 0.5 * Math.pow(10, (4 * i) / 20_000) + (i % 13) * 0.0001;
    v.observe(ev(T0 + i, { latencyMs: ms }));
    recordLatencyMs(h, ms);
  }
  const row = v.snapshot(T0 + 30_000).endpoints[0]!;
  const want = latencyPercentiles(h);
  for (const [got, exp] of [
    [row.p50!, want.p50!],
    [row.p90!, want.p90!],
    [row.p99!, want.p99!],
  ] as const)
    assert.ok(Math.abs(got - exp) / exp <= 0.01, `${got} vs ${exp}`);
});

test('latency slides over 5 minutes: old slow samples leave the percentiles', () => {
  const v = createPerformanceView();
  feed(v, 0, 60, 10, () => ({ latencyMs: 2000 }));
  feed(v, 60, 120, 10, () => ({ latencyMs: 5 }));
  const early = v.snapshot(T0 + 120_000).endpoints[0]!;
  assert.ok(early.p99! >= 1990, `p99 ${early.p99}`);
  feed(v, 120, 600, 10, () => ({ latencyMs: 5 }));
  const late = v.snapshot(T0 + 600_000).endpoints[0]!;
  assert.ok(late.p99! < 5.1 && late.p50! < 5.1, `p99 ${late.p99}`);
});

test('error ratio counts 5xx and unanswered requests, not 4xx', () => {
  const v = createPerformanceView();
  feed(v, 0, 100, 10, (i) => ({ status: i % 10 === 0 ? 503 : i % 10 === 1 ? 0 : i % 10 === 2 ? 404 : 200 }));
  const s = v.snapshot(T0 + 100_000);
  assert.equal(s.endpoints[0]!.errorRatio, 0.2);
  assert.equal(s.endpoints[0]!.errors, 200);
  assert.equal(s.totals.errorRatio, 0.2);
});

test('slowest: by p99 among endpoints with enough requests', () => {
  const v = createPerformanceView({ slowestMinCount: 20 });
  for (let e = 0; e < 15; e++) feed(v, 0, 10, 5, () => ({ endpoint: `GET /e${e}`, latencyMs: 10 + e * 10 }));
  // slowest of all, but only 5 requests
  feed(v, 0, 1, 5, () => ({ endpoint: 'GET /rare', latencyMs: 5000 }));
  const s = v.snapshot(T0 + 10_000);
  assert.equal(s.slowest.length, 10);
  assert.deepEqual(
    s.slowest.map((r) => r.endpoint),
    [14, 13, 12, 11, 10, 9, 8, 7, 6, 5].map((e) => `GET /e${e}`),
  );
  assert.ok(!s.slowest.some((r) => r.endpoint === 'GET /rare'));
  assert.ok(s.endpoints.some((r) => r.endpoint === 'GET /rare'));
});

test('bounded: endpoints past maxEndpoints share an `other` row; idle rows are dropped after 5 minutes', () => {
  const v = createPerformanceView({ maxEndpoints: 3, maxUpstreams: 2 });
  for (let i = 0; i < 50; i++) v.observe(ev(T0 + i, { endpoint: `GET /x${i}`, upstream: `u${i % 5}` }));
  const s = v.snapshot(T0 + 1000);
  assert.equal(s.endpoints.length, 4);
  const other = s.endpoints.find((r) => r.endpoint === 'other')!;
  assert.deepEqual([other.route, other.upstream], ['other', 'other']);
  assert.equal(s.tracking.endpointOverflowEvents, 47);
  assert.equal(s.upstreams.length, 3);
  assert.equal(s.tracking.upstreamOverflowEvents, 30);
  // six minutes later with new traffic elsewhere: the idle rows are gone
  v.observe(ev(T0 + 400_000, { endpoint: 'GET /new', upstream: 'u0' }));
  const later = v.snapshot(T0 + 401_000);
  assert.deepEqual(
    later.endpoints.map((r) => r.endpoint),
    ['GET /new'],
  );
});

test('busiest sources: true heavy hitters among a million distinct addresses, in a fixed number of counters', () => {
  const k = 200;
  const v = createPerformanceView({ heavyHitters: k, topSources: 5 });
  const heavy = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
  const truth = new Map<string, number>();
  let n = 0;
  // 1,000,000+ distinct addresses over 4 minutes, plus three heavy sources (10%, 5%, 2.5% of the traffic)
  for (let i = 0; i < 1_240_000; i++) {
    const r = i % 40;
    const source = r < 4 ? heavy[0]! : r < 6 ? heavy[1]! : r === 6 ? heavy[2]! : `a${n++}`;
    if (r < 7) truth.set(source, (truth.get(source) ?? 0) + 1);
    v.observe(ev(T0 + Math.floor(i / 5.2), { source, status: source === heavy[1] && i % 2 === 0 ? 500 : 200 }));
  }
  assert.ok(n >= 1_000_000, `distinct ${n}`);
  const s = v.snapshot(T0 + 240_000);
  assert.ok(s.tracking.sourceCounters <= 5 * k, `counters ${s.tracking.sourceCounters}`);
  assert.ok(s.tracking.sourceEvictions > 900_000, `evictions ${s.tracking.sourceEvictions}`);
  assert.deepEqual(
    s.busiestSources.slice(0, 3).map((x) => x.source),
    heavy,
  );
  for (const x of s.busiestSources.slice(0, 3)) {
    const t = truth.get(x.source)!;
    assert.ok(Math.abs(x.count - t) <= x.error, `${x.source}: ${x.count} ± ${x.error} vs ${t}`);
    assert.ok(Math.abs(x.share - t / 1_240_000) < 0.01, `share ${x.share}`);
  }
  // errors counted while the source held its counter: a lower bound, here exact (it never lost it)
  const h2 = s.busiestSources.find((x) => x.source === heavy[1])!;
  assert.equal(h2.errorCount, truth.get(heavy[1]!)! / 2);
});

test('metric rows: bounded labels route/endpoint/upstream only, never a path or a client address', () => {
  const v = createPerformanceView({ maxEndpoints: 5 });
  for (let i = 0; i < 200; i++) v.observe(ev(T0 + i * 10, { endpoint: `GET /items/{id}`, path: `/items/${i}`, source: `198.51.100.${i}`, latencyMs: 3 }));
  for (let i = 0; i < 20; i++) v.observe(ev(T0 + i * 10, { endpoint: `GET /e${i}`, path: `/e${i}` }));
  const rows = perfMetricRows(v.snapshot(T0 + 5000));
  assert.deepEqual([...PERF_METRIC_LABELS], ['route', 'endpoint', 'upstream']);
  assert.ok(rows.length <= 6);
  for (const r of rows) assert.deepEqual(Object.keys(r.labels).sort(), ['endpoint', 'route', 'upstream']);
  const text = JSON.stringify(rows);
  assert.ok(!text.includes('198.51.100.'), 'no client address');
  assert.ok(!text.includes('/items/1'), 'no raw path');
  const items = rows.find((r) => r.labels.endpoint === 'GET /items/{id}')!;
  assert.ok(items.p50Seconds !== null && Math.abs(items.p50Seconds - 0.003) < 0.0001);
  assert.ok(items.rate1m > 0);
});

test('options are validated', () => {
  assert.throws(() => createPerformanceView({ maxEndpoints: 0 }), RangeError);
  assert.throws(() => createPerformanceView({ heavyHitters: 1.5 }), RangeError);
  const s = createPerformanceView().snapshot(T0);
  assert.deepEqual(s.endpoints, []);
  assert.equal(s.totals.count, 0);
  assert.equal(s.totals.p99, null);
});
