// Reload under load (in process): configs swap while requests stream over keep-alive connections; not one
// request fails, no connection is dropped, and the new routes and mirrors take effect. And a graceful stop
// counts a copy still in flight at the drain deadline as `shutdown`.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { LISTEN, harness, request, waitFor, type Upstream } from './helpers/harness.ts';

function config(primary: Upstream, mirror: Upstream, extraRoute = ''): string {
  return `${LISTEN}
upstreams:
  primary: { url: ${primary.url} }
  mirror: { url: ${mirror.url} }
routes:${extraRoute}
  - name: main
    primary: primary
    mirrors: [{ upstream: mirror }]
`;
}

describe('reload', () => {
  test('swapping routes and mirrors six times under keep-alive load fails no request and drops no connection', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const m1 = await h.upstream('m1');
    const m2 = await h.upstream('m2');
    const configA = config(v1, m1);
    const configB = config(v2, m2, `\n  - name: extra\n    match: { path: { prefix: /extra } }\n    primary: primary`);
    const tw = await h.tapwire(configA);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    t.after(() => agent.destroy());
    const sockets = new Set<Socket>();
    agent.on('free', (s: Socket) => sockets.add(s));

    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        const i = sent++;
        try {
          const r = await request(tw.port, { path: `/load/${w}/${i}`, agent, timeoutMs: 5000 });
          if (r.status !== 200 || !/^hello from v[12]$/.test(r.body.toString())) failures.push(`${i}: ${r.status} ${r.body.toString()}`);
        } catch (err) {
          failures.push(`${i}: ${(err as Error).message}`);
        }
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 150));
      tw.reload(i % 2 === 0 ? configB : configA);
    }
    // End on B: the new primary, mirror and route must be in effect.
    tw.reload(configB);
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(workers);

    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.ok(sent > 50, `only ${sent} requests were sent`);
    assert.ok(sockets.size <= 4, `${sockets.size} client connections were used: some were dropped by a reload`);

    const before = { v1: v1.requests.length, v2: v2.requests.length, m2: m2.requests.length };
    const r = await request(tw.port, { path: '/after', agent });
    assert.equal(r.body.toString(), 'hello from v2');
    assert.equal(v1.requests.length, before.v1);
    assert.ok(await waitFor(() => m2.requests.length === before.m2 + 1, 3000), 'the new mirror did not get the copy');
    const extra = await request(tw.port, { path: '/extra/x', agent });
    assert.equal(extra.status, 200);
    assert.equal(tw.app.config().routes[0]!.name, 'extra');

    assert.ok(await waitFor(() => tw.app.mirroring.inFlight === 0, 5000));
    assert.deepEqual(tw.app.stats.reconcile({ expectIdle: true }), []);
    assert.equal(tw.app.stats.snapshot().reloads.ok, 7);
  });
});

describe('graceful stop', () => {
  test('stop waits for the request in flight, then counts a copy still in flight at the drain deadline as shutdown', async (t) => {
    const h = harness(t);
    const slow = await h.upstream('slow', { kind: 'slow', ms: 400 });
    const never = await h.upstream('never', { kind: 'never' });
    const tw = await h.tapwire(config(slow, never).replace('mirrors: [{ upstream: mirror }]', 'mirrors: [{ upstream: mirror, timeout: 30s }]'));
    const reply = request(tw.port, { path: '/in-flight' });
    assert.ok(await waitFor(() => slow.requests.length === 1 && never.requests.length === 1, 3000));
    const started = performance.now();
    await tw.stop();
    const took = performance.now() - started;
    const r = await reply;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow hello from slow');
    // drainTimeout is 1 s: the copy was given until then, not its own 30 s timeout.
    assert.ok(took >= 800 && took < 5000, `stop took ${took.toFixed(0)} ms`);
    const mirror = tw.app.stats.snapshot().routes[0]!.mirrors[0]!;
    assert.equal(mirror.outcomes.shutdown, 1);
    assert.equal(mirror.inFlight, 0);
    assert.deepEqual(tw.app.stats.reconcile({ expectIdle: true }), []);
    assert.ok(await waitFor(() => never.requests[0]!.closedEarly, 3000), 'the copy was not aborted');
  });
});
