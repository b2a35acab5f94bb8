// Primary faults: refused → 502, too slow → 504, garbage → 502, reset mid-body → the client's connection is cut,
// and a client that goes away aborts the request to the primary.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import { LISTEN, errorCode, harness, request, waitFor, type Upstream } from './helpers/harness.ts';

function config(primary: Upstream, extra = ''): string {
  return `${LISTEN}
upstreams:
  v1: { url: ${primary.url}, connectTimeout: 500ms }
routes:
  - name: all
    primary: v1
    timeout: 400ms
${extra}`;
}

describe('primary faults', () => {
  test('a refused connection to the primary is a 502 JSON error with TW_ERR_UPSTREAM_CONNECT', async (t) => {
    const h = harness(t);
    const tw = await h.tapwire(config(await h.upstream('v1', { kind: 'refuse' })));
    const r = await request(tw.port, { path: '/x' });
    assert.equal(r.status, 502);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(errorCode(r), 'TW_ERR_UPSTREAM_CONNECT');
    assert.ok(r.ms < 2000, `502 took ${r.ms} ms`);
  });

  test('a primary slower than the route timeout is a 504 with TW_ERR_UPSTREAM_TIMEOUT, at about the timeout', async (t) => {
    const h = harness(t);
    const slow = await h.upstream('v1', { kind: 'slow', ms: 5000 });
    const tw = await h.tapwire(config(slow));
    const r = await request(tw.port, { path: '/slow' });
    assert.equal(r.status, 504);
    assert.equal(errorCode(r), 'TW_ERR_UPSTREAM_TIMEOUT');
    assert.ok(r.ms >= 350, `504 came after ${r.ms} ms, before the 400 ms timeout`);
    assert.ok(r.ms < 3000, `504 came after ${r.ms} ms`);
    // The timed-out request to the primary is abandoned, not left open.
    assert.ok(await waitFor(() => slow.requests[0]?.closedEarly === true, 3000), 'the primary request was not closed');
  });

  test('a primary that answers garbage is a 502 JSON error', async (t) => {
    const h = harness(t);
    const tw = await h.tapwire(config(await h.upstream('v1', { kind: 'garbage' })));
    const r = await request(tw.port, { path: '/g' });
    assert.equal(r.status, 502);
    assert.match(String(errorCode(r)), /^TW_ERR_UPSTREAM_/);
  });

  test('a primary that resets mid-body cuts the client connection instead of ending the body as if complete', async (t) => {
    const h = harness(t);
    const tw = await h.tapwire(config(await h.upstream('v1', { kind: 'reset' })));
    const outcome = await request(tw.port, { path: '/r' }).then(
      (r) => `completed with ${r.status} and ${r.body.length} bytes`,
      (err: Error) => `failed: ${err.message}`,
    );
    assert.match(outcome, /^failed/, `the client saw a complete response: ${outcome}`);
  });

  test('a client that goes away before the answer aborts the request to the primary', async (t) => {
    const h = harness(t);
    const never = await h.upstream('v1', { kind: 'never' });
    const tw = await h.tapwire(config(never, '').replace('timeout: 400ms', 'timeout: 10s'));
    const req = http.request({ host: '127.0.0.1', port: tw.port, path: '/wait', agent: false });
    req.on('error', () => undefined);
    req.end();
    assert.ok(await waitFor(() => never.requests.length === 1, 3000), 'the primary never got the request');
    req.destroy();
    assert.ok(await waitFor(() => never.requests[0]!.closedEarly, 3000), 'the primary request stayed open after the client left');
  });

  test('a client that goes away mid-upload aborts the request to the primary, which never sees a complete body', async (t) => {
    const h = harness(t);
    const never = await h.upstream('v1', { kind: 'never' });
    const tw = await h.tapwire(config(never, '').replace('timeout: 400ms', 'timeout: 10s'));
    const socket = net.connect(tw.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((r) => socket.once('connect', r));
    socket.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n' + 'z'.repeat(5000));
    assert.ok(await waitFor(() => (never.requests[0]?.body.length ?? 0) >= 5000, 3000), 'the primary never got the first bytes');
    socket.destroy();
    assert.ok(await waitFor(() => never.requests[0]!.closedEarly, 3000), 'the primary request stayed open');
    assert.equal(never.requests[0]!.complete, false);
  });
});
