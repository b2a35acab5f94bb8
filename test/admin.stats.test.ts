// Live stats fed by Tap events: outcome counts, in flight, percentiles, and the reconciliation invariant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tap } from '../src/core/events.ts';
import type { Outcome } from '../src/core/outcomes.ts';
import { OUTCOMES } from '../src/core/outcomes.ts';
import { createStats } from '../src/admin/stats.ts';

function setup() {
  const tap = new Tap();
  const stats = createStats(tap);
  const sent = (outcome: Outcome, durationMs = 1, route = 'users', mirror = 'v2') => {
    tap.emit('copyStart', { route, mirror });
    tap.emit('copyEnd', { route, mirror, outcome, started: true, durationMs });
  };
  const dropped = (outcome: Outcome, route = 'users', mirror = 'v2') => tap.emit('copyEnd', { route, mirror, outcome, started: false });
  const mirrorOf = (route = 'users', mirror = 'v2') => stats.snapshot().routes.find((r) => r.route === route)?.mirrors.find((m) => m.mirror === mirror);
  return { tap, stats, sent, dropped, mirrorOf };
}

void describe('createStats', () => {
  void it('counts every outcome per route and mirror, with zeros for outcomes that never happened', () => {
    const { sent, dropped, mirrorOf } = setup();
    sent('delivered');
    sent('delivered');
    sent('timeout');
    dropped('sampled_out');
    dropped('overloaded');
    const m = mirrorOf()!;
    assert.deepEqual(Object.keys(m.outcomes), [...OUTCOMES]);
    assert.equal(m.outcomes.delivered, 2);
    assert.equal(m.outcomes.timeout, 1);
    assert.equal(m.outcomes.sampled_out, 1);
    assert.equal(m.outcomes.overloaded, 1);
    assert.equal(m.outcomes.reset, 0);
    assert.equal(m.matched, 5);
    assert.equal(m.inFlight, 0);
  });

  void it('counts a started copy as matched and in flight until it ends', () => {
    const { tap, mirrorOf, stats } = setup();
    tap.emit('copyStart', { route: 'users', mirror: 'v2' });
    assert.equal(mirrorOf()!.matched, 1);
    assert.equal(mirrorOf()!.inFlight, 1);
    assert.deepEqual(stats.reconcile(), []);
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'delivered', started: true, durationMs: 3 });
    assert.equal(mirrorOf()!.inFlight, 0);
    assert.equal(mirrorOf()!.matched, 1);
  });

  void it('sums mirrors into route totals', () => {
    const { sent, dropped, stats } = setup();
    sent('delivered', 1, 'users', 'v2');
    sent('reset', 1, 'users', 'v3');
    dropped('method_filtered', 'users', 'v3');
    const r = stats.snapshot().routes[0]!;
    assert.equal(r.matched, 3);
    assert.equal(r.outcomes.delivered, 1);
    assert.equal(r.outcomes.reset, 1);
    assert.equal(r.outcomes.method_filtered, 1);
    assert.deepEqual(r.mirrors.map((m) => m.mirror), ['v2', 'v3']);
  });

  void it('reconciles a long mixed sequence, in flight included', () => {
    const { tap, sent, dropped, stats } = setup();
    for (let i = 0; i < 500; i++) {
      if (i % 3 === 0) dropped('sampled_out', `r${i % 4}`);
      else sent(i % 7 === 0 ? 'timeout' : 'delivered', i, `r${i % 4}`);
    }
    tap.emit('copyStart', { route: 'r1', mirror: 'v2' });
    assert.deepEqual(stats.reconcile(), []);
    assert.match(stats.reconcile({ expectIdle: true }).join('\n'), /route "r1" mirror "v2": 1 copies still in flight/);
  });

  void it('reports a copy that ended as started without ever starting', () => {
    const { tap, stats } = setup();
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'delivered', started: true, durationMs: 1 });
    const problems = stats.reconcile();
    assert.ok(problems.some((p) => p.includes('route "users" mirror "v2": in flight is -1')), problems.join('\n'));
  });

  void it('reports an end whose started flag contradicts its outcome', () => {
    const { tap, stats } = setup();
    tap.emit('copyStart', { route: 'users', mirror: 'v2' });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'sampled_out', started: true });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'delivered', started: false });
    const problems = stats.reconcile();
    assert.ok(problems.some((p) => p.includes('2 copy ends with an unknown outcome or a started flag')), problems.join('\n'));
  });

  void it('accepts drops that may happen before or after a copy starts', () => {
    const { tap, stats } = setup();
    for (const outcome of ['body_too_large', 'overloaded', 'client_aborted', 'shutdown'] as const) {
      tap.emit('copyStart', { route: 'users', mirror: 'v2' });
      tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome, started: true });
      tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome, started: false });
    }
    assert.deepEqual(stats.reconcile({ expectIdle: true }), []);
  });

  void it('reports an outcome outside the closed list as a gap in the invariant', () => {
    const { tap, stats } = setup();
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'exploded' as Outcome, started: false });
    const problems = stats.reconcile();
    assert.ok(problems.some((p) => p.includes('matched 1 != sum of outcomes 0 + in flight 0')), problems.join('\n'));
  });

  void it('computes primary latency percentiles from known values within HDR precision', () => {
    const { tap, stats } = setup();
    for (let ms = 1; ms <= 1000; ms++) tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: ms });
    const l = stats.snapshot().routes[0]!.primaries[0]!.latencyMs;
    const near = (got: number | null, want: number) => assert.ok(got !== null && Math.abs(got - want) <= want * 0.001, `${got} vs ${want}`);
    assert.equal(l.count, 1000);
    near(l.p50, 500);
    near(l.p90, 900);
    near(l.p99, 990);
    near(l.p999, 999);
    assert.equal(l.max, 1000);
  });

  void it('keeps sub-millisecond latencies to the microsecond and the exact max beyond the 60 s range', () => {
    const { tap, stats } = setup();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 0.25 });
    assert.equal(stats.snapshot().routes[0]!.primaries[0]!.latencyMs.p50, 0.25);
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 90_000 });
    const l = stats.snapshot().routes[0]!.primaries[0]!.latencyMs;
    assert.equal(l.max, 90_000);
    assert.ok(l.p999! <= 60_000 * 1.001);
  });

  void it('records mirror latency only for copies that were sent and reports null before the first one', () => {
    const { sent, dropped, mirrorOf } = setup();
    dropped('body_too_large');
    assert.deepEqual(mirrorOf()!.latencyMs, { count: 0, p50: null, p90: null, p99: null, p999: null, max: null });
    sent('delivered', 40);
    const l = mirrorOf()!.latencyMs;
    assert.equal(l.count, 1);
    assert.equal(l.max, 40);
  });

  void it('classifies the primary status codes', () => {
    const { tap, stats } = setup();
    for (const status of [101, 200, 204, 304, 404, 429, 502, 0, 600]) {
      tap.emit('exchange', { route: 'users', upstream: 'v1', status, durationMs: 1 });
    }
    const p = stats.snapshot().routes[0]!.primaries[0]!;
    assert.equal(p.requests, 9);
    assert.deepEqual(p.status, { '1xx': 1, '2xx': 2, '3xx': 1, '4xx': 2, '5xx': 1, other: 2 });
    assert.equal(stats.snapshot().routes[0]!.requests, 9);
  });

  void it('lists rejected requests by code and counts reloads', () => {
    const { tap, stats } = setup();
    tap.emit('reject', { code: 'TW_ERR_NO_ROUTE', status: 404 });
    tap.emit('reject', { code: 'TW_ERR_NO_ROUTE', status: 404 });
    tap.emit('reject', { code: 'TW_ERR_BAD_REQUEST', status: 400 });
    tap.emit('reload', { ok: true });
    tap.emit('reload', { ok: false, message: 'bad' });
    const s = stats.snapshot();
    assert.deepEqual(s.rejected, [
      { code: 'TW_ERR_BAD_REQUEST', status: 400, count: 1 },
      { code: 'TW_ERR_NO_ROUTE', status: 404, count: 2 },
    ]);
    assert.deepEqual(s.reloads, { ok: 1, error: 1 });
  });

  void it('produces a snapshot that survives a JSON round trip unchanged', () => {
    const { tap, sent, stats } = setup();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 12.5 });
    sent('delivered', 13);
    const s = stats.snapshot();
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  void it('stops listening after close', () => {
    const { tap, stats } = setup();
    stats.close();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 1 });
    assert.deepEqual(stats.snapshot().routes, []);
  });
});
