// Mirror policies end to end: which copies go out (methods, sandboxing, body caps, in-flight and byte budgets,
// sticky sampling) and that each decision is counted as its outcome.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import type { ResolvedConfig } from '../src/config/types.ts';
import { loadConfigText } from '../src/config/load.ts';
import { shouldSample } from '../src/mirror/sample.ts';
import { LISTEN, configFrom, harness, request, waitFor, type Running, type Upstream } from './helpers/harness.ts';

function mirrorStats(tw: Running, route: string, mirror: string) {
  const r = tw.app.stats.snapshot().routes.find((x) => x.route === route);
  const m = r?.mirrors.find((x) => x.mirror === mirror);
  assert.ok(r && m, `no stats for ${route}/${mirror}`);
  return { route: r, mirror: m };
}

async function settled(tw: Running): Promise<void> {
  assert.ok(await waitFor(() => tw.app.mirroring.inFlight === 0, 5000), 'copies still in flight');
  assert.deepEqual(tw.app.stats.reconcile({ expectIdle: true }), []);
}

describe('methods and sandboxing', () => {
  test('writes are not mirrored by default: each is counted method_filtered and the primary still gets it', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
  v2: { url: ${v2.url}, sandboxed: true }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: v2 }]
`);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const r = await tw.send({ method, path: '/w', body: 'data' });
      assert.equal(r.status, 200);
    }
    for (const method of ['GET', 'HEAD', 'OPTIONS']) assert.equal((await tw.send({ method, path: '/r' })).status, 200);
    await settled(tw);
    assert.equal(v1.requests.length, 7);
    assert.deepEqual(
      v2.requests.map((r) => r.method),
      ['GET', 'HEAD', 'OPTIONS'],
    );
    const { mirror } = mirrorStats(tw, 'r', 'v2');
    assert.equal(mirror.outcomes.method_filtered, 4);
    assert.equal(mirror.outcomes.delivered, 3);
    assert.equal(mirror.matched, 7);
  });

  test('a config that mirrors writes to a non-sandboxed upstream is refused', () => {
    const loaded = loadConfigText(`${LISTEN}
upstreams:
  v1: { url: http://127.0.0.1:1 }
  v2: { url: http://127.0.0.1:2 }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: v2, methods: [GET, POST] }]
`);
    assert.equal(loaded.ok, false);
    assert.ok(!loaded.ok && loaded.issues.some((i) => /sandboxed/.test(i.message) && i.path.startsWith('routes[0].mirrors[0]')), JSON.stringify(loaded));
  });

  test('even a resolved config that lists writes never sends them to an upstream that is not sandboxed', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const yaml = `${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
  v2: { url: ${v2.url}, sandboxed: true }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: v2, methods: [GET, POST] }]
`;
    const tw = await h.tapwire(yaml);
    assert.equal((await tw.send({ method: 'POST', path: '/a', body: 'one' })).status, 200);
    assert.ok(await waitFor(() => v2.completeCount() === 1, 3000), 'the sandboxed mirror did not get the write');
    assert.equal(v2.requests[0]!.body.toString(), 'one');

    // Defence in depth: the data plane checks sandboxing itself, whatever hands it a config.
    const good = configFrom(yaml);
    const unsandboxed: ResolvedConfig = {
      ...good,
      upstreams: new Map([...good.upstreams].map(([n, u]) => [n, n === 'v2' ? { ...u, sandboxed: false } : u])),
    };
    tw.app.reload(unsandboxed);
    assert.equal((await tw.send({ method: 'POST', path: '/b', body: 'two' })).status, 200);
    assert.equal((await tw.send({ method: 'GET', path: '/c' })).status, 200);
    await settled(tw);
    assert.deepEqual(
      v2.requests.map((r) => `${r.method} ${r.url}`),
      ['POST /a', 'GET /c'],
    );
    assert.equal(mirrorStats(tw, 'r', 'v2').mirror.outcomes.method_filtered, 1);
  });
});

describe('body caps and budgets', () => {
  async function setup(t: Parameters<typeof harness>[0], extra = '') {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const tw = await h.tapwire(`${LISTEN}${extra}
upstreams:
  v1: { url: ${v1.url} }
  v2: { url: ${v2.url}, sandboxed: true }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: v2, methods: [POST], maxBodyBytes: 1KiB }]
`);
    return { v1, v2, tw };
  }

  test('a declared body over the mirror maxBodyBytes is body_too_large while the primary gets all of it', async (t) => {
    const { v1, v2, tw } = await setup(t);
    const body = Buffer.alloc(64 * 1024, 0x41);
    assert.equal((await tw.send({ method: 'POST', path: '/big', body })).status, 200);
    assert.equal((await tw.send({ method: 'POST', path: '/small', body: 'x'.repeat(1024) })).status, 200);
    await settled(tw);
    assert.ok(v1.requests[0]!.body.equals(body));
    assert.deepEqual(
      v2.requests.map((r) => [r.url, r.body.length]),
      [['/small', 1024]],
    );
    const { mirror } = mirrorStats(tw, 'r', 'v2');
    assert.equal(mirror.outcomes.body_too_large, 1);
    assert.equal(mirror.outcomes.delivered, 1);
  });

  test('a chunked body that grows over the mirror cap is body_too_large and the primary still gets every byte', async (t) => {
    const { v1, v2, tw } = await setup(t);
    const parts = Array.from({ length: 8 }, (_, i) => Buffer.alloc(4096, 0x30 + i));
    assert.equal((await tw.send({ method: 'POST', path: '/stream', body: parts })).status, 200);
    await settled(tw);
    assert.ok(v1.requests[0]!.body.equals(Buffer.concat(parts)));
    assert.equal(v2.requests.length, 0);
    assert.equal(mirrorStats(tw, 'r', 'v2').mirror.outcomes.body_too_large, 1);
  });

  test('when the global copy-byte budget is spent the copy is overloaded and the primary unaffected', async (t) => {
    // Three uploads in progress at once, 900 bytes each held for copies: the third would pass the 2 KiB budget.
    const { v1, v2, tw } = await setup(t, '\nmirroring:\n  maxBufferedBytes: 2KiB\n');
    const sockets = [0, 1, 2].map(() => net.connect(tw.port, '127.0.0.1'));
    const replies = sockets.map(
      (s) =>
        new Promise<string>((resolve) => {
          let text = '';
          s.on('data', (c: Buffer) => (text += c.toString('latin1')));
          s.on('close', () => resolve(text));
          s.on('error', () => undefined);
        }),
    );
    for (const [i, s] of sockets.entries()) {
      s.write(`POST /budget/${i} HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(900)}`);
      assert.ok(await waitFor(() => v1.requests.some((r) => r.url === `/budget/${i}` && r.body.length === 900), 3000), `upload ${i} did not start`);
    }
    assert.equal(tw.app.mirroring.bufferedBytes, 1800);
    for (const s of sockets) s.write('b'.repeat(100));
    for (const text of await Promise.all(replies)) assert.match(text, /^HTTP\/1\.1 200 /);
    await settled(tw);
    assert.deepEqual(
      v1.requests.map((r) => r.body.length),
      [1000, 1000, 1000],
    );
    assert.deepEqual(v2.requests.map((r) => r.url).sort(), ['/budget/0', '/budget/1']);
    const { mirror } = mirrorStats(tw, 'r', 'v2');
    assert.equal(mirror.outcomes.overloaded, 1);
    assert.equal(mirror.outcomes.delivered, 2);
    assert.equal(tw.app.mirroring.bufferedBytes, 0);
  });
});

describe('in-flight bound', () => {
  test('beyond maxInFlight the copy is dropped as overloaded, never queued, and the client is not slowed', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const never = await h.upstream('never', { kind: 'never' });
    const tw = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
  never: { url: ${never.url} }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: never, maxInFlight: 2, timeout: 600ms }]
`);
    for (let i = 0; i < 5; i++) {
      const r = await tw.send({ path: `/q${i}` });
      assert.equal(r.status, 200);
      assert.ok(r.ms < 500, `request ${i} took ${r.ms} ms`);
    }
    const during = mirrorStats(tw, 'r', 'never').mirror;
    assert.equal(during.inFlight, 2);
    assert.equal(during.outcomes.overloaded, 3);
    await settled(tw);
    const { mirror } = mirrorStats(tw, 'r', 'never');
    assert.equal(mirror.outcomes.timeout, 2);
    assert.equal(mirror.outcomes.overloaded, 3);
    assert.equal(never.requests.length, 2);
    // Once the in-flight copies ended, copies go out again.
    await tw.send({ path: '/later' });
    assert.ok(await waitFor(() => never.requests.length === 3, 3000));
  });
});

describe('sticky sampling through the proxy', () => {
  const KEYS = 120;

  async function run(t: Parameters<typeof harness>[0], sampleBy: string, send: (tw: Running, key: string) => Promise<unknown>, trusted = '[]') {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const m30 = await h.upstream('m30');
    const m10 = await h.upstream('m10');
    const tw = await h.tapwire(`${LISTEN}trustedProxies: ${trusted}
upstreams:
  v1: { url: ${v1.url} }
  m30: { url: ${m30.url} }
  m10: { url: ${m10.url} }
routes:
  - name: r
    primary: v1
    mirrors:
      - { upstream: m30, percentage: 30, sampleBy: "${sampleBy}" }
      - { upstream: m10, percentage: 10, sampleBy: "${sampleBy}" }
`);
    const keys = Array.from({ length: KEYS }, (_, i) => (sampleBy === 'source' ? `10.0.${i >> 8}.${i & 255}` : `key-${i}`));
    // Every key three times, interleaved, so a decision that depends on anything but the key shows up.
    for (let round = 0; round < 3; round++) for (const k of keys) await send(tw, k);
    await settled(tw);
    return { tw, keys, m30, m10 };
  }

  function seenKeys(u: Upstream, keyOf: (url: string, headers: Record<string, unknown>) => string): Map<string, number> {
    const seen = new Map<string, number>();
    for (const r of u.requests) {
      const k = keyOf(r.url, r.headers);
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    return seen;
  }

  function assertSticky(keys: string[], m30: Upstream, m10: Upstream, keyOf: (url: string, headers: Record<string, unknown>) => string): void {
    const at30 = seenKeys(m30, keyOf);
    const at10 = seenKeys(m10, keyOf);
    for (const k of keys) {
      assert.equal(at30.get(k) ?? 0, shouldSample(30, k, Math.random) ? 3 : 0, `key ${k} at 30%`);
      assert.equal(at10.get(k) ?? 0, shouldSample(10, k, Math.random) ? 3 : 0, `key ${k} at 10%`);
      if (at10.has(k)) assert.ok(at30.has(k), `key ${k} mirrored at 10% but not at 30%`);
    }
    // Not degenerate: some keys in, most out.
    assert.ok(at30.size > KEYS * 0.1 && at30.size < KEYS * 0.55, `${at30.size} keys of ${KEYS} at 30%`);
    assert.ok(at10.size > 0 && at10.size < at30.size, `${at10.size} keys at 10%`);
  }

  test('sampleBy header gives every user id the same decision on every request, 10% a subset of 30%', async (t) => {
    const { keys, m30, m10, tw } = await run(t, 'header:X-User-Id', (tw, k) => tw.send({ path: '/h', headers: ['x-user-id', k] }));
    assertSticky(keys, m30, m10, (_u, h) => String(h['x-user-id']));
    const { mirror } = mirrorStats(tw, 'r', 'm30');
    assert.equal(mirror.matched, KEYS * 3);
    assert.equal(mirror.outcomes.delivered + mirror.outcomes.sampled_out, KEYS * 3);
  });

  test('sampleBy cookie is sticky per cookie value', async (t) => {
    const { keys, m30, m10 } = await run(t, 'cookie:sid', (tw, k) => tw.send({ path: '/c', headers: ['Cookie', `theme=dark; sid=${k}; x=1`] }));
    assertSticky(keys, m30, m10, (_u, h) => /sid=([^;]+)/.exec(String(h.cookie))![1]!);
  });

  test('sampleBy query is sticky per query parameter value', async (t) => {
    const { keys, m30, m10 } = await run(t, 'query:tenant', (tw, k) => tw.send({ path: `/q?a=1&tenant=${k}` }));
    assertSticky(keys, m30, m10, (u) => new URL(u, 'http://x').searchParams.get('tenant')!);
  });

  test('sampleBy source is sticky per client address, as resolved through trusted proxies', async (t) => {
    const { keys, m30, m10 } = await run(t, 'source', (tw, k) => tw.send({ path: '/s', headers: ['X-Forwarded-For', k] }), '[127.0.0.1/32]');
    assertSticky(keys, m30, m10, (_u, h) => String(h['x-forwarded-for']).split(',')[0]!.trim());
  });

  test('a request without the sticky key falls back to random sampling at the same percentage', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const m = await h.upstream('m');
    let draw = 0;
    const draws = [0.1, 0.9, 0.2, 0.8]; // below 50% twice
    const tw = await h.tapwire(
      `${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
  m: { url: ${m.url} }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: m, percentage: 50, sampleBy: "header:x-user-id" }]
`,
      { random: () => draws[draw++ % draws.length]! },
    );
    for (let i = 0; i < 4; i++) await tw.send({ path: `/n${i}` });
    await settled(tw);
    assert.deepEqual(
      m.requests.map((r) => r.url),
      ['/n0', '/n2'],
    );
  });
});

describe('sampling rate through the proxy', () => {
  test('random sampling at 25% over 400 requests lands within statistical bounds and sampled_out counts the rest', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const m = await h.upstream('m');
    const tw = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
  m: { url: ${m.url} }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: m, percentage: 25 }]
`);
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 4 });
    t.after(() => agent.destroy());
    const n = 400;
    for (let i = 0; i < n; i += 4) await Promise.all([0, 1, 2, 3].map((j) => request(tw.port, { path: `/r${i + j}`, agent })));
    await settled(tw);
    const { mirror } = mirrorStats(tw, 'r', 'm');
    const sd = Math.sqrt(n * 0.25 * 0.75);
    assert.ok(Math.abs(mirror.outcomes.delivered - n * 0.25) < 5 * sd, `${mirror.outcomes.delivered} of ${n} mirrored at 25%`);
    assert.equal(mirror.outcomes.delivered + mirror.outcomes.sampled_out, n);
    assert.equal(m.requests.length, mirror.outcomes.delivered);
  });
});
