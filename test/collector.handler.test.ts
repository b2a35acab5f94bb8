// Collector mode in-process: tapwire as the mirror target of a mesh, on real sockets. The mesh's copy is answered at
// once with an empty 202, its -shadow Host suffix is removed, and it goes to the reference (the route's primary),
// the candidate and the secondary; the reference's answer is the trial's primary. Writes never reach the reference
// by default; a failed or overloaded reference is counted and its trial not compared.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Trial } from '../src/core/exchange.ts';
import { LISTEN, harness, headerValues, rawExchange, waitFor, type Running } from './helpers/harness.ts';

const SHADOW_HOST = ['Host', 'api.example.com-shadow'];

function config(v1: string, v2: string, extra = '', route = ''): string {
  return `${LISTEN}mode: collector
${extra}upstreams:
  v1: { url: ${v1} }
  v2: { url: ${v2}, sandboxed: true }
routes:
  - name: api
    match: { host: api.example.com }
    primary: v1
    mirrors: [{ upstream: v2, methods: [GET, POST] }]
    compare: {}
${route}`;
}

/** accepted = Σ reference outcomes + in flight, per route (the collector's accounting invariant). */
function balanced(tw: Running, route: string): boolean {
  const s = tw.app.collector!.stats().find((r) => r.route === route);
  if (!s) return false;
  const ended = Object.values(s.reference).reduce((a, b) => a + (b ?? 0), 0);
  return s.received.accepted === ended + s.referenceInFlight;
}

describe('collector mode', () => {
  test('answers the mesh at once with an empty 202 and compares the candidate against the reference', async (t) => {
    const h = harness(t);
    // Both slow: the mesh's answer must depend on neither.
    const v1 = await h.upstream('v1', { kind: 'slow', ms: 1000, body: '{"v":1}' });
    const v2 = await h.upstream('v2', { kind: 'slow', ms: 1200, body: '{"v":2}' });
    const tw = await h.tapwire(config(v1.url, v2.url));
    const trials: Trial[] = [];
    tw.app.tap.on('trial', (trial) => trials.push(trial));

    const r = await tw.send({ path: '/users/7?x=1', headers: [...SHADOW_HOST, 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'] });
    assert.equal(r.status, 202);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], '0');
    // The first request of a fresh process pays for warm-up; the upstreams' second must never show.
    assert.ok(r.ms < 500, `the mesh waited ${r.ms.toFixed(0)} ms`);
    const again = await tw.send({ path: '/users/8', headers: SHADOW_HOST });
    assert.equal(again.status, 202);
    assert.ok(again.ms < 500, `the mesh waited ${again.ms.toFixed(0)} ms`);

    assert.ok(await waitFor(() => trials.length === 2, 5000), 'no trial');
    const trial = trials.find((x) => x.request.path === '/users/7?x=1')!;
    assert.equal(trial.route, 'api');
    assert.equal(trial.request.path, '/users/7?x=1');
    assert.equal(trial.primary.role, 'primary');
    assert.equal(trial.primary.upstream, 'v1');
    assert.equal(trial.primary.status, 200);
    assert.equal(trial.primary.body?.toString(), '{"v":1}');
    assert.deepEqual(
      trial.mirrors.map((e) => [e.upstream, e.outcome, e.body?.toString()]),
      [['v2', 'delivered', '{"v":2}']],
    );
    // The reference and the candidate got the Host the mesh meant, the marker, and a sibling span of the trace.
    for (const u of [v1, v2]) {
      assert.equal(u.requests.length, 2, `${u.name} got ${u.requests.length} requests`);
      const rec = u.requests.find((x) => x.url === '/users/7?x=1')!;
      assert.equal(rec.headers.host, 'api.example.com');
      assert.equal(rec.headers['x-forwarded-host'], 'api.example.com');
      assert.equal(rec.headers['x-tapwire-mirror'], '1');
      assert.match(String(rec.headers.traceparent), /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
      assert.notEqual(rec.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    }
    assert.ok(await waitFor(() => tw.app.compare!.stats().processed === 2, 5000), 'compare did not process the trials');

    const metrics = (await tw.admin('/metrics')).body.toString();
    assert.match(metrics, /tapwire_collector_received_total\{route="api",result="accepted"\} 2/);
    assert.match(metrics, /tapwire_collector_reference_total\{route="api",outcome="delivered"\} 2/);
    assert.match(metrics, /tapwire_collector_reference_total\{route="api",outcome="timeout"\} 0/);
    assert.match(metrics, /tapwire_mirror_requests_total\{route="api",mirror="v2",outcome="delivered"\} 2/);
    assert.match(metrics, /tapwire_requests_total\{route="api",upstream="v1",code="202"\} 2/);
    assert.ok(balanced(tw, 'api'));
  });

  test('a write reaches the candidate but never the reference unless listed and sandboxed', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(config(v1.url, v2.url));
    const trials: Trial[] = [];
    tw.app.tap.on('trial', (trial) => trials.push(trial));

    const r = await tw.send({ method: 'POST', path: '/orders', headers: SHADOW_HOST, body: '{"item":1}' });
    assert.equal(r.status, 202);
    assert.ok(await waitFor(() => v2.completeCount() === 1, 5000), 'the candidate did not get the POST');
    assert.equal(v2.requests[0]!.body.toString(), '{"item":1}');
    assert.ok(await waitFor(() => balanced(tw, 'api'), 2000));
    assert.equal(v1.requests.length, 0, 'a write reached the reference');
    assert.equal(tw.app.collector!.stats()[0]!.reference.method_filtered, 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(trials.length, 0, 'a trial without a reference');

    // Listed, and the reference's upstream sandboxed: now it gets the write, with its body.
    const h2 = harness(t);
    const w1 = await h2.upstream('w1');
    const w2 = await h2.upstream('w2');
    const tw2 = await h2.tapwire(
      config(w1.url, w2.url, 'collector: { reference: { methods: [GET, POST] } }\n').replace(`v1: { url: ${w1.url} }`, `v1: { url: ${w1.url}, sandboxed: true }`),
    );
    const trials2: Trial[] = [];
    tw2.app.tap.on('trial', (trial) => trials2.push(trial));
    await tw2.send({ method: 'POST', path: '/orders', headers: SHADOW_HOST, body: '{"item":2}' });
    assert.ok(await waitFor(() => trials2.length === 1, 5000), 'no trial for the listed write');
    assert.equal(w1.requests[0]!.method, 'POST');
    assert.equal(w1.requests[0]!.body.toString(), '{"item":2}');
    assert.equal(trials2[0]!.request.body?.toString(), '{"item":2}');
  });

  test('a failed reference is counted and its trial is not compared; the candidate still gets its copy', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', { kind: 'refuse' });
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(config(v1.url, v2.url));
    const trials: Trial[] = [];
    tw.app.tap.on('trial', (trial) => trials.push(trial));
    for (let i = 0; i < 3; i++) assert.equal((await tw.send({ path: `/users/${i}`, headers: SHADOW_HOST })).status, 202);
    assert.ok(await waitFor(() => v2.completeCount() === 3, 5000), 'the candidate did not get every copy');
    assert.ok(await waitFor(() => tw.app.collector!.stats()[0]!.reference.connect_error === 3, 5000), JSON.stringify(tw.app.collector!.stats()));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(trials.length, 0);
    assert.equal(tw.app.compare!.stats().accepted, 0);
    const metrics = (await tw.admin('/metrics')).body.toString();
    assert.match(metrics, /tapwire_collector_reference_total\{route="api",outcome="connect_error"\} 3/);
  });

  test('references past maxInFlight are dropped as overloaded, and one past its timeout ends as timeout', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', { kind: 'never' });
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(config(v1.url, v2.url, 'collector: { reference: { maxInFlight: 1, timeout: 300ms } }\n'));
    const replies = await Promise.all([0, 1, 2].map((i) => tw.send({ path: `/users/${i}`, headers: SHADOW_HOST })));
    assert.deepEqual(
      replies.map((r) => r.status),
      [202, 202, 202],
    );
    assert.ok(replies.every((r) => r.ms < 150), 'the mesh waited on a reference');
    const stats = () => tw.app.collector!.stats()[0]!;
    assert.equal(stats().reference.overloaded, 2);
    assert.equal(stats().referenceInFlight, 1);
    assert.ok(balanced(tw, 'api'));
    assert.ok(await waitFor(() => stats().reference.timeout === 1, 3000), JSON.stringify(stats()));
    assert.equal(stats().referenceInFlight, 0);
    assert.ok(balanced(tw, 'api'));
  });

  test('a body over reference.maxBodyBytes goes to the candidate only', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(
      config(v1.url, v2.url, 'collector: { reference: { methods: [GET, POST], maxBodyBytes: 1KiB } }\n').replace(`v1: { url: ${v1.url} }`, `v1: { url: ${v1.url}, sandboxed: true }`),
    );
    // declared length over the cap, and a chunked body that grows past it
    await tw.send({ method: 'POST', path: '/a', headers: SHADOW_HOST, body: 'x'.repeat(2048) });
    await tw.send({ method: 'POST', path: '/b', headers: SHADOW_HOST, body: ['y'.repeat(800), 'y'.repeat(800)] });
    assert.ok(await waitFor(() => v2.completeCount() === 2, 5000));
    assert.equal(v2.requests.find((r) => r.url === '/b')!.body.length, 1600);
    assert.ok(await waitFor(() => tw.app.collector!.stats()[0]!.reference.body_too_large === 2, 2000), JSON.stringify(tw.app.collector!.stats()));
    assert.equal(v1.requests.length, 0);
  });

  test('copies without a route, malformed copies and writes beyond the route cap are refused and counted', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(config(v1.url, v2.url, '', '    maxBodyBytes: 1KiB\n'));
    const none = await tw.send({ path: '/x', headers: ['Host', 'other.example.com-shadow'] });
    assert.equal(none.status, 404);
    const big = await tw.send({ method: 'POST', path: '/x', headers: SHADOW_HOST, body: 'z'.repeat(2000) });
    assert.equal(big.status, 413);
    const bad = await rawExchange(tw.port, 'GET /a/../b HTTP/1.1\r\nHost: api.example.com-shadow\r\n\r\n');
    assert.match(bad.text, /^HTTP\/1\.1 400 /);
    // One of tapwire's own copies mirrored back to it: refused, never fanned out again.
    const loop = await tw.send({ path: '/users/1', headers: [...SHADOW_HOST, 'x-tapwire-mirror', '1'] });
    assert.equal(loop.status, 508);
    assert.match(loop.body.toString(), /TW_ERR_MIRROR_LOOP/);
    // No Host suffix at all (a mesh that no longer appends it): routed the same.
    const plain = await tw.send({ path: '/users/1', headers: ['Host', 'api.example.com:8080'] });
    assert.equal(plain.status, 202);
    assert.ok(await waitFor(() => v1.requests.length === 1 && v2.requests.length === 1, 5000));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(v1.requests.length + v2.requests.length, 2, 'a refused copy reached an upstream');
    assert.deepEqual(headerValues(v1.requests[0]!.rawHeaders, 'host'), ['api.example.com:8080']);

    const metrics = (await tw.admin('/metrics')).body.toString();
    assert.match(metrics, /tapwire_collector_received_total\{route="",result="no_route"\} 1/);
    assert.match(metrics, /tapwire_collector_received_total\{route="",result="rejected"\} 2/);
    assert.match(metrics, /tapwire_collector_received_total\{route="api",result="rejected"\} 1/);
    assert.match(metrics, /tapwire_collector_received_total\{route="api",result="accepted"\} 1/);
    assert.match(metrics, /tapwire_rejected_requests_total\{code="TW_ERR_NO_ROUTE"\} 1/);
  });

  test('a reload moves the reference to the new primary and its new bounds', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const moved = await h.upstream('moved');
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(config(v1.url, v2.url));
    await tw.send({ path: '/users/1', headers: SHADOW_HOST });
    assert.ok(await waitFor(() => v1.requests.length === 1, 5000));
    // New bounds: GET is no longer sent to the reference (the candidate still gets its copy).
    tw.reload(config(moved.url, v2.url, 'collector: { reference: { methods: [HEAD] } }\n'));
    await tw.send({ path: '/users/2', headers: SHADOW_HOST });
    assert.ok(await waitFor(() => v2.requests.length === 2, 5000));
    assert.ok(await waitFor(() => tw.app.collector!.stats()[0]!.reference.method_filtered === 1, 2000));
    // A new primary: the next reference goes there.
    tw.reload(config(moved.url, v2.url));
    await tw.send({ path: '/users/3', headers: SHADOW_HOST });
    assert.ok(await waitFor(() => moved.requests.length === 1 && v2.requests.length === 3, 5000));
    assert.equal(moved.requests[0]!.url, '/users/3');
    assert.equal(v1.requests.length, 1);
  });

  test('answers 204 with no body when configured', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(config(v1.url, v2.url, 'collector: { respond: { status: 204 } }\n'));
    const r = await tw.send({ path: '/users/1', headers: SHADOW_HOST });
    assert.equal(r.status, 204);
    assert.equal(r.body.length, 0);
    assert.ok(await waitFor(() => v1.requests.length === 1 && v2.requests.length === 1, 5000));
  });
});
