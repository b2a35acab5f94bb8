// Safe limits and refusals on the listener (reliability-anchors §1.4, §2): long request lines, too many or too
// large headers, bodies over the route cap, CONNECT, duplicate Host, absolute-form targets. Refused requests
// reach no upstream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LISTEN, errorCode, harness, rawExchange, request, startTapwire, startUpstream, type Running, type Upstream } from './helpers/harness.ts';

let primary: Upstream;
let bystander: Upstream;
let tw: Running;

before(async () => {
  primary = await startUpstream('v1');
  // Listens, but no route points at it: an absolute-form target naming it must never reach it.
  bystander = await startUpstream('bystander');
  tw = await startTapwire(`${LISTEN}
upstreams:
  v1: { url: ${primary.url} }
routes:
  - name: small
    match: { path: { prefix: /small } }
    primary: v1
    maxBodyBytes: 1KiB
  - name: all
    primary: v1
`);
});
after(async () => {
  await tw.stop();
  await primary.close();
  await bystander.close();
});

/** Runs `fn` and asserts that it caused no request at any upstream. */
async function reachesNobody<T>(fn: () => Promise<T>): Promise<T> {
  const before = primary.requests.length + bystander.requests.length;
  const out = await fn();
  assert.equal(primary.requests.length + bystander.requests.length, before, 'an upstream received a refused request');
  return out;
}

const head = (lines: string[]): string => `${lines.join('\r\n')}\r\n\r\n`;

describe('request size limits', () => {
  test('a request line just under 8 KiB is served and one over it is answered 414', async () => {
    const ok = await request(tw.port, { path: `/${'a'.repeat(8000)}` });
    assert.equal(ok.status, 200);
    const r = await reachesNobody(() => request(tw.port, { path: `/${'a'.repeat(9000)}` }));
    assert.equal(r.status, 414);
    assert.equal(errorCode(r), 'TW_ERR_URI_TOO_LONG');
  });

  test('100 header fields are served and 101 are answered 431', async () => {
    const fields = (n: number): string[] => Array.from({ length: n }, (_, i) => `X-H${i}: v`);
    const ok = await rawExchange(tw.port, head(['GET / HTTP/1.1', 'Host: a', 'Connection: close', ...fields(98)])); // 100 fields
    assert.equal(ok.status, 200, ok.text);
    const r = await reachesNobody(() => rawExchange(tw.port, head(['GET / HTTP/1.1', 'Host: a', 'Connection: close', ...fields(99)]))); // 101
    assert.equal(r.status, 431);
    assert.match(r.text, /TW_ERR_HEADERS_TOO_LARGE/);
  });

  test('more than 16 KiB of headers is answered 431 and the connection closed', async () => {
    const r = await reachesNobody(() => rawExchange(tw.port, head(['GET / HTTP/1.1', 'Host: a', `X-Big: ${'b'.repeat(17 * 1024)}`])));
    assert.equal(r.status, 431);
    assert.ok(r.closed);
  });

  test('a Content-Length over the route maxBodyBytes is answered 413 before anything reaches the primary', async () => {
    const r = await reachesNobody(() =>
      rawExchange(tw.port, head(['POST /small HTTP/1.1', 'Host: a', 'Content-Length: 1025']) + 'x'.repeat(1025)),
    );
    assert.equal(r.status, 413);
    assert.match(r.text, /TW_ERR_BODY_TOO_LARGE/);
    assert.match(r.text, /connection: close/i);
  });

  test('a body of exactly maxBodyBytes is forwarded whole', async () => {
    const r = await request(tw.port, { method: 'POST', path: '/small', body: 'y'.repeat(1024) });
    assert.equal(r.status, 200);
    assert.equal(primary.requests.at(-1)!.body.length, 1024);
  });

  test('a chunked body that grows over maxBodyBytes is answered 413 and the primary never gets it whole', async () => {
    const chunk = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`;
    const body = [chunk('a'.repeat(600)), chunk('b'.repeat(600)), chunk('c'.repeat(600)), chunk('d'.repeat(600)), '0\r\n\r\n'].join('');
    const before = primary.requests.length;
    const r = await rawExchange(tw.port, head(['POST /small/chunked HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked']) + body);
    assert.equal(r.status, 413, r.text);
    assert.match(r.text, /TW_ERR_BODY_TOO_LARGE/);
    assert.ok(r.closed);
    for (const got of primary.requests.slice(before)) {
      assert.equal(got.complete, false, 'the primary received the whole oversized body');
      assert.ok(got.body.length <= 1024);
    }
  });

  test('a chunked body over the cap sent slowly, chunk by chunk, still gets a whole 413 answer', async () => {
    const r = await request(tw.port, {
      method: 'POST',
      path: '/small/slow',
      body: Array.from({ length: 4 }, () => Buffer.alloc(600, 0x61)),
    }).catch((err: Error) => err);
    assert.ok(!(r instanceof Error), `the client got no answer: ${r instanceof Error ? r.message : ''}`);
    assert.equal(r.status, 413);
    assert.equal(errorCode(r), 'TW_ERR_BODY_TOO_LARGE');
  });
});

describe('refused request shapes', () => {
  test('CONNECT is answered 405 and opens no tunnel', async () => {
    const r = await reachesNobody(() => rawExchange(tw.port, head([`CONNECT 127.0.0.1:${bystander.port} HTTP/1.1`, `Host: 127.0.0.1:${bystander.port}`])));
    assert.equal(r.status, 405);
    assert.match(r.text, /TW_ERR_METHOD_NOT_ALLOWED/);
    assert.ok(r.closed);
  });

  test('two Host headers are answered 400', async () => {
    const r = await reachesNobody(() => rawExchange(tw.port, head(['GET / HTTP/1.1', 'Host: a.example', 'Host: b.example'])));
    assert.equal(r.status, 400);
    assert.ok(r.closed);
  });

  test('an absolute-form target whose authority differs from Host is answered 400 and reaches nothing', async () => {
    const r = await reachesNobody(() =>
      rawExchange(tw.port, head([`GET http://127.0.0.1:${bystander.port}/steal HTTP/1.1`, `Host: 127.0.0.1:${tw.port}`])),
    );
    assert.equal(r.status, 400);
    assert.match(r.text, /TW_ERR_BAD_REQUEST/);
  });

  test('an absolute-form target naming the Host is routed by configuration and forwarded in origin form', async () => {
    const r = await rawExchange(tw.port, head([`GET http://api.example/abs?q=1 HTTP/1.1`, 'Host: api.example', 'Connection: close']));
    assert.equal(r.status, 200, r.text);
    assert.equal(primary.requests.at(-1)!.url, '/abs?q=1');
    assert.equal(bystander.requests.length, 0);
  });

  test('Content-Length together with Transfer-Encoding is answered 400 and never forwarded', async () => {
    const r = await reachesNobody(() =>
      rawExchange(tw.port, head(['POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Transfer-Encoding: chunked']) + '0\r\n\r\n'),
    );
    assert.equal(r.status, 400);
  });
});

test('100 Continue is sent only once the request passed its checks: a body over the cap gets 413 without it', async (t) => {
  const h = harness(t);
  const primary = await h.upstream('primary');
  const tw = await h.tapwire(
    `${LISTEN}upstreams:\n  p: { url: "${primary.url}" }\nroutes:\n  - name: all\n    primary: p\n    maxBodyBytes: 1KiB\n`,
  );
  const refused = await rawExchange(
    tw.port,
    'POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n',
  );
  const text = refused.text;
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.doesNotMatch(text, /100 Continue/);
  const accepted = await rawExchange(tw.port, 'POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', 500);
  assert.match(accepted.text, /^HTTP\/1\.1 100 Continue\r\n/);
  assert.equal(primary.requests.length, 0, 'the refused body never reaches the primary');
});
