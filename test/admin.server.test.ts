// The admin server on a real socket (127.0.0.1, port 0): endpoints, token, loopback guard, methods and limits.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { Tap } from '../src/core/events.ts';
import { TapwireError } from '../src/core/errors.ts';
import { createLogger } from '../src/core/log.ts';
import { bearerVerifier, isLoopbackHost } from '../src/admin/auth.ts';
import { createMetrics } from '../src/admin/metrics.ts';
import { createAdminServer, type AdminServerOptions } from '../src/admin/server.ts';
import { createStats } from '../src/admin/stats.ts';

const TOKEN = 'test-token-0123456789';
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

function options(overrides: Partial<AdminServerOptions> = {}): AdminServerOptions {
  const tap = overrides.tap ?? new Tap();
  const stats = createStats(tap);
  return {
    host: '127.0.0.1',
    port: 0,
    tap,
    registry: createMetrics(tap).registry,
    stats: () => stats.snapshot(),
    isReady: () => true,
    config: () => ({ listen: { host: '0.0.0.0', port: 8080 }, admin: { token: '[REDACTED]' } }),
    logger: createLogger({ level: 'silent' }),
    ...overrides,
  };
}

async function start(overrides: Partial<AdminServerOptions> = {}) {
  const server = createAdminServer(options(overrides));
  const address = await server.listen();
  closers.push(() => server.close());
  return { server, port: address.port, host: address.host };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

void describe('createAdminServer', () => {
  void it('binds port 0 and reports the port it got', async () => {
    const { port, host } = await start();
    assert.equal(host, '127.0.0.1');
    assert.ok(port > 0);
    assert.equal((await get(port, '/healthz')).status, 200);
  });

  void it('answers /healthz with ok even when not ready, and without the token when one is set', async () => {
    const { port } = await start({ token: TOKEN, isReady: () => false });
    const r = await get(port, '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
  });

  void it('flips /readyz between 503 and 200 as isReady changes, without the token', async () => {
    let ready = false;
    const { port } = await start({ token: TOKEN, isReady: () => ready });
    assert.equal((await get(port, '/readyz')).status, 503);
    ready = true;
    const r = await get(port, '/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ready' });
  });

  void it('treats a readiness check that throws as not ready', async () => {
    const { port } = await start({
      isReady: () => {
        throw new Error('store gone');
      },
    });
    assert.equal((await get(port, '/readyz')).status, 503);
  });

  void it('serves Prometheus text at /metrics with the values the tap produced', async () => {
    const tap = new Tap();
    const { port } = await start({ tap });
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 2 });
    tap.emit('copyStart', { route: 'users', mirror: 'v2' });
    const r = await get(port, '/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^tapwire_requests_total\{route="users",upstream="v1",code="200"\} 1$/m);
    assert.match(r.body, /^tapwire_mirror_in_flight\{route="users",mirror="v2"\} 1$/m);
    assert.match(r.body, /^tapwire_request_duration_seconds_bucket\{le="0\.005",route="users",upstream="v1"\} 1$/m);
  });

  void it('serves OpenMetrics when the Accept header asks for it', async () => {
    const tap = new Tap();
    const { port } = await start({ tap });
    tap.emit('exchange', { route: 'users', upstream: 'v1', status: 200, durationMs: 2 });
    const r = await get(port, '/metrics', { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' } });
    assert.match(String(r.headers['content-type']), /^application\/openmetrics-text/);
    assert.match(r.body, /# EOF\n$/);
    const again = await get(port, '/metrics');
    assert.match(again.body, /^# TYPE tapwire_requests_total counter$/m);
  });

  void it('serves the stats snapshot and the redacted config as JSON', async () => {
    const tap = new Tap();
    const { port } = await start({ tap, config: () => ({ upstreams: new Map([['v1', { url: 'http://127.0.0.1:3001' }]]) }) });
    tap.emit('copyEnd', { route: 'users', mirror: 'v2', outcome: 'sampled_out', started: false });
    const stats = await get(port, '/api/v1/stats');
    assert.equal(stats.status, 200);
    assert.match(String(stats.headers['content-type']), /^application\/json/);
    assert.equal(JSON.parse(stats.body).routes[0].mirrors[0].outcomes.sampled_out, 1);
    const config = await get(port, '/api/v1/config?pretty=1');
    assert.deepEqual(JSON.parse(config.body), { upstreams: { v1: { url: 'http://127.0.0.1:3001' } } });
  });

  void it('requires the bearer token on every route but health and readiness', async () => {
    const { port } = await start({ token: TOKEN });
    for (const path of ['/metrics', '/api/v1/stats', '/api/v1/config']) {
      const none = await get(port, path);
      assert.equal(none.status, 401, path);
      assert.equal(JSON.parse(none.body).error.code, 'TW_ERR_ADMIN_UNAUTHORIZED');
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      assert.equal((await get(port, path, { headers: bearer('wrong') })).status, 401, path);
      assert.equal((await get(port, path, { headers: bearer(`${TOKEN}x`) })).status, 401, path);
      assert.equal((await get(port, path, { headers: { authorization: `Basic ${TOKEN}` } })).status, 401, path);
      assert.equal((await get(port, path, { headers: bearer(TOKEN) })).status, 200, path);
    }
  });

  void it('hides which paths exist from a caller without the token', async () => {
    const { port } = await start({ token: TOKEN });
    assert.equal((await get(port, '/nope')).status, 401);
    const known = await get(port, '/nope', { headers: bearer(TOKEN) });
    assert.equal(known.status, 404);
    assert.equal(JSON.parse(known.body).error.code, 'TW_ERR_ADMIN_BAD_REQUEST');
  });

  void it('answers 404 with a JSON error for unknown paths', async () => {
    const { port } = await start();
    const r = await get(port, '/api/v1/unknown');
    assert.equal(r.status, 404);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(JSON.parse(r.body).error.code, 'TW_ERR_ADMIN_BAD_REQUEST');
  });

  void it('answers 405 with Allow for methods other than GET and HEAD', async () => {
    const { port } = await start();
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await get(port, '/healthz', { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  void it('answers HEAD with the headers of GET and no body', async () => {
    const { port } = await start();
    const r = await get(port, '/api/v1/stats', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.ok(Number(r.headers['content-length']) > 0);
  });

  void it('marks every answer no-store and sends no CORS headers', async () => {
    const { port } = await start();
    for (const path of ['/healthz', '/metrics', '/api/v1/stats', '/missing']) {
      const r = await get(port, path, { headers: { origin: 'https://evil.example' } });
      assert.equal(r.headers['cache-control'], 'no-store', path);
      assert.equal(r.headers['access-control-allow-origin'], undefined, path);
    }
  });

  void it('refuses a foreign Host header when no token is set, against DNS rebinding', async () => {
    const { port } = await start();
    const r = await get(port, '/api/v1/config', { headers: { host: `evil.example:${port}` } });
    assert.equal(r.status, 400);
    assert.equal((await get(port, '/api/v1/config', { headers: { host: `localhost:${port}` } })).status, 200);
    assert.equal((await get(port, '/api/v1/config', { headers: { host: `[::1]:${port}` } })).status, 200);
    assert.equal((await get(port, '/healthz', { headers: { host: 'evil.example' } })).status, 200);
  });

  void it('answers 500 with a JSON error when the stats provider throws', async () => {
    const { port } = await start({
      stats: () => {
        throw new Error('boom');
      },
    });
    const r = await get(port, '/api/v1/stats');
    assert.equal(r.status, 500);
    assert.equal(JSON.parse(r.body).error.code, 'TW_ERR_INTERNAL');
  });

  void it('refuses to be built on a non-loopback address without a token, before any socket is opened', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.7', 'example.com', '127.1']) {
      assert.throws(
        () => createAdminServer(options({ host })),
        (err: unknown) => err instanceof TapwireError && err.code === 'TW_ERR_CONFIG' && err.message.includes('admin.token'),
        host,
      );
    }
  });

  void it('accepts a non-loopback address when a token is set', () => {
    assert.doesNotThrow(() => createAdminServer(options({ host: '0.0.0.0', token: TOKEN })));
  });

  void it('refuses an empty or blank token instead of treating it as no token', () => {
    for (const token of ['', '   ', 'has space']) {
      assert.throws(() => createAdminServer(options({ token })), { code: 'TW_ERR_CONFIG' });
    }
  });

  void it('rejects listen with TW_ERR_CONFIG when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(createAdminServer(options({ port })).listen(), { code: 'TW_ERR_CONFIG' });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  void it('releases the port on close', async () => {
    const server = createAdminServer(options());
    const { port } = await server.listen();
    await server.close();
    await assert.rejects(get(port, '/healthz'), { code: 'ECONNREFUSED' });
  });
});

void describe('isLoopbackHost', () => {
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['128.0.0.1', false],
    ['192.168.1.1', false],
    ['127.1', false],
    ['localhost.example.com', false],
    ['', false],
  ];
  for (const [host, expected] of cases) {
    void it(`says ${expected} for ${JSON.stringify(host)}`, () => {
      assert.equal(isLoopbackHost(host), expected);
    });
  }
});

void describe('bearerVerifier', () => {
  const ok = bearerVerifier(TOKEN);
  const cases: Array<[string | undefined, boolean]> = [
    [`Bearer ${TOKEN}`, true],
    [`bearer ${TOKEN}`, true],
    [`Bearer  ${TOKEN} `, true],
    [undefined, false],
    ['', false],
    ['Bearer', false],
    ['Bearer ', false],
    [`Bearer ${TOKEN.slice(0, -1)}`, false],
    [`Bearer ${TOKEN} extra`, false],
    [TOKEN, false],
  ];
  for (const [header, expected] of cases) {
    void it(`says ${expected} for Authorization ${JSON.stringify(header)}`, () => {
      assert.equal(ok(header), expected);
    });
  }
});
