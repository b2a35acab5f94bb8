// TLS on both sides: the listener serves HTTPS with the configured cert/key; upstream certificates are
// always verified (an untrusted primary is a 502, an untrusted mirror a tls_error outcome), and a
// configured CA makes them trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { harness, LISTEN, REPO, waitFor } from './helpers/harness.ts';

const CERT = `${REPO}test/fixtures/config/localhost.crt`;
const KEY = `${REPO}test/fixtures/config/localhost.key`;
const cert = readFileSync(CERT);
const key = readFileSync(KEY);

async function tlsUpstream(t: { after: (fn: () => void) => void }): Promise<{ port: number; count: () => number }> {
  let n = 0;
  const server = https.createServer({ cert, key }, (req, res) => {
    n++;
    req.resume();
    res.end('secure hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, count: () => n };
}

function httpsGet(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, ca: cert, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

test('the listener serves HTTPS with the configured certificate and forwards to the primary', async (t) => {
  const h = harness(t);
  const primary = await h.upstream('primary');
  const tw = await h.tapwire(
    `listen:\n  address: 127.0.0.1:0\n  tls: { cert: ${CERT}, key: ${KEY} }\nadmin: { listen: 127.0.0.1:0 }\nlog: { level: silent }\nshutdown: { drainTimeout: 1s }\n` +
      `upstreams:\n  p: { url: "http://127.0.0.1:${primary.port}" }\nroutes:\n  - name: all\n    primary: p\n`,
  );
  const reply = await httpsGet(tw.port, '/hello');
  assert.equal(reply.status, 200);
  assert.equal(primary.requests.length, 1);
  assert.equal(primary.requests[0]!.url, '/hello');
  const proto = primary.requests[0]!.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-forwarded-proto');
  assert.equal(primary.requests[0]!.rawHeaders[proto + 1], 'https');
});

test('an https primary with an untrusted certificate is a 502 TW_ERR_UPSTREAM_TLS, never an insecure retry', async (t) => {
  const h = harness(t);
  const up = await tlsUpstream(t);
  const tw = await h.tapwire(`${LISTEN}upstreams:\n  p: { url: "https://localhost:${up.port}" }\nroutes:\n  - name: all\n    primary: p\n`);
  const reply = await tw.send({ path: '/' });
  assert.equal(reply.status, 502);
  assert.equal(JSON.parse(reply.body.toString()).error.code, 'TW_ERR_UPSTREAM_TLS');
  assert.equal(up.count(), 0, 'no request may reach an upstream whose certificate failed verification');
});

test('an https primary is trusted through the upstream tls.ca', async (t) => {
  const h = harness(t);
  const up = await tlsUpstream(t);
  const tw = await h.tapwire(
    `${LISTEN}upstreams:\n  p:\n    url: "https://localhost:${up.port}"\n    tls: { ca: ${CERT} }\nroutes:\n  - name: all\n    primary: p\n`,
  );
  const reply = await tw.send({ path: '/' });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'secure hello');
});

test('a mirror with an untrusted certificate ends as tls_error while the client gets the primary answer', async (t) => {
  const h = harness(t);
  const primary = await h.upstream('primary');
  const mirror = await tlsUpstream(t);
  const tw = await h.tapwire(
    `${LISTEN}upstreams:\n  p: { url: "http://127.0.0.1:${primary.port}" }\n  m: { url: "https://localhost:${mirror.port}" }\n` +
      `routes:\n  - name: all\n    primary: p\n    mirrors: [ { upstream: m } ]\n`,
  );
  const reply = await tw.send({ path: '/x' });
  assert.equal(reply.status, 200);
  const done = await waitFor(() => tw.app.stats.snapshot().routes[0]!.mirrors[0]!.outcomes.tls_error === 1);
  assert.ok(done, JSON.stringify(tw.app.stats.snapshot().routes[0]!.mirrors[0]!.outcomes));
  assert.equal(mirror.count(), 0);
  assert.deepEqual(tw.app.stats.reconcile(), []);
});
