// Compare end to end: a primary (v1), a secondary (v1b, the same code) and a candidate (v2) with known, planted
// differences, real sockets, the compare worker thread and the store. The verdict must name exactly the planted
// regressions: nondeterministic fields are noise, everything else passes.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- JSON answers of the admin API are read loosely */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { harness, request, type Reply } from './helpers/harness.ts';

const TOKEN = 'compare-scenario-token-0123456789';
const AUTH = ['Authorization', `Bearer ${TOKEN}`];

type Version = 'v1' | 'v1b' | 'v2';

/** One build of the service. v2 carries the planted regressions; v1 and v1b differ only in noise. */
function service(version: Version) {
  let healthCalls = 0;
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    // Nondeterministic in every build, so the secondary learns them as noise.
    const meta = { generatedAt: new Date(Date.now() + Math.floor(Math.random() * 1e6)).toISOString(), requestId: Math.random().toString(36).slice(2) };
    const send = (status: number, body: unknown, delayMs = 0): void => {
      const text = JSON.stringify(body);
      const go = (): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': meta.requestId });
        res.end(text);
      };
      if (delayMs > 0) setTimeout(go, delayMs);
      else go();
    };
    const [, first, id] = url.pathname.split('/');
    switch (first) {
      case 'users': {
        const user: Record<string, unknown> = { id: Number(id), name: `user ${id}`, email: `u${id}@example.com`, meta };
        if (version === 'v2') delete user.email; // planted: a removed field
        return send(200, user);
      }
      case 'orders':
        // planted: a changed type (number → string)
        return send(200, { id: Number(id), total: version === 'v2' ? '12.50' : 12.5, currency: 'EUR', meta });
      case 'catalog': {
        const items = [{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }];
        // planted: a reordered array
        return send(200, { items: version === 'v2' ? [items[2], items[0], items[1]] : items, meta });
      }
      case 'search':
        // planted: 20% slower
        return send(200, { q: url.searchParams.get('q'), hits: 3, meta }, version === 'v2' ? 72 : 60);
      case 'health':
        healthCalls++;
        // planted: an occasional 500 (every 8th call)
        if (version === 'v2' && healthCalls % 8 === 0) return send(500, { error: 'boom', meta });
        return send(200, { ok: true, meta });
      case 'profile':
        // no regression: only the noise differs
        return send(200, { id: Number(id), plan: 'pro', meta });
      default:
        return send(404, { error: 'no such page' });
    }
  };
}

const json = (r: Reply): any => JSON.parse(r.body.toString());

describe('compare: planted regressions', () => {
  test('the verdict names exactly the planted regressions; noise is recognised; the admin API shows why', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', { kind: 'custom', handle: service('v1') });
    const v1b = await h.upstream('v1b', { kind: 'custom', handle: service('v1b') });
    const v2 = await h.upstream('v2', { kind: 'custom', handle: service('v2') });
    const tw = await h.tapwire(`listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
  token: ${TOKEN}
log: { level: silent }
shutdown: { drainTimeout: 1s }
compare:
  flushInterval: 100ms
  thresholds: { minSamples: 40, latencyRatio: 1.1, latencyPercentile: p50, latencyMinDelta: 3ms }
upstreams:
  v1: { url: ${v1.url} }
  v1b: { url: ${v1b.url} }
  v2: { url: ${v2.url} }
routes:
  - name: api
    primary: v1
    secondary: v1b
    mirrors: [{ upstream: v2 }]
    compare: {}
`);
    const paths = (i: number) => [`/users/${i}`, `/orders/${1000 + i}`, '/catalog', `/search?q=term${i}`, '/health', `/profile/${i}`];
    const N = 48;
    // 8 concurrent clients; every request carries a credential that must never reach the stored examples.
    let next = 0;
    const all = Array.from({ length: N }, (_, i) => paths(i)).flat();
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < all.length) {
          const path = all[next++]!;
          const r = await request(tw.port, { path, headers: ['Authorization', 'Bearer client-secret-do-not-store'] });
          if (r.status !== 200) failures.push(`${path}: ${r.status}`);
        }
      }),
    );
    assert.deepEqual(failures, [], 'the client must get the primary (v1) answer every time');

    // Copies finish after the client's answer: wait until every trial reached compare.
    const engine = tw.app.compare!;
    const deadline = Date.now() + 15_000;
    while (engine.stats().processed < all.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(engine.stats().processed, all.length, `compared ${engine.stats().processed} of ${all.length} trials`);

    const verdict = json(await request(tw.adminPort, { path: '/api/v1/verdict', headers: AUTH }));
    const byEndpoint = new Map<string, any>(verdict.endpoints.map((e: any) => [e.endpoint, e]));
    const why = JSON.stringify(verdict.endpoints.map((e: any) => [e.endpoint, e.verdict, e.reasons.map((r: any) => r.message)]), null, 1);
    assert.deepEqual(
      [...byEndpoint.keys()].sort(),
      ['GET /catalog', 'GET /health', 'GET /orders/{id}', 'GET /profile/{id}', 'GET /search', 'GET /users/{id}'],
      why,
    );
    assert.equal(verdict.verdict, 'fail');

    const regressed = (endpoint: string) => byEndpoint.get(endpoint).regressions.map((r: any) => r.field).sort();
    const codes = (endpoint: string) => [...new Set(byEndpoint.get(endpoint).reasons.map((r: any) => r.code))].sort();

    // a removed field
    assert.deepEqual(regressed('GET /users/{id}'), ['$.email'], why);
    assert.equal(byEndpoint.get('GET /users/{id}').verdict, 'fail');
    // a changed type
    assert.deepEqual(regressed('GET /orders/{id}'), ['$.total'], why);
    assert.deepEqual(codes('GET /orders/{id}'), ['field_regression'], why);
    // a reordered array: positions compared by index differ
    assert.ok(regressed('GET /catalog').length > 0 && regressed('GET /catalog').every((f: string) => f.startsWith('$.items[*]')), why);
    // 20% slower, and nothing else wrong with it
    assert.deepEqual(codes('GET /search'), ['latency'], `${why}\n${JSON.stringify(byEndpoint.get('GET /search').latency)}`);
    assert.deepEqual(regressed('GET /search'), [], why);
    // an occasional 500
    assert.ok(codes('GET /health').includes('errors'), why);
    // only noise: passes
    assert.equal(byEndpoint.get('GET /profile/{id}').verdict, 'pass', why);
    assert.deepEqual(codes('GET /users/{id}'), ['field_regression'], why);

    // The nondeterministic fields are noise everywhere, never a regression.
    for (const e of verdict.endpoints) {
      for (const r of e.regressions) assert.ok(!r.field.startsWith('$.meta'), `${e.endpoint}: ${r.field} reported as a regression`);
    }
    const profile = byEndpoint.get('GET /profile/{id}');
    assert.deepEqual(profile.noisyFields.map((f: any) => f.field).sort(), ['$.meta.generatedAt', '$.meta.requestId']);
    assert.ok(profile.noiseCompared >= N, 'the secondary was not compared');

    // Latency per endpoint and side, over the same requests.
    const search = byEndpoint.get('GET /search');
    assert.ok(search.latency.primary.p50 >= 59 && search.latency.candidate.p50 >= 71, JSON.stringify(search.latency));

    // Endpoint detail: fields with raw and noise counts.
    const users = byEndpoint.get('GET /users/{id}');
    const detail = json(await request(tw.adminPort, { path: `/api/v1/endpoints/${users.id}`, headers: AUTH }));
    const email = detail.fields.find((f: any) => f.field === '$.email');
    assert.equal(email.raw, N);
    assert.equal(email.noise, 0);
    assert.equal(email.regression, true);
    const noiseField = detail.fields.find((f: any) => f.field === '$.meta.requestId');
    assert.ok(noiseField.noise > 0 && noiseField.regression === false, JSON.stringify(noiseField));

    // Examples: the request and both answers, with the credential redacted.
    const diffs = json(await request(tw.adminPort, { path: `/api/v1/diffs?endpoint=${users.id}&field=${encodeURIComponent('$.email')}`, headers: AUTH }));
    assert.ok(diffs.examples.length > 0 && diffs.examples.length <= 25, `${diffs.examples.length} examples`);
    const example = diffs.examples[0];
    assert.equal(example.field, '$.email');
    assert.match(example.left.body, /"email"/);
    assert.doesNotMatch(example.right.body, /"email"/);
    assert.ok(example.diffs.some((d: any) => d.path === '$.email' && d.kind === 'removed'));
    const stored = JSON.stringify(diffs);
    assert.ok(!stored.includes('client-secret-do-not-store'), 'a credential reached the stored examples');

    // Marking the field as noise (a token-protected POST) turns the endpoint into a pass.
    const denied = await request(tw.adminPort, { method: 'POST', path: '/api/v1/noise', headers: ['Content-Type', 'application/json'], body: JSON.stringify({ endpoint: users.id, field: '$.email' }) });
    assert.equal(denied.status, 401);
    const wrongType = await request(tw.adminPort, { method: 'POST', path: '/api/v1/noise', headers: [...AUTH, 'Content-Type', 'text/plain'], body: '{}' });
    assert.equal(wrongType.status, 415);
    const marked = await request(tw.adminPort, { method: 'POST', path: '/api/v1/noise', headers: [...AUTH, 'Content-Type', 'application/json'], body: JSON.stringify({ endpoint: users.id, field: '$.email' }) });
    assert.equal(marked.status, 200, marked.body.toString());
    const after = json(await request(tw.adminPort, { path: `/api/v1/endpoints/${users.id}`, headers: AUTH }));
    assert.equal(after.verdict, 'pass', JSON.stringify(after.candidates[0].reasons));

    // The gate for Flagger-style webhooks: 412 while anything fails.
    const gate = await request(tw.adminPort, { path: '/api/v1/verdict/gate', headers: AUTH });
    assert.equal(gate.status, 412);

    // Reset forgets one endpoint.
    const reset = await request(tw.adminPort, { method: 'POST', path: '/api/v1/reset', headers: [...AUTH, 'Content-Type', 'application/json'], body: JSON.stringify({ endpoint: users.id }) });
    assert.equal(reset.status, 200);
    assert.ok(json(reset).deleted > 0);
    const gone = await request(tw.adminPort, { path: `/api/v1/endpoints/${users.id}`, headers: AUTH });
    assert.equal(gone.status, 404);

    // Metrics: trials accepted and processed, nothing dropped.
    const metrics = (await request(tw.adminPort, { path: '/metrics', headers: AUTH })).body.toString();
    assert.match(metrics, new RegExp(`tapwire_compare_trials_total\\{result="processed"\\} ${all.length}`));
    assert.match(metrics, /tapwire_compare_dropped_total\{reason="queue_full"\} 0/);
  });
});
