// The trial handed to the tap: one per mirrored request, with the primary's exchange and each sent copy's
// exchange, response bodies read up to mirroring.maxResponseBytes, so that comparison can plug in later.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Trial } from '../src/core/exchange.ts';
import { LISTEN, harness, waitFor } from './helpers/harness.ts';

test('each mirrored request yields one trial with the primary and every sent copy, bodies capped', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1', { kind: 'normal', body: 'x'.repeat(6000) });
  const healthy = await h.upstream('healthy');
  const endless = await h.upstream('endless', { kind: 'endless' });
  const refuse = await h.upstream('refuse', { kind: 'refuse' });
  const tw = await h.tapwire(`${LISTEN}
mirroring:
  maxResponseBytes: 4KiB
upstreams:
  v1: { url: ${v1.url} }
  healthy: { url: ${healthy.url}, sandboxed: true }
  endless: { url: ${endless.url} }
  refuse: { url: ${refuse.url} }
routes:
  - name: r
    primary: v1
    mirrors:
      - { upstream: healthy, methods: [GET, POST] }
      - { upstream: endless }
      - { upstream: refuse }
`);
  const trials: Trial[] = [];
  tw.app.tap.on('trial', (trial) => trials.push(trial));

  const r = await tw.send({ path: '/t?q=1', headers: ['X-Id', '7'] });
  assert.equal(r.body.length, 6000, 'the client gets the whole body whatever the trial keeps');
  assert.ok(await waitFor(() => trials.length === 1, 5000), 'no trial');
  const trial = trials[0]!;
  assert.equal(trial.route, 'r');
  assert.equal(trial.request.method, 'GET');
  assert.equal(trial.request.path, '/t?q=1');
  assert.equal(trial.primary.role, 'primary');
  assert.equal(trial.primary.status, 200);
  assert.equal(trial.primary.bodyBytes, 6000);
  assert.equal(trial.primary.body?.length, 4096);
  assert.equal(trial.primary.truncated, true);

  const by = new Map(trial.mirrors.map((e) => [e.upstream, e]));
  assert.deepEqual([...by.keys()].sort(), ['endless', 'healthy', 'refuse']);
  assert.equal(by.get('healthy')!.outcome, 'delivered');
  assert.equal(by.get('healthy')!.status, 200);
  assert.equal(by.get('healthy')!.body?.toString(), 'hello from healthy');
  assert.equal(by.get('endless')!.outcome, 'delivered');
  assert.equal(by.get('endless')!.truncated, true);
  assert.equal(by.get('endless')!.body?.length, 4096);
  assert.equal(by.get('refuse')!.outcome, 'connect_error');
  assert.equal(by.get('refuse')!.status, undefined);

  // A write is mirrored only to the sandboxed mirror that lists it; its trial carries the request body.
  await tw.send({ method: 'POST', path: '/w', body: 'payload' });
  assert.ok(await waitFor(() => trials.length === 2, 5000), 'no trial for the POST');
  assert.equal(trials[1]!.request.body?.toString(), 'payload');
  assert.deepEqual(
    trials[1]!.mirrors.map((e) => e.upstream),
    ['healthy'],
  );
});
