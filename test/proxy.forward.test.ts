// Forwarding to the primary: the client gets the primary's answer byte for byte, request bodies and headers
// arrive intact, hop-by-hop headers (and those named in Connection) are removed before X-Forwarded-* are added.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  FIXED_DATE,
  LISTEN,
  endToEnd,
  headerValues,
  request,
  startTapwire,
  startUpstream,
  type Recorded,
  type Running,
  type Upstream,
} from './helpers/harness.ts';

const BIG = 8 * 1024 * 1024;

/** Deterministic bytes, every value 0..255 (so invalid UTF-8 too). */
function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The primary's answers, one per path; every answer is deterministic so two requests can be compared. */
function answers(req: IncomingMessage, res: ServerResponse, _rec: Recorded): void {
  const path = (req.url ?? '').split('?')[0];
  const base = ['Date', FIXED_DATE, 'Server', 'fixture/1.0'];
  req.resume();
  req.on('end', () => {
    switch (path) {
      case '/plain':
        res.writeHead(201, 'Created Fine', [
          ...base,
          'Content-Type',
          'application/json; charset=utf-8',
          'X-MiXeD-CaSe',
          'kept',
          'Set-Cookie',
          'a=1; Path=/',
          'Set-Cookie',
          'b=2; HttpOnly',
          'Cache-Control',
          'no-store',
          'Content-Length',
          '17',
        ]);
        res.end('{"hello":"world"}');
        return;
      case '/chunked': {
        res.writeHead(200, [...base, 'Content-Type', 'text/plain']);
        let i = 0;
        const tick = (): void => {
          if (i === 5) return void res.end('end\n');
          res.write(`chunk ${i++}\n`);
          setTimeout(tick, 5);
        };
        tick();
        return;
      }
      case '/big': {
        const body = pattern(BIG, 7);
        res.writeHead(200, [...base, 'Content-Type', 'application/octet-stream', 'Content-Length', String(BIG)]);
        let off = 0;
        const pump = (): void => {
          while (off < BIG) {
            const end = Math.min(off + 64 * 1024, BIG);
            const ok = res.write(body.subarray(off, end));
            off = end;
            if (!ok) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      case '/head':
        // HEAD: the length of the body a GET would get, and no body.
        res.writeHead(200, [...base, 'Content-Type', 'text/html', 'Content-Length', '1234']);
        res.end();
        return;
      case '/204':
        res.writeHead(204, [...base, 'X-Deleted', 'yes']);
        res.end();
        return;
      case '/304':
        res.writeHead(304, [...base, 'ETag', '"v1"', 'Cache-Control', 'max-age=60']);
        res.end();
        return;
      case '/hop':
        res.writeHead(200, [...base, 'Connection', 'X-Hop-Secret', 'X-Hop-Secret', 'internal', 'Keep-Alive', 'timeout=5', 'X-End', 'to-end', 'Content-Length', '2']);
        res.end('ok');
        return;
      default:
        res.writeHead(404, [...base, 'Content-Length', '0']);
        res.end();
    }
  });
}

let primary: Upstream;
let tw: Running;

before(async () => {
  primary = await startUpstream('v1', { kind: 'custom', handle: answers });
  tw = await startTapwire(`${LISTEN}
upstreams:
  v1: { url: ${primary.url} }
routes:
  - name: all
    primary: v1
`);
});
after(async () => {
  await tw.stop();
  await primary.close();
});

/** The same request straight to the primary and through tapwire. */
async function both(path: string, method = 'GET') {
  const direct = await request(primary.port, { path, method });
  const proxied = await request(tw.port, { path, method });
  return { direct, proxied };
}

function sameAnswer(direct: Awaited<ReturnType<typeof request>>, proxied: Awaited<ReturnType<typeof request>>): void {
  assert.equal(proxied.status, direct.status);
  assert.equal(proxied.statusMessage, direct.statusMessage);
  assert.deepEqual(endToEnd(proxied.rawHeaders), endToEnd(direct.rawHeaders));
  assert.equal(proxied.body.length, direct.body.length);
  assert.ok(proxied.body.equals(direct.body), 'the body differs');
}

describe('the client gets the primary answer byte for byte', () => {
  test('status, reason phrase, headers in order and case (repeated Set-Cookie too) and body equal a direct request', async () => {
    const { direct, proxied } = await both('/plain');
    assert.equal(direct.status, 201);
    sameAnswer(direct, proxied);
    assert.deepEqual(headerValues(proxied.rawHeaders, 'set-cookie'), ['a=1; Path=/', 'b=2; HttpOnly']);
  });

  test('a chunked response streams through unchanged', async () => {
    const { direct, proxied } = await both('/chunked');
    sameAnswer(direct, proxied);
    assert.equal(proxied.headers['transfer-encoding'], 'chunked');
    assert.match(proxied.body.toString(), /^chunk 0\n.*end\n$/s);
  });

  test('an 8 MiB streamed body arrives whole and identical', async () => {
    const { direct, proxied } = await both('/big');
    assert.equal(proxied.body.length, BIG);
    assert.equal(sha(proxied.body), sha(pattern(BIG, 7)));
    sameAnswer(direct, proxied);
  });

  test('HEAD keeps the Content-Length of the would-be body and carries no body', async () => {
    const { direct, proxied } = await both('/head', 'HEAD');
    assert.equal(proxied.headers['content-length'], '1234');
    assert.equal(proxied.body.length, 0);
    sameAnswer(direct, proxied);
    assert.equal(primary.requests.at(-1)?.method, 'HEAD');
  });

  test('204 and 304 pass through with their headers and no body', async () => {
    for (const path of ['/204', '/304']) {
      const { direct, proxied } = await both(path);
      sameAnswer(direct, proxied);
      assert.equal(proxied.body.length, 0);
      assert.equal(proxied.headers['transfer-encoding'], undefined, `${path} must not be chunked`);
    }
  });

  test('response headers the primary names in Connection never reach the client', async () => {
    const proxied = await request(tw.port, { path: '/hop' });
    assert.equal(proxied.status, 200);
    assert.equal(proxied.headers['x-hop-secret'], undefined);
    assert.equal(proxied.headers['x-end'], 'to-end');
    assert.notEqual(proxied.headers['keep-alive'], 'timeout=5');
  });
});

describe('request bodies and headers reach the primary intact', () => {
  test('a 3 MiB binary POST body with Content-Length arrives byte for byte', async () => {
    const body = pattern(3 * 1024 * 1024, 3);
    const r = await request(tw.port, { method: 'POST', path: '/upload?x=1', headers: ['Content-Type', 'application/octet-stream'], body });
    assert.equal(r.status, 404); // the fixture's answer for an unknown path: the request still went through
    const got = primary.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/upload?x=1');
    assert.equal(got.headers['content-length'], String(body.length));
    assert.equal(sha(got.body), sha(body));
  });

  test('a chunked upload is forwarded chunked and arrives whole', async () => {
    const parts = [pattern(1000, 1), pattern(70_000, 2), pattern(5, 3)];
    const r = await request(tw.port, { method: 'PUT', path: '/up', body: parts });
    assert.equal(r.status, 404);
    const got = primary.requests.at(-1)!;
    assert.equal(got.headers['transfer-encoding'], 'chunked');
    assert.equal(got.headers['content-length'], undefined);
    assert.ok(got.body.equals(Buffer.concat(parts)));
  });

  test('Expect: 100-continue gets 100 Continue, the body is forwarded, and the primary sees no Expect', async () => {
    const body = pattern(2048, 9);
    const r = await request(tw.port, {
      method: 'POST',
      path: '/expect',
      headers: ['Expect', '100-continue', 'Content-Length', String(body.length)],
      body,
      expectContinue: true,
      timeoutMs: 5000,
    });
    assert.equal(r.status, 404);
    const got = primary.requests.at(-1)!;
    assert.equal(got.url, '/expect');
    assert.equal(got.headers.expect, undefined);
    assert.ok(got.body.equals(body));
  });

  test('end-to-end request headers keep their order, case and repeated values (Host goes first, as RFC 9112 §3.2 asks)', async () => {
    await request(tw.port, {
      path: '/h',
      headers: ['X-First', '1', 'Host', 'api.example.com', 'accept', 'text/html', 'X-Repeat', 'a', 'X-Repeat', 'b', 'User-Agent', 'tester/1'],
    });
    const raw = primary.requests.at(-1)!.rawHeaders;
    const names = endToEnd(raw)
      .map(([n]) => n)
      .filter((n) => !n.toLowerCase().startsWith('x-forwarded-'));
    // The client pool writes Host first, in lower case (header names are case-insensitive: RFC 9110 §5.1);
    // every other header keeps its place and its spelling.
    assert.deepEqual(names, ['host', 'X-First', 'accept', 'X-Repeat', 'X-Repeat', 'User-Agent']);
    assert.deepEqual(headerValues(raw, 'x-repeat'), ['a', 'b']);
    assert.deepEqual(headerValues(raw, 'host'), ['api.example.com']);
  });

  test('hop-by-hop headers and those named in Connection are removed before X-Forwarded-* are added', async () => {
    await request(tw.port, {
      path: '/hop-req',
      headers: [
        'Connection',
        'keep-alive, X-Forwarded-For, X-Secret-Hop, Authorization',
        'X-Forwarded-For',
        '6.6.6.6',
        'X-Secret-Hop',
        'leak',
        'Authorization',
        'Bearer hop-scoped',
        'Keep-Alive',
        'timeout=99',
        'TE',
        'trailers',
        'Proxy-Authorization',
        'Basic Zm9vOmJhcg==',
        'X-Keep',
        'yes',
      ],
    });
    const got = primary.requests.at(-1)!.headers;
    assert.equal(got['x-secret-hop'], undefined);
    assert.equal(got.authorization, undefined);
    assert.equal(got['keep-alive'], undefined);
    assert.equal(got.te, undefined);
    assert.equal(got['proxy-authorization'], undefined);
    assert.equal(got['x-keep'], 'yes');
    // The client's own X-Forwarded-For was hop-by-hop: only tapwire's entry remains.
    assert.equal(got['x-forwarded-for'], '127.0.0.1');
    assert.equal(got['x-forwarded-proto'], 'http');
  });

  test('X-Forwarded-For is appended to, and a client-supplied X-Forwarded-Proto/-Host are replaced', async () => {
    await request(tw.port, {
      path: '/xff',
      headers: ['Host', 'shop.example.com:8443', 'X-Forwarded-For', '1.2.3.4', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil.example'],
    });
    const raw = primary.requests.at(-1)!.rawHeaders;
    assert.deepEqual(headerValues(raw, 'x-forwarded-for'), ['1.2.3.4, 127.0.0.1']);
    assert.deepEqual(headerValues(raw, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(headerValues(raw, 'x-forwarded-host'), ['shop.example.com:8443']);
  });

  test('traceparent reaches the primary unchanged and a client-supplied x-tapwire-mirror does not', async () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await request(tw.port, { path: '/trace', headers: ['traceparent', tp, 'tracestate', 'a=b', 'X-Tapwire-Mirror', '1'] });
    const got = primary.requests.at(-1)!.headers;
    assert.equal(got.traceparent, tp);
    assert.equal(got.tracestate, 'a=b');
    assert.equal(got['x-tapwire-mirror'], undefined);
  });

  test('keep-alive: many requests on one client connection reuse it and all succeed', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      agent.on('free', (s) => sockets.add(s));
      for (let i = 0; i < 20; i++) {
        const r = await request(tw.port, { path: '/plain', agent });
        assert.equal(r.status, 201);
      }
      assert.equal(sockets.size, 1);
    } finally {
      agent.destroy();
    }
  });
});
