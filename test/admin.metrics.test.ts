// Prometheus metrics fed by Tap events: names, labels and values of the contract (PRODUCT.md, docs/metrics.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tap } from '../src/core/events.ts';
import { OUTCOMES } from '../src/core/outcomes.ts';
import { renderMetrics, wantsOpenMetrics } from '../src/admin/exposition.ts';
import { createMetrics } from '../src/admin/metrics.ts';

/** The value of the sample with exactly these labels, or undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    const keys = Object.keys(labels);
    if (keys.length === Object.keys(got).length && keys.every((k) => got[k] === labels[k])) return Number(m[3]);
  }
  return undefined;
}

function setup() {
  const tap = new Tap();
  const metrics = createMetrics(tap);
  return { tap, metrics, text: () => metrics.registry.metrics() };
}

void describe('createMetrics', () => {
  void it('counts client requests by route, upstream and status code', async () => {
    const { tap, text } = setup();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 2 });
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 2 });
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 503, durationMs: 2, error: 'TW_ERR_UPSTREAM_CONNECT' });
    tap.emit('exchange', { route: 'orders', upstream: 'v1', status: 200, durationMs: 2 });
    const t = await text();
    assert.equal(sample(t, 'tapwire_requests_total', { route: 'users', upstream: 'v1', code: '200' }), 2);
    assert.equal(sample(t, 'tapwire_requests_total', { route: 'users', upstream: 'v1', code: '503' }), 1);
    assert.equal(sample(t, 'tapwire_requests_total', { route: 'orders', upstream: 'v1', code: '200' }), 1);
  });

  void it('observes request durations in seconds into the documented buckets', async () => {
    const { tap, text } = setup();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 3 });
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 700 });
    const t = await text();
    const labels = { route: 'users', upstream: 'v1' };
    assert.equal(sample(t, 'tapwire_request_duration_seconds_bucket', { ...labels, le: '0.001' }), 0);
    assert.equal(sample(t, 'tapwire_request_duration_seconds_bucket', { ...labels, le: '0.005' }), 1);
    assert.equal(sample(t, 'tapwire_request_duration_seconds_bucket', { ...labels, le: '1' }), 2);
    assert.equal(sample(t, 'tapwire_request_duration_seconds_bucket', { ...labels, le: '0.0005' }), 0);
    assert.equal(sample(t, 'tapwire_request_duration_seconds_bucket', { ...labels, le: '10' }), 2);
    assert.equal(sample(t, 'tapwire_request_duration_seconds_count', labels), 2);
    assert.ok(Math.abs(sample(t, 'tapwire_request_duration_seconds_sum', labels)! - 0.703) < 1e-9);
  });

  void it('counts mirror copies by outcome and shows every outcome from the first copy on', async () => {
    const { tap, text } = setup();
    tap.emit('copyStart', { route: 'users', mirror: 'v2' });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'delivered', started: true, durationMs: 4, status: 200 });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'sampled_out', started: false });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'sampled_out', started: false });
    const t = await text();
    const at = (outcome: string) => sample(t, 'tapwire_mirror_requests_total', { route: 'users', mirror: 'v2', outcome });
    assert.equal(at('delivered'), 1);
    assert.equal(at('sampled_out'), 2);
    for (const o of OUTCOMES.filter((x) => x !== 'delivered' && x !== 'sampled_out')) assert.equal(at(o), 0, o);
  });

  void it('reports copies in flight, read when Prometheus scrapes', async () => {
    const { tap, text } = setup();
    tap.emit('copyStart', { route: 'users', mirror: 'v2' });
    tap.emit('copyStart', { route: 'users', mirror: 'v2' });
    tap.emit('copyStart', { route: 'users', mirror: 'v3' });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'timeout', started: true, durationMs: 5000 });
    let t = await text();
    assert.equal(sample(t, 'tapwire_mirror_in_flight', { route: 'users', mirror: 'v2' }), 1);
    assert.equal(sample(t, 'tapwire_mirror_in_flight', { route: 'users', mirror: 'v3' }), 1);
    tap.emit('copyEnd', { route: 'users', mirror: 'v3', outcome: 'delivered', started: true, durationMs: 1 });
    t = await text();
    assert.equal(sample(t, 'tapwire_mirror_in_flight', { route: 'users', mirror: 'v3' }), 0);
  });

  void it('observes mirror durations only for copies that were sent', async () => {
    const { tap, text } = setup();
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'overloaded', started: false, durationMs: 0.1 });
    tap.emit('copyStart', { route: 'users', mirror: 'v2' });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'connect_error', started: true, durationMs: 20 });
    const t = await text();
    const labels = { route: 'users', mirror: 'v2' };
    assert.equal(sample(t, 'tapwire_mirror_duration_seconds_count', labels), 1);
    assert.equal(sample(t, 'tapwire_mirror_duration_seconds_bucket', { ...labels, le: '0.01' }), 0);
    assert.equal(sample(t, 'tapwire_mirror_duration_seconds_bucket', { ...labels, le: '0.025' }), 1);
  });

  void it('counts requests tapwire rejected itself by error code', async () => {
    const { tap, text } = setup();
    tap.emit('reject', { code: 'TW_ERR_NO_ROUTE', status: 404 });
    tap.emit('reject', { code: 'TW_ERR_NO_ROUTE', status: 404 });
    tap.emit('reject', { code: 'TW_ERR_HEADERS_TOO_LARGE', status: 431 });
    const t = await text();
    assert.equal(sample(t, 'tapwire_rejected_requests_total', { code: 'TW_ERR_NO_ROUTE' }), 2);
    assert.equal(sample(t, 'tapwire_rejected_requests_total', { code: 'TW_ERR_HEADERS_TOO_LARGE' }), 1);
  });

  void it('counts config reloads by result and flags whether the last one succeeded', async () => {
    const { tap, text } = setup();
    let t = await text();
    assert.equal(sample(t, 'tapwire_config_last_reload_success'), 1);
    assert.equal(sample(t, 'tapwire_config_reloads_total', { result: 'error' }), 0);
    tap.emit('reload', { ok: false, message: 'routes[0].primary: unknown upstream' });
    t = await text();
    assert.equal(sample(t, 'tapwire_config_last_reload_success'), 0);
    assert.equal(sample(t, 'tapwire_config_reloads_total', { result: 'error' }), 1);
    tap.emit('reload', { ok: true });
    t = await text();
    assert.equal(sample(t, 'tapwire_config_last_reload_success'), 1);
    assert.equal(sample(t, 'tapwire_config_reloads_total', { result: 'ok' }), 1);
  });

  void it('exposes the default process and Node.js metrics under the tapwire_ prefix only', async () => {
    const { text } = setup();
    const t = await text();
    assert.ok(sample(t, 'tapwire_process_cpu_user_seconds_total')! >= 0);
    assert.ok(sample(t, 'tapwire_nodejs_eventloop_lag_seconds') !== undefined);
    assert.doesNotMatch(t, /^process_|^nodejs_/m);
  });

  void it('keeps each app in its own registry so two apps in one process never share a series', async () => {
    const a = setup();
    const b = setup();
    a.tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 1 });
    assert.equal(sample(await a.text(), 'tapwire_requests_total', { route: 'users', upstream: 'v1', code: '200' }), 1);
    assert.equal(sample(await b.text(), 'tapwire_requests_total', { route: 'users', upstream: 'v1', code: '200' }), undefined);
  });

  void it('stops counting after close', async () => {
    const { tap, metrics, text } = setup();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 1 });
    metrics.close();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 1 });
    assert.equal(sample(await text(), 'tapwire_requests_total', { route: 'users', upstream: 'v1', code: '200' }), 1);
    assert.equal(tap.has('exchange'), false);
  });

  void it('escapes label values that contain quotes, backslashes or newlines', async () => {
    const { tap, text } = setup();
    tap.emit('exchange', { route: 'we"ird\\\nroute', upstream: 'v1', status: 200, durationMs: 1 });
    assert.match(await text(), /route="we\\"ird\\\\\\nroute"/);
  });
});

void describe('renderMetrics', () => {
  void it('renders OpenMetrics on request and leaves the Prometheus text format intact afterwards', async () => {
    const { tap, metrics } = setup();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 1 });
    const om = await renderMetrics(metrics.registry, true);
    assert.match(om.contentType, /^application\/openmetrics-text/);
    assert.match(om.body, /# EOF\n$/);
    assert.match(om.body, /^# TYPE tapwire_requests counter$/m);
    assert.equal(sample(om.body, 'tapwire_requests_total', { route: 'users', upstream: 'v1', code: '200' }), 1);
    // prom-client renames counters in place for OpenMetrics; a later text scrape must still say _total.
    const text = await renderMetrics(metrics.registry, false);
    assert.match(text.contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(text.body, /^# TYPE tapwire_requests_total counter$/m);
    assert.equal(sample(text.body, 'tapwire_requests_total', { route: 'users', upstream: 'v1', code: '200' }), 1);
  });

  void it('keeps concurrent text and OpenMetrics scrapes from seeing each other', async () => {
    const { tap, metrics } = setup();
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 1 });
    const results = await Promise.all([true, false, true, false, false].map((om) => renderMetrics(metrics.registry, om)));
    for (const r of results.filter((x) => x.contentType.startsWith('text/plain'))) {
      assert.match(r.body, /^# TYPE tapwire_requests_total counter$/m);
      assert.doesNotMatch(r.body, /# EOF/);
    }
  });
});

void describe('wantsOpenMetrics', () => {
  const cases: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ['*/*', false],
    ['text/plain', false],
    ['application/openmetrics-text', true],
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', true],
    ['text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5', false],
    ['application/openmetrics-text;q=0', false],
    ['Application/OpenMetrics-Text; version=1.0.0', true],
  ];
  for (const [accept, expected] of cases) {
    void it(`answers ${expected} for Accept ${JSON.stringify(accept)}`, () => {
      assert.equal(wantsOpenMetrics(accept), expected);
    });
  }
});
