// Collector mode behind a real peer: Debian's nginx with its mirror module in front of a primary (v1), mirroring
// every request to tapwire in collector mode (the Host suffixed with -shadow, as Envoy and Istio do). tapwire sends
// each copy to the reference (v1 again), the candidate (v2, with planted differences and one slow endpoint) and
// the secondary (v1b); the planted differences must show up in GET /api/v1/verdict, every client answer must come
// from v1, and no client may wait on tapwire or the candidate. Skipped without nginx outside CI; fails in CI.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- JSON answers of the admin API are read loosely */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LISTEN, REPO, harness, request, waitFor, type Reply } from './helpers/harness.ts';

const NGINX = process.env.NGINX ?? 'nginx';
const hasNginx = spawnSync(NGINX, ['-v'], { stdio: 'ignore' }).status === 0;
const inCi = process.env.CI === 'true';
const skip = !hasNginx && !inCi ? `${NGINX} is not installed (apt-get install nginx-light); this test runs in CI (.ci/run installs it)` : false;

const HOST = 'api.example.com';
/** The candidate's delay on /slow: far above what a busy 2-CPU machine adds to a request, so a wait would show. */
const SLOW_MS = 1000;

type Version = 'v1' | 'v1b' | 'v2';

/** One build of the service: v2 removes a field, changes a value and is slow on /slow; meta.requestId is noise. */
function service(version: Version) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const [, first, id] = url.pathname.split('/');
      const meta = { requestId: Math.random().toString(36).slice(2) };
      const send = (body: unknown, delayMs = 0): void => {
        const go = (): void => {
          if (res.destroyed) return;
          res.writeHead(200, { 'content-type': 'application/json', 'x-version': version.slice(0, 2) });
          res.end(JSON.stringify(body));
        };
        if (delayMs > 0) setTimeout(go, delayMs);
        else go();
      };
      switch (first) {
        case 'users': {
          const user: Record<string, unknown> = { id: Number(id), name: `user ${id}`, email: `u${id}@example.com`, meta };
          if (version === 'v2') delete user.email; // planted: a removed field
          return send(user);
        }
        case 'profile':
          return send({ id: Number(id), plan: version === 'v2' ? 'free' : 'pro', meta }); // planted: a changed value
        case 'catalog':
          return send({ items: [{ id: 1 }, { id: 2 }], meta });
        case 'slow':
          return send({ id: Number(id), meta }, version === 'v2' ? SLOW_MS : 0); // planted: a slow candidate
        case 'orders':
          return send({ created: Buffer.concat(chunks).length, meta });
        default:
          res.writeHead(404).end();
      }
    });
  };
}

async function serve(version: Version, t: { after: (fn: () => Promise<void>) => void }): Promise<{ port: number; requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[] }> {
  const requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
  const handle = service(version);
  const server = http.createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as AddressInfo).port, requests };
}

/** A port nothing listens on right now (nginx cannot listen on port 0 and tell us which one it got). */
async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function nginxConf(dir: string, port: number, v1Port: number, tapwirePort: number): string {
  return `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 30s;
  upstream v1 { server 127.0.0.1:${v1Port}; keepalive 16; }
  upstream tapwire { server 127.0.0.1:${tapwirePort}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      mirror /_tapwire_mirror;
      mirror_request_body on;
      client_body_buffer_size 64k;
      proxy_pass http://v1;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
    location = /_tapwire_mirror {
      internal;
      proxy_pass http://tapwire$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # what Envoy and Istio do to a mirrored request's Host: tapwire strips it again
      proxy_set_header Host $host-shadow;
      proxy_connect_timeout 1s;
      proxy_read_timeout 2s;
    }
  }
}
`;
}

/** Starts nginx on a free port (a few attempts: another process may take the port between probe and bind). */
async function startNginx(dir: string, v1Port: number, tapwirePort: number): Promise<{ child: ChildProcess; port: number }> {
  let why = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, nginxConf(dir, port, v1Port, tapwirePort));
    const child = spawn(NGINX, ['-p', dir, '-e', join(dir, 'startup.log'), '-c', file], { stdio: 'ignore' });
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', (err) => {
      exited = true;
      why = err.message;
    });
    const up = await waitFor(
      async () => {
        if (exited) return true;
        // a Host no route matches: the probe's mirror copy is a no_route, not a trial
        return request(port, { path: '/catalog', headers: ['Host', 'probe.invalid'], timeoutMs: 500 }).then(
          (r) => r.status === 200,
          () => false,
        );
      },
      5000,
      50,
    );
    if (up && !exited) return { child, port };
    child.kill('SIGKILL');
    why = `${read(join(dir, 'startup.log'))}${read(join(dir, 'error.log'))}`;
  }
  throw new Error(`nginx did not start: ${why}`);
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

describe('collector mode behind nginx', { skip }, () => {
  test('nginx is installed (CI must run this suite, never skip it)', () => {
    assert.ok(hasNginx, `${NGINX} -v failed: .ci/run installs nginx-light (apt-get install nginx-light)`);
  });

  test('the documented nginx example passes nginx -t', (t) => {
    const h = harness(t);
    const dir = h.tempDir();
    const main = join(dir, 'main.conf');
    writeFileSync(
      main,
      `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 64; }
http {
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
  include ${join(REPO, 'docs/examples/collector/nginx.conf')};
}
`,
    );
    const r = spawnSync(NGINX, ['-t', '-p', dir, '-e', join(dir, 'startup.log'), '-c', main], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stderr}${read(join(dir, 'startup.log'))}`);
  });

  test('nginx mirrors to tapwire; the verdict names the planted differences; clients get v1 at once', async (t) => {
    const h = harness(t);
    const v1 = await serve('v1', t);
    const v1b = await serve('v1b', t);
    const v2 = await serve('v2', t);
    const tw = await h.tapwire(`${LISTEN}mode: collector
compare:
  flushInterval: 100ms
  thresholds: { minSamples: 20, latencyPercentile: p50, latencyMinDelta: 100ms }
upstreams:
  v1: { url: http://127.0.0.1:${v1.port} }
  v1b: { url: http://127.0.0.1:${v1b.port} }
  v2: { url: http://127.0.0.1:${v2.port}, sandboxed: true }
routes:
  - name: api
    match: { host: ${HOST} }
    primary: v1
    secondary: v1b
    mirrors: [{ upstream: v2, methods: [GET, POST], timeout: 2s }]
    compare: { ignoreHeaders: [x-version] }
`);
    const dir = h.tempDir();
    mkdirSync(dir, { recursive: true });
    const nginx = await startNginx(dir, v1.port, tw.port);
    t.after(async () => {
      const gone = new Promise<void>((r) => (nginx.child.exitCode !== null ? r() : nginx.child.once('exit', () => r())));
      nginx.child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (nginx.child.exitCode === null) nginx.child.kill('SIGKILL');
    });
    const before = { v1: v1.requests.length, v2: v2.requests.length };

    // 4 clients, each on its own keep-alive connection, one request after the other: nginx finishes a request
    // only when its mirror subrequest is done, so a tapwire that waited on v2 would delay each client's next one.
    const N = 24;
    const gets = Array.from({ length: N }, (_, i) => [`/users/${i}`, `/profile/${i}`, '/catalog', `/slow/${i}`]).flat();
    const posts = 4;
    const work: { method: string; path: string }[] = [...gets.map((path) => ({ method: 'GET', path })), ...Array.from({ length: posts }, () => ({ method: 'POST', path: '/orders' }))];
    const replies: { path: string; reply: Reply }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          while (next < work.length) {
            const w = work[next++]!;
            const reply = await request(nginx.port, { method: w.method, path: w.path, headers: ['Host', HOST, 'Content-Type', 'application/json'], agent, ...(w.method === 'POST' ? { body: '{"item":42}' } : {}) });
            replies.push({ path: w.path, reply });
          }
        } finally {
          agent.destroy();
        }
      }),
    );
    assert.equal(replies.length, work.length);
    for (const { path, reply } of replies) {
      assert.equal(reply.status, 200, `${path}: ${reply.status}`);
      assert.equal(reply.headers['x-version'], 'v1', `${path} was answered by ${String(reply.headers['x-version'])}`);
    }
    // Had tapwire waited on v2, the request after each /slow copy on that connection would take SLOW_MS more.
    const slowest = replies.reduce((a, b) => (b.reply.ms > a.reply.ms ? b : a));
    assert.ok(slowest.reply.ms < SLOW_MS * 0.8, `${slowest.path} took ${slowest.reply.ms.toFixed(0)} ms: nginx waited on the mirror (v2 takes ${SLOW_MS} ms on /slow)`);

    // Every GET becomes a compared trial (reference + candidate + secondary); POSTs go to the candidate only.
    const engine = tw.app.compare!;
    assert.ok(await waitFor(() => engine.stats().processed >= gets.length, 20_000, 50), `compared ${engine.stats().processed} of ${gets.length}`);
    assert.equal(engine.stats().processed, gets.length);

    const verdict = JSON.parse((await tw.admin('/api/v1/verdict')).body.toString());
    const by = new Map<string, any>(verdict.endpoints.map((e: any) => [e.endpoint, e]));
    const why = JSON.stringify(verdict.endpoints.map((e: any) => [e.endpoint, e.verdict, e.reasons.map((r: any) => r.message)]), null, 1);
    assert.equal(verdict.verdict, 'fail', why);
    const fields = (endpoint: string): string[] => by.get(endpoint).regressions.map((r: any) => r.field).sort();
    const codes = (endpoint: string): string[] => [...new Set<string>(by.get(endpoint).reasons.map((r: any) => r.code))].sort();
    assert.deepEqual(fields('GET /users/{id}'), ['$.email'], why); // removed
    assert.deepEqual(fields('GET /profile/{id}'), ['$.plan'], why); // changed
    assert.ok(codes('GET /slow/{id}').includes('latency'), why);
    assert.equal(by.get('GET /catalog').verdict, 'pass', why);
    for (const e of verdict.endpoints) for (const r of e.regressions) assert.ok(!r.field.startsWith('$.meta'), `${e.endpoint}: ${r.field} is noise`);
    assert.ok(!by.has('POST /orders'), 'a write was compared although the reference never gets writes');

    // v1 got every client request from nginx and one reference per GET from tapwire, never a write from tapwire.
    const fromTapwire = v1.requests.slice(before.v1).filter((r) => r.headers['x-tapwire-mirror'] === '1');
    assert.equal(fromTapwire.length, gets.length);
    assert.ok(fromTapwire.every((r) => r.method === 'GET' && r.headers.host === HOST), 'the reference got a write or a -shadow Host');
    assert.equal(v1.requests.slice(before.v1).filter((r) => r.method === 'POST').length, posts, 'v1 got a POST twice');
    const v2Posts = v2.requests.slice(before.v2).filter((r) => r.method === 'POST');
    assert.equal(v2Posts.length, posts, 'the candidate did not get every write');
    assert.ok(v1b.requests.length >= gets.length);

    // The POSTs' copies are not trials: their outcomes may still be on their way.
    let metrics = '';
    const count = (re: RegExp): number => Number(re.exec(metrics)?.[1] ?? NaN);
    const v2Delivered = /tapwire_mirror_requests_total\{route="api",mirror="v2",outcome="delivered"\} (\d+)/;
    await waitFor(async () => {
      metrics = (await tw.admin('/metrics')).body.toString();
      return count(v2Delivered) === work.length;
    }, 5000, 50);
    assert.equal(count(/tapwire_collector_received_total\{route="api",result="accepted"\} (\d+)/), work.length);
    assert.equal(count(/tapwire_collector_reference_total\{route="api",outcome="delivered"\} (\d+)/), gets.length);
    assert.equal(count(/tapwire_collector_reference_total\{route="api",outcome="method_filtered"\} (\d+)/), posts);
    assert.equal(count(v2Delivered), work.length, metrics.split('\n').filter((l) => l.startsWith('tapwire_mirror_requests_total') && !l.endsWith(' 0')).join('\n'));
  });
});
