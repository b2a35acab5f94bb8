// Alert sinks against real HTTP receivers on port 0: exactly one opened and one resolved alert per finding
// for the webhook and the Slack sink, bodies as specified, retries (5xx, 429 with Retry-After, timeouts),
// no retry on 400, a full queue dropping the oldest, minSeverity, close() within its deadline, and no
// secret of a sink (URL path, query, header values) in any log line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createAlertSinks, retryAfterMs, slackBody, slackText, webhookBody, type AlertSinks } from '../src/analysis/alerts.ts';
import { createFindingTracker, type Transition } from '../src/analysis/findings.ts';
import type { Finding, Signal } from '../src/analysis/types.ts';

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** resolves once `n` requests arrived (rejects after `ms`) */
  waitFor(n: number, ms?: number): Promise<void>;
}

/** An HTTP server on 127.0.0.1:0 recording every request; `respond` answers the i-th (0-based). */
async function receiver(t: TestContext, respond: (res: ServerResponse, i: number) => void = (res) => res.end('ok')): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (s: string) => (body += s));
    req.on('end', () => {
      const i = received.length;
      received.push({ path: req.url ?? '', headers: req.headers, body, at: performance.now() });
      for (const w of waiters.splice(0)) w();
      respond(res, i);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    async waitFor(n, ms = 5_000) {
      const deadline = Date.now() + ms;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} requests, got ${received.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: 'f0123456789abcde',
    detector: 'flood',
    key: 'source:203.0.113.7',
    severity: 'high',
    title: 'single-source flood from 203.0.113.7: 812 req/s (baseline 3 req/s)',
    state: 'open',
    firstSeen: 1_700_000_000_000,
    lastSeen: 1_700_000_000_000,
    count: 1,
    detail: { rate: 812, baseline: 3 },
    evidence: [{ at: 1_700_000_000_000, method: 'GET', target: '/login?token=[REDACTED]', source: '203.0.113.7', headers: ['cookie', '[REDACTED]'], status: 401 }],
    ...over,
  };
}

const opened = (f: Finding): Transition => ({ kind: 'opened', finding: f });
const resolvedT = (f: Finding): Transition => ({ kind: 'resolved', finding: { ...f, state: 'resolved', resolvedAt: f.lastSeen + 60_000 } });

/** Sinks closed when the test ends, whatever happened. */
function sinksFor(t: TestContext, ...args: Parameters<typeof createAlertSinks>): AlertSinks {
  const s = createAlertSinks(...args);
  t.after(() => s.close(100));
  return s;
}

function logs() {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  return { lines, logger: { warn: (obj: Record<string, unknown>, msg: string) => void lines.push({ obj, msg }) } };
}

const FAST = { baseDelayMs: 5, maxDelayMs: 50, timeoutMs: 2_000 };

void describe('alert sinks', () => {
  void it('sends exactly one opened and one resolved alert per finding to a webhook and a Slack sink', async (t) => {
    const hook = await receiver(t);
    const slack = await receiver(t);
    const sinks = sinksFor(
      t,
      [
        { type: 'webhook', url: `${hook.url}/hooks/tapwire`, headers: { 'X-Team': 'sec' }, name: 'soc' },
        { type: 'slack', url: `${slack.url}/services/T0/B0/xyz` },
      ],
      { ...FAST, version: '9.9.9' },
    );
    // a tracker driving the sinks: two findings, many signals each, then silence
    let now = 1_700_000_000_000;
    const tracker = createFindingTracker({ now: () => now, resolveAfterMs: 60_000, updateIntervalMs: 0 });
    const sig = (key: string, severity: Signal['severity']): Signal => ({ detector: 'scan', key, severity, title: `scan ${key}`, detail: { n: 1 }, at: now });
    for (let i = 0; i < 20; i++) {
      for (const key of ['source:a', 'source:b']) {
        const tr = tracker.add(sig(key, i === 10 ? 'critical' : 'medium'));
        if (tr) sinks.notify(tr);
      }
      now += 1_000;
      for (const tr of tracker.tick()) sinks.notify(tr);
    }
    now += 60_000;
    const ends = tracker.tick();
    assert.equal(ends.length, 2);
    for (const tr of ends) sinks.notify(tr);
    // the same transition twice is still one alert
    sinks.notify(ends[0]!);
    await sinks.close(5_000);

    for (const r of [hook, slack]) assert.equal(r.received.length, 4, 'two opened + two resolved');
    const events = hook.received.map((r) => {
      const b = JSON.parse(r.body) as ReturnType<typeof webhookBody>;
      return `${b.event} ${String(b.finding.key)}`;
    });
    assert.deepEqual(events, ['finding.opened source:a', 'finding.opened source:b', 'finding.resolved source:a', 'finding.resolved source:b']);
    const first = JSON.parse(hook.received[0]!.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first).sort(), ['event', 'finding', 'tapwire']);
    assert.deepEqual(first.tapwire, { version: '9.9.9' });
    const f = first.finding as Record<string, unknown>;
    assert.deepEqual(Object.keys(f).sort(), ['count', 'detail', 'detector', 'evidence', 'firstSeen', 'id', 'key', 'lastSeen', 'severity', 'state', 'title']);
    assert.deepEqual([f.state, f.count, f.severity, f.detector], ['open', 1, 'medium', 'scan']);
    const last = JSON.parse(hook.received[3]!.body) as { finding: Record<string, unknown> };
    assert.deepEqual([last.finding.state, last.finding.count, last.finding.severity, typeof last.finding.resolvedAt], ['resolved', 20, 'critical', 'number']);
    const h = hook.received[0]!.headers;
    assert.equal(h['content-type'], 'application/json');
    assert.equal(h['x-team'], 'sec');
    assert.equal(h['user-agent'], 'tapwire/9.9.9');
    assert.equal(hook.received[0]!.path, '/hooks/tapwire');

    const texts = slack.received.map((r) => (JSON.parse(r.body) as { text: string }).text);
    assert.match(texts[0]!, /^\[MEDIUM\] finding opened: scan source:a\n/);
    assert.match(texts[2]!, /^\[CRITICAL\] finding resolved: scan source:a\n.*20 signals \| first seen 2023-11-14T22:13:20\.000Z \| last seen .*\| resolved /);
    assert.deepEqual(
      sinks.stats().map((s) => [s.name, s.type, s.sent, s.failed, s.dropped, s.retried, s.queued]),
      [
        ['soc', 'webhook', 4, 0, 0, 0, 0],
        [`slack:127.0.0.1:${slack.port}`, 'slack', 4, 0, 0, 0, 0],
      ],
    );
  });

  void it('shapes a Slack body as plain text without links, mentions or control characters', () => {
    const f = finding({
      title: 'sqli <script> & http://evil.example/x @channel \u001b[31m',
      evidence: [{ at: 1, method: 'GET', target: '/?q=<b>&u=https://evil.example', source: '198.51.100.1', headers: [], status: 200, match: { part: 'query', name: 'q', text: '<b>' } }],
    });
    const body = slackBody('finding.opened', f);
    assert.deepEqual(Object.keys(body).sort(), ['mrkdwn', 'text', 'unfurl_links', 'unfurl_media']);
    const lines = body.text.split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^\[HIGH\] finding opened: sqli &lt;script&gt; &amp; http:\u200b\/\/evil\.\u200bexample\/x @\u200bchannel \\u001b\[31m$/);
    assert.match(lines[1]!, /^detector flood \| key source:203\.0\.113\.7 \| 1 signal \| first seen 2023-11-14T22:13:20\.000Z \| last seen 2023-11-14T22:13:20\.000Z \| id f0123456789abcde$/);
    assert.match(lines[2]!, /^evidence: GET \/\?q=&lt;b&gt;&amp;u=https:\u200b\/\/evil\.\u200bexample from 198\.51\.100\.1 -&gt; 200 \(matched query q: &lt;b&gt;\)$/);
    assert.ok(!/[<>]/.test(body.text));
    assert.ok(!body.text.includes('://'));
    assert.equal(slackText('www.example.com'), 'www.\u200bexample.\u200bcom');
    // a finding without evidence has no evidence line
    assert.equal(slackBody('finding.resolved', finding({ evidence: [] })).text.split('\n').length, 2);
  });

  void it('retries a 500 with backoff, then succeeds', async (t) => {
    const r = await receiver(t, (res, i) => {
      res.statusCode = i < 2 ? 500 : 200;
      res.end();
    });
    const sinks = sinksFor(t, [{ type: 'webhook', url: r.url }], { ...FAST, baseDelayMs: 40, maxDelayMs: 1_000, random: () => 0.999 });
    sinks.notify(opened(finding()));
    await sinks.close(5_000);
    assert.equal(r.received.length, 3);
    assert.deepEqual(r.received.map((x) => x.body), Array(3).fill(r.received[0]!.body), 'the same body each try');
    // backoff 40 then 80 ms (jitter between half and all of it)
    assert.ok(r.received[1]!.at - r.received[0]!.at >= 35, `${r.received[1]!.at - r.received[0]!.at}`);
    assert.ok(r.received[2]!.at - r.received[1]!.at >= 75, `${r.received[2]!.at - r.received[1]!.at}`);
    assert.deepEqual(
      sinks.stats().map((s) => [s.sent, s.failed, s.retried]),
      [[1, 0, 2]],
    );
  });

  void it('honours Retry-After on 429, capped at maxDelayMs', async (t) => {
    const r = await receiver(t, (res, i) => {
      if (i === 0) res.writeHead(429, { 'retry-after': '1' }).end();
      else if (i === 1) res.writeHead(429, { 'retry-after': '3600' }).end();
      else res.end('ok');
    });
    const sinks = sinksFor(t, [{ type: 'slack', url: r.url }], { baseDelayMs: 1, maxDelayMs: 2_000, timeoutMs: 2_000 });
    sinks.notify(opened(finding()));
    await sinks.close(10_000);
    assert.equal(r.received.length, 3);
    const first = r.received[1]!.at - r.received[0]!.at;
    const second = r.received[2]!.at - r.received[1]!.at;
    assert.ok(first >= 950 && first < 1_900, `waited ${first} ms for Retry-After: 1`);
    assert.ok(second >= 1_950 && second < 5_000, `waited ${second} ms for Retry-After: 3600 capped at 2 s`);
    assert.deepEqual(
      sinks.stats().map((s) => [s.sent, s.retried]),
      [[1, 2]],
    );
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(retryAfterMs('soon', 0), undefined);
    assert.equal(retryAfterMs(null, 0), undefined);
  });

  void it('does not retry a 400, and logs it without secrets', async (t) => {
    const r = await receiver(t, (res) => res.writeHead(400).end('bad'));
    const { lines, logger } = logs();
    const sinks = sinksFor(t, [{ type: 'webhook', url: r.url }], { ...FAST, logger });
    sinks.notify(opened(finding()));
    await sinks.close(5_000);
    assert.equal(r.received.length, 1);
    assert.deepEqual(
      sinks.stats().map((s) => [s.sent, s.failed, s.retried]),
      [[0, 1, 0]],
    );
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.msg, 'alert delivery failed');
    assert.deepEqual([lines[0]!.obj.reason, lines[0]!.obj.attempts, lines[0]!.obj.findingId], ['status 400', 1, 'f0123456789abcde']);
  });

  void it('times out a receiver that never answers, and retries it', async (t) => {
    const r = await receiver(t, () => undefined); // never answers
    const { lines, logger } = logs();
    const sinks = sinksFor(t, [{ type: 'webhook', url: r.url }], { baseDelayMs: 5, maxDelayMs: 10, timeoutMs: 200, maxAttempts: 3, logger });
    const t0 = performance.now();
    sinks.notify(opened(finding()));
    await sinks.close(5_000);
    const took = performance.now() - t0;
    assert.equal(r.received.length, 3);
    assert.ok(took >= 580 && took < 3_000, `${took} ms`);
    assert.deepEqual(
      sinks.stats().map((s) => [s.sent, s.failed, s.retried, s.queued]),
      [[0, 1, 2, 0]],
    );
    assert.equal(lines[0]!.obj.reason, 'timeout after 200 ms');
  });

  void it('drops the oldest alert when a queue is full, and counts it', async (t) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const r = await receiver(t, (res) => void gate.then(() => res.end('ok')));
    const { lines, logger } = logs();
    const sinks = sinksFor(t, [{ type: 'webhook', url: r.url }], { ...FAST, maxQueue: 2, logger });
    for (let i = 1; i <= 5; i++) sinks.notify(opened(finding({ id: `f${i}` })));
    // f1 is in flight, f2 and f3 were dropped for f4 and f5
    assert.deepEqual(
      sinks.stats().map((s) => [s.dropped, s.queued]),
      [[2, 3]],
    );
    await r.waitFor(1);
    release();
    await sinks.close(5_000);
    assert.deepEqual(
      r.received.map((x) => (JSON.parse(x.body) as { finding: { id: string } }).finding.id),
      ['f1', 'f4', 'f5'],
    );
    assert.deepEqual(
      sinks.stats().map((s) => [s.sent, s.dropped, s.queued]),
      [[3, 2, 0]],
    );
    assert.equal(lines.filter((l) => l.msg.startsWith('alert queue full')).length, 1, 'drops are logged at most once per interval');
  });

  void it('skips findings below minSeverity; a finding that rises to it is sent as opened, then resolved', async (t) => {
    const r = await receiver(t);
    const all = await receiver(t);
    const sinks = sinksFor(
      t,
      [
        { type: 'webhook', url: r.url, minSeverity: 'high' },
        { type: 'webhook', url: all.url },
      ],
      FAST,
    );
    const low = finding({ id: 'low', severity: 'low' });
    const high = finding({ id: 'high', severity: 'critical' });
    const rising = finding({ id: 'rising', severity: 'medium' });
    sinks.notify(opened(low));
    sinks.notify(opened(high));
    sinks.notify(opened(rising));
    sinks.notify({ kind: 'updated', finding: { ...rising, state: 'ongoing', count: 2 } });
    sinks.notify({ kind: 'updated', finding: { ...rising, state: 'ongoing', count: 3, severity: 'high' }, previousSeverity: 'medium' });
    sinks.notify({ kind: 'updated', finding: { ...rising, state: 'ongoing', count: 4, severity: 'critical' }, previousSeverity: 'high' });
    sinks.notify(resolvedT(low));
    sinks.notify(resolvedT(high));
    sinks.notify(resolvedT({ ...rising, severity: 'critical', count: 4 }));
    await sinks.close(5_000);
    const seen = (x: Receiver) =>
      x.received.map((q) => {
        const b = JSON.parse(q.body) as { event: string; finding: { id: string; state: string } };
        return `${b.event} ${b.finding.id} ${b.finding.state}`;
      });
    assert.deepEqual(seen(r), ['finding.opened high open', 'finding.opened rising ongoing', 'finding.resolved high resolved', 'finding.resolved rising resolved']);
    assert.deepEqual(seen(all), [
      'finding.opened low open',
      'finding.opened high open',
      'finding.opened rising open',
      'finding.resolved low resolved',
      'finding.resolved high resolved',
      'finding.resolved rising resolved',
    ]);
  });

  void it('never logs a sink URL path, query or header value', async (t) => {
    const bad = await receiver(t, (res) => res.writeHead(503).end());
    const port = await closedPort();
    const { lines, logger } = logs();
    const sinks = sinksFor(
      t,
      [
        { type: 'slack', url: `${bad.url}/services/T000/B000/SECRETPATH?token=SECRETQUERY`, headers: { authorization: 'Bearer SECRETHEADER' } },
        { type: 'webhook', url: `http://127.0.0.1:${port}/hook/SECRETPATH2?key=SECRETQUERY2`, headers: { 'x-signature': 'SECRETHEADER2' }, name: 'siem' },
      ],
      { ...FAST, maxAttempts: 2, maxQueue: 1, logger },
    );
    for (let i = 0; i < 4; i++) sinks.notify(opened(finding({ id: `f${i}` })));
    await sinks.close(5_000);
    assert.equal(bad.received[0]!.headers.authorization, 'Bearer SECRETHEADER', 'the header is sent');
    assert.equal(bad.received[0]!.path, '/services/T000/B000/SECRETPATH?token=SECRETQUERY');
    const all = JSON.stringify(lines);
    assert.ok(lines.length >= 3, all);
    assert.doesNotMatch(all, /SECRET/);
    assert.match(all, new RegExp(`"host":"127\\.0\\.0\\.1:${bad.port}"`));
    assert.match(all, /"sink":"siem"/);
    assert.match(all, /"reason":"ECONNREFUSED"/);
    assert.match(all, /"reason":"status 503"/);
    const stats = JSON.stringify(sinks.stats());
    assert.doesNotMatch(stats, /SECRET/);
    // and a URL that does not parse is refused without being echoed
    assert.throws(
      () => createAlertSinks([{ type: 'webhook', url: 'http//SECRETURL' }]),
      (e: unknown) => e instanceof TypeError && !e.message.includes('SECRET') && /url is not a valid URL/.test(e.message),
    );
    assert.throws(() => createAlertSinks([{ type: 'webhook', url: 'ftp://x/SECRET' }]), (e: unknown) => e instanceof TypeError && !e.message.includes('SECRET'));
  });

  void it('close() gives up at its deadline: the delivery in flight is aborted, the queue dropped, later notifies ignored', async (t) => {
    const r = await receiver(t, () => undefined);
    const { lines, logger } = logs();
    const sinks = sinksFor(t, [{ type: 'webhook', url: r.url }], { timeoutMs: 30_000, logger });
    sinks.notify(opened(finding({ id: 'a' })));
    sinks.notify(opened(finding({ id: 'b' })));
    await r.waitFor(1);
    const t0 = performance.now();
    await sinks.close(200);
    const took = performance.now() - t0;
    assert.ok(took >= 190 && took < 1_500, `${took} ms`);
    assert.deepEqual(
      sinks.stats().map((s) => [s.sent, s.failed, s.dropped, s.queued]),
      [[0, 0, 2, 0]],
    );
    assert.ok(lines.some((l) => l.msg === 'alert sinks closed before every alert was delivered' && l.obj.abandoned === 2));
    sinks.notify(opened(finding({ id: 'c' })));
    assert.equal(sinks.stats()[0]!.queued, 0);
    await sinks.close(10); // twice is harmless
  });

  void it('never keeps the process alive: a pending retry does not stop it from exiting', async () => {
    const port = await closedPort();
    const mod = new URL('../src/analysis/alerts.ts', import.meta.url).href;
    const script = `
      import { createAlertSinks } from ${JSON.stringify(mod)};
      const s = createAlertSinks([{ type: 'webhook', url: 'http://127.0.0.1:${port}/x' }], { baseDelayMs: 60000, maxDelayMs: 60000, timeoutMs: 60000 });
      s.notify({ kind: 'opened', finding: { id: 'a', detector: 'flood', key: 'k', severity: 'high', title: 't', state: 'open', firstSeen: 1, lastSeen: 1, count: 1, detail: {}, evidence: [] } });
      setTimeout(() => console.log(JSON.stringify(s.stats()[0])), 300);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | string>((resolve) => child.once('close', (c, sig) => resolve(c ?? sig ?? -1)));
    clearTimeout(killer);
    assert.equal(code, 0, err);
    const stats = JSON.parse(out) as { retried: number; queued: number };
    assert.deepEqual([stats.retried, stats.queued], [1, 1], 'it exited while waiting to retry');
  });

  void it('builds the webhook body from the finding alone', () => {
    const f = finding({ resolvedAt: 5, state: 'resolved' });
    const b = webhookBody('finding.resolved', f);
    assert.deepEqual(b.tapwire, {});
    assert.equal(b.event, 'finding.resolved');
    assert.deepEqual(b.finding, { ...f });
  });
});
