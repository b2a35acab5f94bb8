// The connect breaker of a mirror pool: consecutive connect errors open it, it lets a probe through after
// its open window, and one successful connection closes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrorPool } from '../src/mirror/pools.ts';
import { harness, LISTEN, closedPort, waitFor } from './helpers/harness.ts';

const upstream = {
  name: 'm',
  urls: [new URL('http://127.0.0.1:9')],
  timeoutMs: 1000,
  connectTimeoutMs: 1000,
  sandboxed: false,
  maxConnections: 4,
};

test('five consecutive connect errors open the breaker, which lets a probe through after a second', async () => {
  const pool = new MirrorPool(upstream, 1000);
  try {
    for (let i = 0; i < 4; i++) pool.connected(false, 1000);
    assert.equal(pool.breakerOpen(1000), false, 'four failures must not open it');
    pool.connected(false, 1000);
    assert.equal(pool.breakerOpen(1500), true);
    assert.equal(pool.breakerOpen(2001), false, 'after the open window one copy is tried again');
    pool.connected(false, 2001);
    assert.equal(pool.breakerOpen(2500), true, 'a failed probe opens it again');
    pool.connected(true, 0);
    assert.equal(pool.breakerOpen(2500), false, 'a success closes it');
  } finally {
    await pool.close();
  }
});

test('copies to a refused mirror all end as connect_error, breaker or not, and the books balance', async (t) => {
  const h = harness(t);
  const primary = await h.upstream('primary');
  const port = await closedPort();
  const tw = await h.tapwire(
    `${LISTEN}upstreams:\n  p: { url: "${primary.url}" }\n  m: { url: "http://127.0.0.1:${port}" }\nroutes:\n  - name: all\n    primary: p\n    mirrors: [ { upstream: m } ]\n`,
  );
  for (let i = 0; i < 40; i++) assert.equal((await tw.send({ path: `/r${i}` })).status, 200);
  const settled = await waitFor(() => tw.app.stats.snapshot().routes[0]!.mirrors[0]!.outcomes.connect_error === 40);
  assert.ok(settled, JSON.stringify(tw.app.stats.snapshot().routes[0]!.mirrors[0]));
  assert.deepEqual(tw.app.stats.reconcile({ expectIdle: true }), []);
});
