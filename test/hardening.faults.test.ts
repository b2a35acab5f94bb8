// Hardening, faults (reliability-anchors §3.2, tests F1–F5 and N1): each mirror fault and each primary fault
// under a steady stream of keep-alive requests on several client connections. A mirror fault never changes the
// client's status, body, latency or connection reuse; a primary fault is a clean 502/504 JSON error (or a cut
// connection once the primary's headers were sent); and after every run the copy outcomes reconcile with what
// the mirror fixture itself saw. mirror.accounting.test.ts proves the outcomes on one mixed route; this file
// runs one fault at a time, with load, and checks the client connection as well.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Outcome } from '../src/core/outcomes.ts';
import { FIXED_DATE, LISTEN, REPO, harness, waitFor, type Behaviour, type Running, type Upstream } from './helpers/harness.ts';

const CERT = readFileSync(`${REPO}test/fixtures/config/localhost.crt`);
const KEY = readFileSync(`${REPO}test/fixtures/config/localhost.key`);

/** The load every run gets: 4 keep-alive connections, 20 requests each (GET and POST alternating), 15 ms apart. */
const CONNECTIONS = 4;
const PER_CONNECTION = 20;
const GAP_MS = 15;

/** What one client request saw. */
interface Sent {
  readonly conn: number;
  readonly method: string;
  readonly path: string;
  readonly body: string;
  readonly status: number;
  readonly reply: string;
  readonly replyBytes: Buffer;
  readonly headers: http.IncomingHttpHeaders;
  /** the agent reused a kept-alive socket for this request */
  readonly reused: boolean;
  /** identity of the socket the request went out on */
  readonly socket: number;
  readonly ms: number;
  /** set when the request failed or its response did not complete */
  readonly error?: string;
}

const socketIds = new WeakMap<Socket, number>();
let nextSocketId = 0;
const idOf = (s: Socket): number => {
  let id = socketIds.get(s);
  if (id === undefined) socketIds.set(s, (id = ++nextSocketId));
  return id;
};

function once(port: number, agent: http.Agent, conn: number, method: string, path: string, body: string): Promise<Sent> {
  const started = performance.now();
  return new Promise<Sent>((resolve) => {
    let socket = 0;
    let reused = false;
    let settled = false;
    const done = (r: Omit<Sent, 'conn' | 'method' | 'path' | 'body' | 'socket' | 'reused' | 'ms'>): void => {
      if (settled) return;
      settled = true;
      resolve({ conn, method, path, body, socket, reused, ms: performance.now() - started, ...r });
    };
    const failed = (why: string, status = 0, headers: http.IncomingHttpHeaders = {}): void =>
      done({ status, reply: '', replyBytes: Buffer.alloc(0), headers, error: why });
    const headers: Record<string, string> = { host: `127.0.0.1:${port}` };
    if (body) headers['content-length'] = String(Buffer.byteLength(body));
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers, timeout: 8000 });
    req.on('socket', (s: Socket) => {
      socket = idOf(s);
      reused = req.reusedSocket;
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (err) => failed(err.message));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => failed('response aborted', res.statusCode ?? 0, res.headers));
      res.on('error', (err) => failed(err.message, res.statusCode ?? 0, res.headers));
      res.on('end', () => {
        if (!res.complete) return failed('response incomplete', res.statusCode ?? 0, res.headers);
        const bytes = Buffer.concat(chunks);
        done({ status: res.statusCode ?? 0, reply: bytes.toString('utf8'), replyBytes: bytes, headers: res.headers });
      });
    });
    req.end(body || undefined);
  });
}

/**
 * A steady stream: `connections` clients, each with its own keep-alive agent of one socket, sending requests one
 * after another `gapMs` apart. GET and POST (with a body) alternate unless `getOnly`.
 */
async function steadyLoad(port: number, opts: { perConnection?: number; getOnly?: boolean } = {}): Promise<Sent[]> {
  const per = opts.perConnection ?? PER_CONNECTION;
  const clients = Array.from({ length: CONNECTIONS }, async (_, conn) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const out: Sent[] = [];
    try {
      for (let i = 0; i < per; i++) {
        const post = !opts.getOnly && i % 2 === 1;
        const path = `/c${conn}/r${i}?q=${i}`;
        out.push(await once(port, agent, conn, post ? 'POST' : 'GET', path, post ? `payload c${conn} r${i} ${'x'.repeat(200)}` : ''));
        await sleep(GAP_MS);
      }
    } finally {
      agent.destroy();
    }
    return out;
  });
  return (await Promise.all(clients)).flat();
}

/** The primary: answers each request with a body that names it, so a swapped or damaged answer shows. */
const ECHO: Behaviour = {
  kind: 'custom',
  handle: (req, res, rec) => {
    req.on('end', () => {
      const body = `v1 ${req.method} ${req.url} ${rec.body.length}`;
      res.writeHead(200, ['Content-Type', 'text/plain', 'Date', FIXED_DATE, 'Content-Length', String(Buffer.byteLength(body))]);
      res.end(body);
    });
  },
};
const expectedReply = (s: Sent): string => `v1 ${s.method} ${s.path} ${Buffer.byteLength(s.body)}`;

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The client saw exactly what the primary said, on the same socket per connection, quickly. */
function assertClientUnaffected(sent: readonly Sent[], maxMs: number): void {
  assert.equal(sent.length, CONNECTIONS * PER_CONNECTION);
  for (const s of sent) {
    assert.equal(s.error, undefined, `${s.method} ${s.path} failed: ${s.error}`);
    assert.equal(s.status, 200, `${s.method} ${s.path}`);
    assert.equal(s.reply, expectedReply(s));
    assert.notEqual(String(s.headers.connection).toLowerCase(), 'close', `${s.method} ${s.path} was answered with Connection: close`);
    assert.ok(s.ms < maxMs, `${s.method} ${s.path} took ${s.ms.toFixed(0)} ms (bound ${maxMs} ms)`);
  }
  for (let conn = 0; conn < CONNECTIONS; conn++) {
    const mine = sent.filter((s) => s.conn === conn);
    const sockets = new Set(mine.map((s) => s.socket));
    assert.equal(sockets.size, 1, `connection ${conn} needed ${sockets.size} sockets: keep-alive was broken`);
    assert.ok(mine.slice(1).every((s) => s.reused), `connection ${conn}: a request did not reuse the kept-alive socket`);
  }
}

function mirrorStats(tw: Running) {
  const route = tw.app.stats.snapshot().routes.find((r) => r.route === 'r')!;
  return { route, mirror: route.mirrors.find((m) => m.mirror === 'm')! };
}

/**
 * Waits for every copy to end, then: nothing in flight, the invariant holds, every client request matched, and
 * every copy ended in `outcome`. Returns the mirror's stats for more checks.
 */
async function settleAndReconcile(tw: Running, requests: number, outcome: Outcome, settleMs: number) {
  assert.ok(await waitFor(() => tw.app.mirroring.inFlight === 0, settleMs), `copies still in flight after ${settleMs} ms: ${tw.app.mirroring.inFlight}`);
  assert.deepEqual(tw.app.stats.reconcile({ expectIdle: true }), []);
  const { route, mirror } = mirrorStats(tw);
  assert.equal(route.requests, requests, 'client requests answered through the route');
  assert.equal(mirror.matched, requests, 'copies matched');
  assert.equal(mirror.outcomes[outcome], requests, `every copy should end as ${outcome}: ${JSON.stringify(mirror.outcomes)}`);
  assert.equal(tw.app.mirroring.bufferedBytes, 0, 'request-body bytes still held for copies');
  return mirror;
}

function report(t: TestContext, fault: string, sent: readonly Sent[], extra: Record<string, unknown>): void {
  const ms = sent.map((s) => s.ms);
  t.diagnostic(
    JSON.stringify({
      fault,
      requests: sent.length,
      transportErrors: sent.filter((s) => s.error !== undefined).length,
      non200: sent.filter((s) => s.status !== 200).length,
      p50ms: +quantile(ms, 0.5).toFixed(1),
      p99ms: +quantile(ms, 0.99).toFixed(1),
      maxms: +Math.max(...ms).toFixed(1),
      ...extra,
    }),
  );
}

function mirrorConfig(primary: Upstream, mirrorUrl: string, timeout: string, extra = ''): string {
  return `${LISTEN}
mirroring:
  maxResponseBytes: 64KiB
${extra}upstreams:
  v1: { url: ${primary.url} }
  m: { url: "${mirrorUrl}", sandboxed: true }
routes:
  - name: r
    primary: v1
    mirrors: [{ upstream: m, methods: [GET, POST], timeout: ${timeout}, maxInFlight: 1000 }]
`;
}

/** A TCP server that accepts connections and never reads from them nor answers (a blackhole behind a firewall). */
async function blackhole(t: TestContext): Promise<{ url: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => accepted };
}

/** An HTTPS server with a self-signed certificate tapwire has no CA for. */
async function selfSigned(t: TestContext): Promise<{ url: string; requests: () => number; handshakeFailures: () => number }> {
  let requests = 0;
  let failures = 0;
  const server = https.createServer({ cert: CERT, key: KEY }, (req, res) => {
    requests++;
    req.resume();
    res.end('tls hello');
  });
  server.on('tlsClientError', () => failures++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `https://localhost:${(server.address() as AddressInfo).port}`, requests: () => requests, handshakeFailures: () => failures };
}

const N = CONNECTIONS * PER_CONNECTION;
/** The client bound for mirror faults: generous for a loaded 2-core box, far below every slow fault (≥ 1.5 s). */
const CLIENT_BOUND_MS = 400;

describe('mirror faults under steady keep-alive load', () => {
  test('with a healthy mirror every request is answered on its kept-alive socket and every copy is delivered to the mirror', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const m = await h.upstream('m');
    const tw = await h.tapwire(mirrorConfig(v1, m.url, '5s'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'delivered', 3000);
    assert.equal(mirror.outcomes.delivered, m.completeCount(), 'delivered != requests the mirror received');
    // The copy carries the same request the primary got: same path and body.
    for (const s of sent) assert.ok(m.requests.some((r) => r.url === s.path && r.body.toString() === s.body), `${s.path} never reached the mirror intact`);
    report(t, 'mirror healthy', sent, { outcomes: { delivered: mirror.outcomes.delivered }, mirrorReceived: m.completeCount() });
  });

  test('a mirror that answers after 1.5 s changes neither the answers nor their latency, and every copy is still delivered', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const slow = await h.upstream('slow', { kind: 'slow', ms: 1500 });
    const tw = await h.tapwire(mirrorConfig(v1, slow.url, '5s'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'delivered', 4000);
    assert.equal(mirror.outcomes.delivered, slow.completeCount());
    assert.ok(mirror.latencyMs.p50! >= 1400, `the copies were not slow (p50 ${mirror.latencyMs.p50} ms): the fault was not injected`);
    report(t, 'mirror slow 1.5s', sent, { outcomes: { delivered: mirror.outcomes.delivered }, mirrorReceived: slow.completeCount() });
  });

  test('a mirror that reads requests and never answers times every copy out without the client noticing', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const never = await h.upstream('never', { kind: 'never' });
    const tw = await h.tapwire(mirrorConfig(v1, never.url, '600ms'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'timeout', 3000);
    assert.equal(mirror.outcomes.delivered, 0);
    assert.ok(never.requests.length > 0 && never.requests.length <= N, `the mirror received ${never.requests.length} copies`);
    // Timed-out copies are abandoned, not left open on the mirror.
    assert.ok(await waitFor(() => never.requests.every((r) => r.closedEarly), 3000), 'a timed-out copy kept its connection open');
    report(t, 'mirror never answers', sent, { outcomes: { timeout: mirror.outcomes.timeout }, mirrorReceived: never.requests.length });
  });

  test('a blackholed mirror that accepts connections and never reads times every copy out without the client noticing', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const hole = await blackhole(t);
    const tw = await h.tapwire(mirrorConfig(v1, hole.url, '600ms'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'timeout', 3000);
    assert.ok(hole.connections() > 0, 'no copy ever connected to the blackhole: the fault was not injected');
    report(t, 'mirror blackholed', sent, { outcomes: { timeout: mirror.outcomes.timeout }, connectionsAccepted: hole.connections() });
  });

  test('a mirror that refuses connections ends every copy as connect_error without the client noticing', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const refused = await h.upstream('refused', { kind: 'refuse' });
    const tw = await h.tapwire(mirrorConfig(v1, refused.url, '5s'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'connect_error', 3000);
    report(t, 'mirror refuses', sent, { outcomes: { connect_error: mirror.outcomes.connect_error } });
  });

  test('a mirror that resets mid-body ends every copy as reset, and each copy did reach it', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const reset = await h.upstream('reset', { kind: 'reset' });
    const tw = await h.tapwire(mirrorConfig(v1, reset.url, '5s'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'reset', 3000);
    assert.equal(reset.completeCount(), N, 'copies the mirror received');
    report(t, 'mirror resets mid-body', sent, { outcomes: { reset: mirror.outcomes.reset }, mirrorReceived: reset.completeCount() });
  });

  test('a mirror that answers garbage ends every copy as reset without the client noticing', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const garbage = await h.upstream('garbage', { kind: 'garbage' });
    const tw = await h.tapwire(mirrorConfig(v1, garbage.url, '5s'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'reset', 3000);
    assert.equal(garbage.completeCount(), N, 'copies the mirror received');
    report(t, 'mirror answers garbage', sent, { outcomes: { reset: mirror.outcomes.reset }, mirrorReceived: garbage.completeCount() });
  });

  test('a mirror with a self-signed certificate ends every copy as tls_error and never receives a request', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const tls = await selfSigned(t);
    const tw = await h.tapwire(mirrorConfig(v1, tls.url, '5s'));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'tls_error', 3000);
    assert.equal(tls.requests(), 0, 'a request reached a mirror whose certificate failed verification');
    report(t, 'mirror TLS self-signed', sent, { outcomes: { tls_error: mirror.outcomes.tls_error }, mirrorReceived: tls.requests() });
  });

  test('a mirror that streams an endless body is cut at maxResponseBytes, keeps RSS bounded, and the client never notices', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', ECHO);
    const endless = await h.upstream('endless', { kind: 'endless' });
    const tw = await h.tapwire(mirrorConfig(v1, endless.url, '3s'));
    // A trial listener makes tapwire keep each copy's response body: the bound under test is what it keeps.
    const kept: number[] = [];
    const truncated: boolean[] = [];
    const off = tw.app.tap.on('trial', (trial) => {
      for (const e of trial.mirrors) {
        kept.push(e.body?.length ?? 0);
        truncated.push(e.truncated);
      }
    });
    t.after(off);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    t.after(() => clearInterval(sampler));
    const sent = await steadyLoad(tw.port);
    assertClientUnaffected(sent, CLIENT_BOUND_MS);
    const mirror = await settleAndReconcile(tw, N, 'delivered', 4000);
    clearInterval(sampler);
    const growthMiB = (peak - before) / 2 ** 20;
    assert.ok(growthMiB < 64, `RSS grew by ${growthMiB.toFixed(1)} MiB under an endless mirror`);
    assert.equal(mirror.outcomes.delivered, endless.completeCount());
    // Cut at the cap, not read until the 3 s timeout.
    assert.ok(mirror.latencyMs.max! < 1500, `a copy read the endless body for ${mirror.latencyMs.max} ms`);
    assert.ok(await waitFor(() => endless.requests.every((r) => r.closedEarly), 3000), 'an endless answer was not aborted');
    assert.equal(kept.length, N);
    assert.ok(kept.every((n) => n === 64 * 1024), `kept body sizes: ${[...new Set(kept)].join(', ')}`);
    assert.ok(truncated.every(Boolean));
    report(t, 'mirror endless body', sent, { outcomes: { delivered: mirror.outcomes.delivered }, rssGrowthMiB: +growthMiB.toFixed(1), mirrorMaxMs: mirror.latencyMs.max });
  });
});

/** Routes with a short timeout and a healthy mirror, so that a primary fault also shows whether copies stay independent. */
function primaryConfig(primary: Upstream, mirror: Upstream): string {
  return `${LISTEN}
upstreams:
  v1: { url: ${primary.url}, connectTimeout: 500ms }
  m: { url: ${mirror.url} }
routes:
  - name: r
    primary: v1
    timeout: 300ms
    mirrors: [{ upstream: m, timeout: 5s, maxInFlight: 1000 }]
`;
}

function codeOf(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** A clean error: the catalog JSON, on a connection that stays usable (same socket, no Connection: close). */
function assertCleanError(sent: readonly Sent[], status: number, code: string): void {
  for (const s of sent) {
    assert.equal(s.error, undefined, `${s.path}: ${s.error}`);
    assert.equal(s.status, status, s.path);
    assert.match(String(s.headers['content-type']), /^application\/json/);
    assert.equal(codeOf(s.reply), code, s.reply);
    assert.notEqual(String(s.headers.connection).toLowerCase(), 'close', `${s.path}: the error closed the client's connection`);
  }
  for (let conn = 0; conn < CONNECTIONS; conn++) {
    assert.equal(new Set(sent.filter((s) => s.conn === conn).map((s) => s.socket)).size, 1, `connection ${conn} was not kept alive across errors`);
  }
}

describe('primary faults under steady keep-alive load', () => {
  test('a primary that is down is a 502 TW_ERR_UPSTREAM_CONNECT for every request, the connections stay alive, and copies are still delivered', async (t) => {
    const h = harness(t);
    const down = await h.upstream('v1', { kind: 'refuse' });
    const m = await h.upstream('m');
    const tw = await h.tapwire(primaryConfig(down, m));
    const sent = await steadyLoad(tw.port, { getOnly: true, perConnection: 10 });
    assertCleanError(sent, 502, 'TW_ERR_UPSTREAM_CONNECT');
    assert.ok(Math.max(...sent.map((s) => s.ms)) < 1000, 'a 502 for a refused primary took longer than its connect timeout');
    const mirror = await settleAndReconcile(tw, sent.length, 'delivered', 3000);
    assert.equal(mirror.outcomes.delivered, m.completeCount());
    report(t, 'primary down', sent, { statuses: [502], outcomes: { delivered: mirror.outcomes.delivered } });
  });

  test('a primary slower than the route timeout is a 504 TW_ERR_UPSTREAM_TIMEOUT at about the timeout, on connections that stay alive', async (t) => {
    const h = harness(t);
    const slow = await h.upstream('v1', { kind: 'slow', ms: 3000 });
    const m = await h.upstream('m');
    const tw = await h.tapwire(primaryConfig(slow, m));
    const sent = await steadyLoad(tw.port, { getOnly: true, perConnection: 4 });
    assertCleanError(sent, 504, 'TW_ERR_UPSTREAM_TIMEOUT');
    for (const s of sent) assert.ok(s.ms >= 280 && s.ms < 1500, `504 after ${s.ms.toFixed(0)} ms for a 300 ms timeout`);
    // Each timed-out request is abandoned at the primary, not left open.
    assert.ok(await waitFor(() => slow.requests.every((r) => r.closedEarly), 3000), 'a timed-out primary request stayed open');
    const mirror = await settleAndReconcile(tw, sent.length, 'delivered', 3000);
    assert.equal(mirror.outcomes.delivered, m.completeCount());
    report(t, 'primary slow (3 s, timeout 300 ms)', sent, { statuses: [504], outcomes: { delivered: mirror.outcomes.delivered } });
  });

  test('a primary that resets the connection before its headers is a 502 TW_ERR_UPSTREAM_RESET, on connections that stay alive', async (t) => {
    const h = harness(t);
    const resetting = await h.upstream('v1', { kind: 'custom', handle: (req) => req.socket.resetAndDestroy() });
    const m = await h.upstream('m');
    const tw = await h.tapwire(primaryConfig(resetting, m));
    const sent = await steadyLoad(tw.port, { getOnly: true, perConnection: 10 });
    assertCleanError(sent, 502, 'TW_ERR_UPSTREAM_RESET');
    assert.ok(resetting.requests.length >= sent.length, 'the primary did not see the requests: the fault was not injected');
    const mirror = await settleAndReconcile(tw, sent.length, 'delivered', 3000);
    assert.equal(mirror.outcomes.delivered, m.completeCount());
    report(t, 'primary resets before headers', sent, { statuses: [502], outcomes: { delivered: mirror.outcomes.delivered } });
  });

  test('a primary that resets every third answer mid-body cuts only those client connections; the other answers are whole', async (t) => {
    const h = harness(t);
    let n = 0;
    const half = Buffer.alloc(8 * 1024, 0x61);
    const flaky = await h.upstream('v1', {
      kind: 'custom',
      handle: (req, res, rec) => {
        req.on('end', () => {
          if (++n % 3 === 0) {
            // Headers and half the declared body, then RST: the client must not get this as a complete answer.
            res.writeHead(200, ['Content-Type', 'application/octet-stream', 'Content-Length', String(half.length * 2)]);
            res.write(half, () => res.socket?.resetAndDestroy());
            return;
          }
          const body = `v1 ${req.method} ${req.url} ${rec.body.length}`;
          res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(Buffer.byteLength(body))]);
          res.end(body);
        });
      },
    });
    const m = await h.upstream('m');
    const tw = await h.tapwire(primaryConfig(flaky, m));
    const sent = await steadyLoad(tw.port, { getOnly: true, perConnection: 12 });
    const cut = sent.filter((s) => s.error !== undefined);
    const whole = sent.filter((s) => s.error === undefined);
    assert.ok(cut.length >= sent.length / 4, `only ${cut.length} of ${sent.length} answers were cut: the fault was not injected`);
    for (const s of cut) {
      // Headers were already sent: the only honest signal left is a cut connection, never a short "complete" body.
      assert.equal(s.status, 200, `${s.path}: ${s.error}`);
      assert.ok(s.ms < 2000, `${s.path}: the cut took ${s.ms.toFixed(0)} ms`);
    }
    for (const s of whole) {
      assert.equal(s.status, 200);
      assert.equal(s.reply, expectedReply(s));
    }
    // After a cut, the client's next request on that connection goes out on a fresh socket and succeeds.
    for (const s of cut) {
      const next = sent.find((x) => x.conn === s.conn && x.path === s.path.replace(/r(\d+)/, (_, i: string) => `r${Number(i) + 1}`));
      if (next) assert.ok(next.socket !== s.socket && !next.reused, `${next.path} reused the socket of the cut answer`);
    }
    const mirror = await settleAndReconcile(tw, sent.length, 'delivered', 3000);
    assert.equal(mirror.outcomes.delivered, m.completeCount());
    const rejects = tw.app.stats.snapshot().rejected;
    assert.deepEqual(rejects, [], 'a mid-body reset is not an error answer tapwire can send');
    report(t, 'primary resets every 3rd answer mid-body', sent, { cut: cut.length, whole: whole.length, outcomes: { delivered: mirror.outcomes.delivered } });
  });
});
