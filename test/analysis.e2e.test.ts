// Traffic analysis through the real proxy: a route that analyses without mirroring, benign traffic that raises
// nothing, then a scanner, credential stuffing, an injection and a single-source flood, each found within
// seconds, listed in the admin API with redacted evidence, counted in the metrics and sent to a webhook.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- JSON answers are read loosely */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { harness, request, waitFor } from './helpers/harness.ts';

const TOKEN = 'analysis-e2e-token-0123456789';
const AUTH = ['Authorization', `Bearer ${TOKEN}`];

describe('analysis end to end', () => {
  test('benign traffic raises nothing; scan, stuffing, injection and flood are found, redacted, counted and alerted', async (t) => {
    const h = harness(t);
    const app = await h.upstream('app', {
      kind: 'custom',
      handle: (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const url = new URL(req.url ?? '/', 'http://x');
          if (url.pathname === '/login') {
            const ok = body.includes('"password":"right"');
            res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
            return res.end(ok ? '{"ok":true}' : '{"error":"bad credentials"}');
          }
          if (/^\/api\/items(\/\d+)?$/.test(url.pathname) || url.pathname === '/api/search') {
            res.writeHead(200, { 'content-type': 'application/json' });
            return res.end('{"items":[]}');
          }
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":"not found"}');
        });
      },
    });
    // A webhook receiver: every alert it gets.
    const alerts: any[] = [];
    const receiver = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(b));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => receiver.close(() => r())));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook/secret-path-token`;

    const tw = await h.tapwire(`listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
  token: ${TOKEN}
log: { level: silent }
shutdown: { drainTimeout: 1s }
trustedProxies: [127.0.0.1/32]
analysis:
  resolveAfter: 30s
  detectors: { warmupS: 2, floodSourceHardRps: 150, floodSourceMinRps: 50 }
  alerts: [{ type: webhook, url: "${hookUrl}", minSeverity: info }]
upstreams:
  app: { url: ${app.url} }
routes:
  - name: api
    primary: app
    analyze: true
`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    t.after(() => agent.destroy());
    const from = (source: string, path: string, extra: { method?: string; body?: string; headers?: string[] } = {}) =>
      request(tw.port, {
        path,
        agent,
        ...(extra.method ? { method: extra.method } : {}),
        ...(extra.body !== undefined ? { body: extra.body } : {}),
        headers: ['X-Forwarded-For', source, 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', ...(extra.headers ?? [])],
      });
    const findings = async (): Promise<any[]> => JSON.parse((await request(tw.adminPort, { path: '/api/v1/findings?state=all&limit=500', headers: AUTH })).body.toString()).findings;

    // Benign: ten sources browsing, a few 404s and one failed login each.
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const src = `198.51.100.${i + 1}`;
          await from(src, `/api/items/${round * 10 + i}`);
          await from(src, `/api/search?q=${encodeURIComponent(`blue shoes ${round}`)}&page=2`);
          if (round % 10 === i % 10) await from(src, `/api/old-page-${i}`);
          if (round === i) await from(src, '/login', { method: 'POST', body: '{"user":"me","password":"wrong"}' });
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 2500)); // two detector ticks over the benign seconds
    assert.deepEqual(
      (await findings()).map((f) => `${f.detector} ${f.key} ${f.title}`),
      [],
      'benign traffic raised findings',
    );

    // A path scanner.
    const scanStart = Date.now();
    for (let i = 0; i < 60; i++) await from('203.0.113.10', `/${['admin', 'wp-login.php', '.env', 'backup', 'phpmyadmin', 'config'][i % 6]}-${i}`);
    // Credential stuffing from one source at one endpoint.
    for (let i = 0; i < 40; i++) await from('203.0.113.20', '/login', { method: 'POST', body: `{"user":"user${i}","password":"guess${i}"}` });
    // An injection, carrying a credential that must not reach the evidence.
    await from('203.0.113.30', `/api/search?q=${encodeURIComponent("1' UNION SELECT username, password FROM users--")}`, { headers: ['Authorization', 'Bearer attacker-secret-token'] });
    // A single-source flood.
    const floodStart = Date.now();
    const until = Date.now() + 4000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (Date.now() < until) await from('203.0.113.40', '/api/items/1');
      }),
    );

    const wanted = (list: any[]) => ({
      scan: list.find((f) => f.detector === 'scan' && f.key.includes('203.0.113.10')),
      stuffing: list.find((f) => f.detector === 'credential_stuffing' && f.key.includes('203.0.113.20')),
      injection: list.find((f) => f.detector === 'signature' && f.key.includes('203.0.113.30')),
      flood: list.find((f) => f.detector === 'flood' && f.key.includes('203.0.113.40')),
    });
    let found = wanted([]);
    assert.ok(
      await waitFor(async () => {
        found = wanted(await findings());
        return Object.values(found).every(Boolean);
      }, 12_000, 200),
      `not all attacks found: ${JSON.stringify(Object.fromEntries(Object.entries(found).map(([k, v]) => [k, Boolean(v)])))}`,
    );
    assert.ok(found.scan.firstSeen - scanStart < 10_000, `scan found after ${found.scan.firstSeen - scanStart} ms`);
    assert.ok(found.flood.firstSeen - floodStart < 10_000, `flood found after ${found.flood.firstSeen - floodStart} ms`);
    assert.equal(found.injection.detail.category, 'sqli');
    // Evidence is redacted: the attacker's bearer token never appears.
    const all = JSON.stringify(await findings());
    assert.ok(!all.includes('attacker-secret-token'), 'a credential reached the findings');
    assert.ok(found.injection.evidence.length > 0);

    // Metrics and alerts.
    const metrics = (await request(tw.adminPort, { path: '/metrics', headers: AUTH })).body.toString();
    assert.match(metrics, /tapwire_findings_total\{detector="scan",severity="[a-z]+"\} 1/);
    assert.match(metrics, /tapwire_endpoint_requests_per_second\{route="api",endpoint="GET \/api\/items\/\{id\}",upstream="app"\}/);
    assert.doesNotMatch(metrics, /203\.0\.113\./, 'a client address became a metric label');
    assert.ok(await waitFor(() => alerts.filter((a) => a.event === 'finding.opened').length >= 4, 5000, 50), `alerts received: ${alerts.length}`);
    assert.ok(!JSON.stringify(alerts).includes('attacker-secret-token'));

    // The performance view.
    const perf = JSON.parse((await request(tw.adminPort, { path: '/api/v1/performance', headers: AUTH })).body.toString());
    assert.ok(perf.endpoints.some((e: any) => e.endpoint === 'GET /api/items/{id}' && e.rate1m > 0), JSON.stringify(perf.endpoints.slice(0, 3)));
    assert.equal(perf.busiestSources[0].source, '203.0.113.40');
    // The webhook URL (a credential) is not shown in the running config.
    const cfg = (await request(tw.adminPort, { path: '/api/v1/config', headers: AUTH })).body.toString();
    assert.ok(!cfg.includes('secret-path-token'), 'the alert URL is shown in /api/v1/config');
  });
});
