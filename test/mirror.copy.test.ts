// What a copy looks like: equal to what the primary got (method, path, query, headers, body) apart from
// hop-by-hop framing, the marker x-tapwire-mirror: 1, the host mode and the mirror's header rules.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LISTEN, headerValues, startTapwire, startUpstream, waitFor, type Recorded, type Running, type Upstream } from './helpers/harness.ts';

/** Header names a copy may legitimately differ in (framing is recomputed, Host follows the host mode). */
const FRAMING = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'x-tapwire-mirror']);

function endToEndRequest(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) if (!FRAMING.has(raw[i]!.toLowerCase())) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

const names = ['v1', 'preserve', 'upstream', 'suffix', 'literal', 'rules', 'writes'] as const;
const ups = {} as Record<(typeof names)[number], Upstream>;
let tw: Running;

before(async () => {
  for (const n of names) ups[n] = await startUpstream(n);
  tw = await startTapwire(`${LISTEN}
upstreams:
  v1: { url: ${ups.v1.url} }
  preserve: { url: ${ups.preserve.url} }
  upstream: { url: ${ups.upstream.url} }
  suffix: { url: ${ups.suffix.url} }
  literal: { url: ${ups.literal.url} }
  rules: { url: ${ups.rules.url} }
  writes: { url: ${ups.writes.url}, sandboxed: true }
routes:
  - name: hosts
    match: { path: { prefix: /hosts } }
    primary: v1
    mirrors:
      - { upstream: preserve }
      - { upstream: upstream, host: upstream }
      - { upstream: suffix, host: "suffix:-shadow" }
      - { upstream: literal, host: "literal:shadow.internal:8080" }
  - name: rules
    match: { path: { prefix: /rules } }
    primary: v1
    mirrors:
      - upstream: rules
        headers:
          set: { x-env: shadow, X-Override: from-mirror }
          remove: [authorization, X-Drop]
  - name: writes
    primary: v1
    mirrors:
      - { upstream: writes, methods: [GET, POST, PUT, DELETE] }
`);
});
after(async () => {
  await tw.stop();
  for (const n of names) await ups[n].close();
});

/** Sends one request and waits (bounded) until each given mirror got its copy. */
async function sendAndWait(mirrors: Upstream[], opts: Parameters<Running['send']>[0]): Promise<{ primary: Recorded; copies: Recorded[] }> {
  const before = mirrors.map((m) => m.requests.length);
  const p = ups.v1.requests.length;
  const r = await tw.send(opts);
  assert.equal(r.status, 200);
  assert.ok(await waitFor(() => mirrors.every((m, i) => m.completeCount() > before[i]!), 3000), 'a copy did not arrive');
  return { primary: ups.v1.requests[p]!, copies: mirrors.map((m, i) => m.requests[before[i]!]!) };
}

function assertSameAsPrimary(primary: Recorded, copy: Recorded): void {
  assert.equal(copy.method, primary.method);
  assert.equal(copy.url, primary.url);
  assert.deepEqual(endToEndRequest(copy.rawHeaders), endToEndRequest(primary.rawHeaders));
  assert.ok(copy.body.equals(primary.body), 'the copy body differs');
  assert.deepEqual(headerValues(copy.rawHeaders, 'x-tapwire-mirror'), ['1']);
}

describe('copies equal the original', () => {
  test('a GET copy has the primary request method, path, query, headers in order and case, plus the marker', async () => {
    const { primary, copies } = await sendAndWait([ups.writes], {
      path: '/items/7?sort=desc&tag=a&tag=b&enc=%2F%20',
      headers: ['Accept', 'application/json', 'X-Request-Id', 'r-1', 'Cookie', 'sid=1', 'X-Repeat', 'a', 'X-Repeat', 'b', 'Authorization', 'Bearer t'],
    });
    assertSameAsPrimary(primary, copies[0]!);
    assert.equal(copies[0]!.url, '/items/7?sort=desc&tag=a&tag=b&enc=%2F%20');
    assert.equal(primary.headers['x-tapwire-mirror'], undefined);
  });

  test('a POST copy to a sandboxed mirror carries the whole body, with a Content-Length', async () => {
    const body = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff));
    const { primary, copies } = await sendAndWait([ups.writes], { method: 'POST', path: '/orders?x=1', headers: ['Content-Type', 'application/octet-stream'], body });
    assertSameAsPrimary(primary, copies[0]!);
    assert.equal(copies[0]!.headers['content-length'], String(body.length));
  });

  test('a chunked upload is copied whole, with framing recomputed as a Content-Length', async () => {
    const parts = [Buffer.from('first,'), Buffer.alloc(30_000, 0x62), Buffer.from(',last')];
    const { primary, copies } = await sendAndWait([ups.writes], { method: 'PUT', path: '/doc', body: parts });
    assert.equal(primary.headers['transfer-encoding'], 'chunked');
    assertSameAsPrimary(primary, copies[0]!);
    assert.equal(copies[0]!.headers['content-length'], String(Buffer.concat(parts).length));
    assert.equal(copies[0]!.headers['transfer-encoding'], undefined);
  });

  test('a client-supplied x-tapwire-mirror is stripped: the primary gets none and the copy exactly one, "1"', async () => {
    const { primary, copies } = await sendAndWait([ups.writes], { path: '/m', headers: ['X-Tapwire-Mirror', '0', 'x-tapwire-mirror', 'forged'] });
    assert.deepEqual(headerValues(primary.rawHeaders, 'x-tapwire-mirror'), []);
    assert.deepEqual(headerValues(copies[0]!.rawHeaders, 'x-tapwire-mirror'), ['1']);
  });

  test('headers named in Connection are removed from the copy too, before X-Forwarded-For is added', async () => {
    const { primary, copies } = await sendAndWait([ups.writes], {
      path: '/c',
      headers: ['Connection', 'keep-alive, X-Forwarded-For, X-Hop', 'X-Forwarded-For', '6.6.6.6', 'X-Hop', 'h', 'Keep-Alive', 'timeout=1', 'TE', 'trailers'],
    });
    for (const r of [primary, copies[0]!]) {
      assert.equal(r.headers['x-hop'], undefined);
      assert.equal(r.headers['keep-alive'], undefined);
      assert.equal(r.headers.te, undefined);
      assert.deepEqual(headerValues(r.rawHeaders, 'x-forwarded-for'), ['127.0.0.1']);
    }
    assertSameAsPrimary(primary, copies[0]!);
  });

  test('Expect: 100-continue is never sent to a mirror', async () => {
    const { copies } = await sendAndWait([ups.writes], {
      method: 'POST',
      path: '/e',
      headers: ['Expect', '100-continue', 'Content-Length', '5'],
      body: 'hello',
      expectContinue: true,
    });
    assert.equal(copies[0]!.headers.expect, undefined);
    assert.equal(copies[0]!.body.toString(), 'hello');
  });

  test('traceparent reaches the primary unchanged and the copy keeps the trace id with a new span id', async () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const { primary, copies } = await sendAndWait([ups.writes], { path: '/t', headers: ['traceparent', tp, 'tracestate', 'vendor=x'] });
    assert.equal(primary.headers.traceparent, tp);
    const copied = String(copies[0]!.headers.traceparent);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(copied);
    assert.ok(m, `not a traceparent: ${copied}`);
    assert.equal(m[1], '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.notEqual(m[2], '00f067aa0ba902b7');
    assert.equal(copies[0]!.headers.tracestate, 'vendor=x');
    // A second copy of the same trace gets yet another span id.
    const again = await sendAndWait([ups.writes], { path: '/t', headers: ['traceparent', tp] });
    assert.notEqual(again.copies[0]!.headers.traceparent, copied);
  });
});

describe('host modes and header rules', () => {
  test('preserve keeps the client Host, upstream uses the mirror address, suffix appends before the port, literal sets it', async () => {
    const { primary, copies } = await sendAndWait([ups.preserve, ups.upstream, ups.suffix, ups.literal], {
      path: '/hosts/a',
      headers: ['Host', 'api.example.com:8443'],
    });
    assert.equal(primary.headers.host, 'api.example.com:8443');
    const hosts = copies.map((c) => headerValues(c.rawHeaders, 'host'));
    assert.deepEqual(hosts, [['api.example.com:8443'], [`127.0.0.1:${ups.upstream.port}`], ['api.example.com-shadow:8443'], ['shadow.internal:8080']]);
    for (const c of copies) assertSameAsPrimary(primary, c);
  });

  test('suffix mode without a port in Host appends the suffix to the name', async () => {
    const { copies } = await sendAndWait([ups.suffix], { path: '/hosts/b', headers: ['Host', 'cluster1'] });
    assert.equal(copies[0]!.headers.host, 'cluster1-shadow');
  });

  test('set and remove apply to the copy only: the primary keeps every original header', async () => {
    const { primary, copies } = await sendAndWait([ups.rules], {
      path: '/rules/x',
      headers: ['Authorization', 'Bearer secret', 'x-drop', 'd', 'x-override', 'from-client', 'X-Keep', 'k'],
    });
    assert.equal(primary.headers.authorization, 'Bearer secret');
    assert.equal(primary.headers['x-drop'], 'd');
    assert.equal(primary.headers['x-override'], 'from-client');
    assert.equal(primary.headers['x-env'], undefined);
    const copy = copies[0]!;
    assert.equal(copy.headers.authorization, undefined);
    assert.equal(copy.headers['x-drop'], undefined);
    assert.deepEqual(headerValues(copy.rawHeaders, 'x-override'), ['from-mirror']);
    assert.equal(copy.headers['x-env'], 'shadow');
    assert.equal(copy.headers['x-keep'], 'k');
  });
});
