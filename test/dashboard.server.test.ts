// The dashboard's HTTP side on a real admin server (127.0.0.1, port 0): the files it serves and nothing else,
// its security headers, login with a session cookie, and the bounded live-event stream that shutdown ends.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { Tap } from '../src/core/events.ts';
import { createLogger } from '../src/core/log.ts';
import { createMetrics } from '../src/admin/metrics.ts';
import { createAdminServer, type AdminServerOptions } from '../src/admin/server.ts';
import { createStats } from '../src/admin/stats.ts';

const TOKEN = 'dashboard-test-token-42';
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

async function start(overrides: Partial<AdminServerOptions> = {}) {
  const tap = new Tap();
  const stats = createStats(tap);
  const server = createAdminServer({
    host: '127.0.0.1',
    port: 0,
    tap,
    registry: createMetrics(tap).registry,
    stats: () => stats.snapshot(),
    isReady: () => true,
    config: () => ({ admin: { token: '[REDACTED]' } }),
    logger: createLogger({ level: 'silent' }),
    ...overrides,
  });
  const { port } = await server.listen();
  closers.push(() => server.close());
  return { server, port };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('the dashboard files', () => {
  it('serves the page with a CSP that allows exactly its import map, and its modules and vendor files', async () => {
    const { port } = await start();
    const page = await call(port, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const map = /<script type="importmap">([^<]*)<\/script>/.exec(page.body);
    assert.ok(map, 'no import map');
    const { createHash } = await import('node:crypto');
    assert.ok(csp.includes(`'sha256-${createHash('sha256').update(map[1]!).digest('base64')}'`), 'the CSP hash does not match the import map');
    for (const path of Object.values(JSON.parse(map[1]!).imports as Record<string, string>)) {
      const r = await call(port, path);
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), /^text\/javascript/, path);
    }
    for (const path of ['/assets/app.js', '/assets/style.css', '/vendor/uplot.css']) assert.equal((await call(port, path)).status, 200, path);
  });

  it('serves no other file: traversal, encoded traversal and unknown names all fall through to a 404', async () => {
    const { port } = await start();
    for (const path of ['/assets/../server.ts', '/assets/..%2fdashboard.ts', '/assets/%2e%2e/%2e%2e/package.json', '/vendor/../../package.json', '/assets/app.js.map', '/index.html', '/assets/']) {
      const r = await call(port, path);
      assert.equal(r.status, 404, `${path}: ${r.status}`);
      assert.ok(!r.body.includes('import') && !r.body.includes(path), `${path}: reflected or served`);
    }
  });

  it('refuses a foreign Host without a token (DNS rebinding), and only GET/HEAD on files', async () => {
    const { port } = await start();
    assert.equal((await call(port, '/', { headers: { host: 'evil.example' } })).status, 400);
    const post = await call(port, '/assets/app.js', { method: 'POST', body: '' });
    assert.equal(post.status, 405);
  });
});

describe('login and the session cookie', () => {
  it('keeps the API closed until login, then lets the cookie in; a wrong token gets a fixed message', async () => {
    const { port } = await start({ token: TOKEN });
    assert.equal((await call(port, '/')).status, 200, 'the page itself holds no data and must load for the form');
    const session = JSON.parse((await call(port, '/api/v1/session')).body) as { tokenRequired: boolean; authenticated: boolean };
    assert.deepEqual(session, { tokenRequired: true, authenticated: false });
    assert.equal((await call(port, '/api/v1/stats')).status, 401);
    assert.equal((await call(port, '/api/v1/events')).status, 401);

    const json = { 'content-type': 'application/json' };
    const wrong = await call(port, '/api/v1/login', { method: 'POST', headers: json, body: JSON.stringify({ token: '<script>x</script>' }) });
    assert.equal(wrong.status, 401);
    assert.ok(!wrong.body.includes('<script>'), 'input reflected');
    assert.equal(wrong.headers['set-cookie'], undefined);
    const form = await call(port, '/api/v1/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` });
    assert.equal(form.status, 415, 'a cross-site form must not log in');

    const ok = await call(port, '/api/v1/login', { method: 'POST', headers: json, body: JSON.stringify({ token: TOKEN }) });
    assert.equal(ok.status, 200);
    const cookie = String(ok.headers['set-cookie']);
    assert.match(cookie, /^tapwire_session=[A-Za-z0-9_-]{40,};/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.ok(!cookie.includes(TOKEN));
    const pair = cookie.split(';', 1)[0]!;
    assert.equal((await call(port, '/api/v1/stats', { headers: { cookie: pair } })).status, 200);
    assert.equal((await call(port, '/api/v1/stats', { headers: { cookie: 'tapwire_session=forged' } })).status, 401);

    await call(port, '/api/v1/logout', { method: 'POST', headers: { cookie: pair } });
    assert.equal((await call(port, '/api/v1/stats', { headers: { cookie: pair } })).status, 401, 'the session outlived logout');
  });

  it('throttles guessing: after 10 failures in a minute, login answers 429', async () => {
    const { port } = await start({ token: TOKEN });
    const json = { 'content-type': 'application/json' };
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call(port, '/api/v1/login', { method: 'POST', headers: json, body: '{"token":"guess"}' })).status);
    assert.deepEqual(statuses, [...Array(10).fill(401), 429, 429]);
    assert.equal((await call(port, '/api/v1/login', { method: 'POST', headers: json, body: JSON.stringify({ token: TOKEN }) })).status, 429);
  });
});

describe('live events', () => {
  /** Opens the stream and resolves with the text received until `until` matches (bounded by 5 s). */
  function stream(port: number, until: RegExp): Promise<{ status: number; text: string; destroy: () => void; ended: Promise<void> }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', agent: false }, (res) => {
        let text = '';
        let done = false;
        const ended = new Promise<void>((r) => res.on('close', () => r()));
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode!, text, destroy: () => req.destroy(), ended });
        };
        const timer = setTimeout(finish, 5_000);
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          if (until.test(text)) finish();
        });
        res.on('end', finish);
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('sends the history at once, then a sample every second; bounded clients; ended by close()', async () => {
    const { server, port } = await start({ maxEventClients: 2 });
    const a = await stream(port, /event: sample\n/);
    assert.equal(a.status, 200);
    assert.match(a.text, /^retry: 3000\n\nevent: history\ndata: \[/);
    const sample = /event: sample\ndata: (.*)\n/.exec(a.text);
    assert.ok(sample, a.text);
    assert.deepEqual(Object.keys(JSON.parse(sample[1]!) as object).sort(), ['mirrors', 'outcomes', 'requests', 't']);
    const b = await stream(port, /event: history/);
    assert.equal(b.status, 200);
    const c = await stream(port, /TW_ERR_ADMIN_BUSY/);
    assert.equal(c.status, 503, 'a third client past maxEventClients=2');
    const started = Date.now();
    await server.close();
    await Promise.all([a.ended, b.ended]);
    assert.ok(Date.now() - started < 900, `close() waited ${Date.now() - started} ms on open streams`);
  });
});
