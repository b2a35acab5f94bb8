// Upstream pools: keep-alive reuse, round-robin over `urls` (primaries and mirrors), and the one safe retry
// when a reused keep-alive connection turns out to be closed.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { LISTEN, errorCode, harness, rawExchange, waitFor } from './helpers/harness.ts';

describe('pools', () => {
  test('requests alternate round-robin over the urls of the primary and of a mirror', async (t) => {
    const h = harness(t);
    const a = await h.upstream('a');
    const b = await h.upstream('b');
    const ma = await h.upstream('ma');
    const mb = await h.upstream('mb');
    const tw = await h.tapwire(`${LISTEN}
upstreams:
  v1: { urls: [${a.url}, ${b.url}] }
  m: { urls: [${ma.url}, ${mb.url}] }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: m }]
`);
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await tw.send({ path: `/rr/${i}` })).body.toString());
    assert.deepEqual(bodies, ['hello from a', 'hello from b', 'hello from a', 'hello from b', 'hello from a', 'hello from b']);
    assert.ok(await waitFor(() => ma.requests.length + mb.requests.length === 6, 3000));
    assert.equal(ma.requests.length, 3);
    assert.equal(mb.requests.length, 3);
  });

  test('an HTTP/1.0 request without Host is sent with the Host of the url it actually goes to', async (t) => {
    const h = harness(t);
    const a = await h.upstream('a');
    const b = await h.upstream('b');
    const tw = await h.tapwire(`${LISTEN}
upstreams:
  v1: { urls: [${a.url}, ${b.url}] }
routes:
  - name: r
    primary: v1
`);
    for (let i = 0; i < 4; i++) {
      const r = await rawExchange(tw.port, `GET /old/${i} HTTP/1.0\r\n\r\n`);
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 2);
    for (const u of [a, b]) for (const r of u.requests) assert.equal(r.headers.host, `127.0.0.1:${u.port}`, `${u.name} got ${r.url} with another upstream's Host`);
  });

  test('connections to the primary are kept alive and reused across client connections', async (t) => {
    const h = harness(t);
    const sockets = new Set<Socket>();
    const v1 = await h.upstream('v1', {
      kind: 'custom',
      handle: (req, res) => {
        sockets.add(req.socket);
        req.resume();
        req.on('end', () => res.end('ok'));
      },
    });
    const tw = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
routes:
  - name: r
    primary: v1
`);
    for (let i = 0; i < 10; i++) assert.equal((await tw.send({ path: `/k/${i}` })).status, 200);
    assert.equal(v1.requests.length, 10);
    assert.equal(sockets.size, 1, `${sockets.size} connections for 10 sequential requests`);
  });

  test('a GET on a reused connection the primary has closed is retried once on a new one; a POST is never retried', async (t) => {
    const h = harness(t);
    const served = new WeakMap<Socket, number>();
    const v1 = await h.upstream('v1', {
      kind: 'custom',
      handle: (req, res) => {
        // Every connection serves one request; a second one on it is dropped without an answer, like a
        // keep-alive connection the server closed just as the proxy reused it.
        const n = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, n);
        if (n > 1) return void req.socket.destroy();
        // A write is always dropped the same way: it must reach the primary once, never twice.
        if (req.method === 'POST') return void req.on('end', () => req.socket.destroy()).resume();
        req.resume();
        req.on('end', () => res.end(`ok ${req.method}`));
      },
    });
    const tw = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
routes:
  - name: r
    primary: v1
`);
    assert.equal((await tw.send({ path: '/first' })).body.toString(), 'ok GET');
    const second = await tw.send({ path: '/second' });
    assert.equal(second.status, 200);
    assert.equal(second.body.toString(), 'ok GET');
    assert.deepEqual(
      v1.requests.map((r) => r.url),
      ['/first', '/second', '/second'],
    );

    const post = await tw.send({ method: 'POST', path: '/write', body: 'once' });
    assert.equal(post.status, 502);
    assert.equal(errorCode(post), 'TW_ERR_UPSTREAM_RESET');
    assert.equal(v1.requests.filter((r) => r.url === '/write').length, 1, 'a POST was sent twice');
  });
});
