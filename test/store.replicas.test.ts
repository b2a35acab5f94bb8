// Many replicas, one PostgreSQL: three `tapwire run` processes share one database and split the traffic between
// them; one more process gets all of the same traffic alone, with its own database. The verdict read from any
// replica (overall and per endpoint: counts, field diff counts, noise, reasons, decision) must equal the single
// process's. The upstreams are deterministic (no random noise, errors chosen by the request) and compare takes
// every trial (compare.maxPerSecond: 0), so the counts are exact and the comparison can be strict.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- JSON answers of the admin API are read loosely */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { harness, request, startCli, writeConfig, type CliProcess } from './helpers/harness.ts';
import { pgUnavailable, startPgCluster, type PgCluster } from './helpers/pg.ts';

const TOKEN = 'replicas-test-token-0123456789';
const AUTH = ['Authorization', `Bearer ${TOKEN}`];
const REPLICAS = 3;
const PER_ENDPOINT = 30;

type Version = 'v1' | 'v1b' | 'v2';

/** One build of the service; v2 carries planted regressions. Every answer depends on the request only. */
function service(version: Version) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    const n = Number(url.searchParams.get('n') ?? 0);
    // differs between every two builds, the secondary included: noise, never a regression
    const meta = { servedBy: version };
    const send = (status: number, body: unknown, delayMs = 0): void => {
      const go = (): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (delayMs > 0) setTimeout(go, delayMs);
      else go();
    };
    const [, first, id] = url.pathname.split('/');
    switch (first) {
      case 'users': {
        const user: Record<string, unknown> = { id: Number(id), name: `user ${id}`, email: `u${id}@example.com`, meta };
        if (version === 'v2') delete user.email; // a removed field
        return send(200, user);
      }
      case 'orders':
        // a changed type, in one order of three
        return send(200, { id: Number(id), total: version === 'v2' && Number(id) % 3 === 0 ? '12.50' : 12.5, meta });
      case 'search':
        // much slower: a latency regression no scheduling jitter can hide or fake
        return send(200, { q: url.searchParams.get('q'), hits: 3, meta }, version === 'v2' ? 300 : 0);
      case 'health':
        // a 500 in one request of four, chosen by the request
        if (version === 'v2' && n % 4 === 0) return send(500, { error: 'boom', meta });
        return send(200, { ok: true, meta });
      case 'profile':
        return send(200, { id: Number(id), plan: 'pro', meta }); // only noise
      default:
        return send(404, { error: 'no such page' });
    }
  };
}

/** The deterministic traffic: every endpoint PER_ENDPOINT times, interleaved. */
function traffic(): string[] {
  const out: string[] = [];
  for (let i = 0; i < PER_ENDPOINT; i++) out.push(`/users/${i}`, `/orders/${1000 + i}`, `/search?q=t${i}`, `/health?n=${i}`, `/profile/${i}`);
  return out;
}

function config(storage: string, urls: Record<Version, string>): string {
  return `listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
  token: ${TOKEN}
log: { level: error }
shutdown: { drainTimeout: 1s }
storage: ${storage}
compare:
  maxPerSecond: 0
  flushInterval: 500ms
  thresholds: { minSamples: 20, latencyRatio: 1.5, latencyPercentile: p50, latencyMinDelta: 150ms }
upstreams:
  v1: { url: ${urls.v1} }
  v1b: { url: ${urls.v1b} }
  v2: { url: ${urls.v2} }
routes:
  - name: api
    primary: v1
    secondary: v1b
    mirrors: [{ upstream: v2 }]
    compare: {}
`;
}

const json = (body: Buffer): any => JSON.parse(body.toString());

/** Sends paths to one tapwire, a few at a time; every answer must be the primary's. */
async function send(port: number, paths: readonly string[]): Promise<void> {
  let next = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < paths.length) {
        const path = paths[next++]!;
        const r = await request(port, { path });
        if (r.status !== 200) failures.push(`${path}: ${r.status}`);
      }
    }),
  );
  assert.deepEqual(failures, []);
}

/** A metric's value from the Prometheus text, 0 when absent. */
function metric(text: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}"\\]/g, '\\$&')} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Waits (bounded) until every process compared its trials and the store holds all of them. */
async function settle(procs: readonly CliProcess[], shares: readonly number[], total: number): Promise<any> {
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    const metrics = await Promise.all(procs.map(async (p) => (await request(p.adminPort, { path: '/metrics', headers: AUTH })).body.toString()));
    const processed = metrics.map((m) => metric(m, 'tapwire_compare_trials_total{result="processed"}'));
    // a batch dropped because the store fell behind can never arrive: say so at once
    const dropped = metrics.map((m) => metric(m, 'tapwire_compare_dropped_total{reason="store_backlog"}'));
    assert.deepEqual(dropped, procs.map(() => 0), 'compare batches were dropped because the store fell behind');
    if (processed.every((n, i) => n >= shares[i]!)) {
      const verdict = json((await request(procs[0]!.adminPort, { path: '/api/v1/verdict', headers: AUTH })).body);
      const compared = verdict.endpoints.reduce((s: number, e: any) => s + e.compared, 0);
      const noise = verdict.endpoints.reduce((s: number, e: any) => s + e.noiseCompared, 0);
      last = `processed ${processed.join('/')}, compared ${compared}, noise ${noise} of ${total}`;
      if (compared === total && noise === total) return verdict;
    } else last = `processed ${processed.join('/')} of ${shares.join('/')}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the trials did not all reach the store in 60 s: ${last}\n${procs.map((p) => p.stderr() + p.stdout().slice(0, 4000)).join('\n')}`);
}

/** What must not depend on how many processes wrote: everything but timings and generation time. */
function deterministic(v: any): unknown {
  return {
    verdict: v.verdict,
    summary: v.summary,
    routes: v.routes.map((r: any) => [r.route, r.verdict]),
    endpoints: v.endpoints.map((e: any) => ({
      id: e.id,
      route: e.route,
      endpoint: e.endpoint,
      upstream: e.upstream,
      verdict: e.verdict,
      compared: e.compared,
      differing: e.differing,
      diffRate: e.diffRate,
      noiseCompared: e.noiseCompared,
      regressions: e.regressions,
      noisyFields: e.noisyFields,
      reasons: e.reasons.map((r: any) => (r.code === 'latency' ? { code: r.code, percentile: r.percentile } : r)),
      samples: [e.latency.primary.count, e.latency.candidate.count],
      errorRate: e.errorRate,
    })),
  };
}

const skip = pgUnavailable();

describe('many replicas on one PostgreSQL', { skip }, () => {
  let cluster: PgCluster | undefined;
  before(async () => {
    cluster = await startPgCluster();
  });
  after(() => cluster?.stop());

  test('three processes sharing a database give the verdict one process gives on the same traffic', { timeout: 300_000 }, async (t) => {
    const h = harness(t);
    const urls = {
      v1: (await h.upstream('v1', { kind: 'custom', handle: service('v1') })).url,
      v1b: (await h.upstream('v1b', { kind: 'custom', handle: service('v1b') })).url,
      v2: (await h.upstream('v2', { kind: 'custom', handle: service('v2') })).url,
    };
    const shared = await cluster!.createDatabase('replicas_shared');
    const alone = await cluster!.createDatabase('replicas_single');
    const dir = h.tempDir();
    // One after another, with a generous start budget: on a busy 2-CPU machine four tsx starts at once can take long.
    const start = async (name: string, storage: string): Promise<CliProcess> => {
      const p = await startCli(writeConfig(dir, `${name}.yaml`, config(storage, urls)), [], 60_000);
      t.after(() => p.kill());
      return p;
    };
    const single = await start('single', alone);
    const replicas: CliProcess[] = [];
    for (let i = 0; i < REPLICAS; i++) replicas.push(await start(`replica${i}`, shared));
    assert.equal(new Set(replicas.map((r) => r.port)).size, REPLICAS);

    const all = traffic();
    const parts = replicas.map((_, i) => all.filter((_, j) => j % REPLICAS === i));
    // one side after the other: on two CPUs, four busy processes at once would make the copies' timings noise
    await send(single.port, all);
    const one = await settle([single], [all.length], all.length);
    await Promise.all(replicas.map((r, i) => send(r.port, parts[i]!)));
    const many = await settle(replicas, parts.map((p) => p.length), all.length);
    for (const p of [single, ...replicas]) assert.doesNotMatch(p.stderr() + p.stdout(), /store failed|TW_ERR_STORE/, 'a write to the store failed');

    // Each replica answers with the shared verdict.
    for (const r of replicas.slice(1)) {
      const v = json((await request(r.adminPort, { path: '/api/v1/verdict', headers: AUTH })).body);
      assert.deepEqual(deterministic(v), deterministic(many));
    }
    assert.deepEqual(deterministic(many), deterministic(one));

    // And the verdict is the planted one, so the equality above is not between two empty reports.
    const byEndpoint = new Map<string, any>(many.endpoints.map((e: any) => [e.endpoint, e]));
    const why = JSON.stringify(deterministic(many), null, 1);
    assert.equal(many.verdict, 'fail');
    assert.deepEqual([...byEndpoint.keys()].sort(), ['GET /health', 'GET /orders/{id}', 'GET /profile/{id}', 'GET /search', 'GET /users/{id}'], why);
    for (const e of byEndpoint.values()) assert.equal(e.compared, PER_ENDPOINT, why);
    assert.deepEqual(
      byEndpoint.get('GET /users/{id}').regressions.map((r: any) => [r.field, r.raw]),
      [['$.email', PER_ENDPOINT]],
      why,
    );
    assert.deepEqual(
      byEndpoint.get('GET /orders/{id}').regressions.map((r: any) => [r.field, r.raw]),
      [['$.total', PER_ENDPOINT / 3]],
      why,
    );
    assert.ok(byEndpoint.get('GET /health').reasons.some((r: any) => r.code === 'errors'), why);
    assert.ok(byEndpoint.get('GET /search').reasons.some((r: any) => r.code === 'latency'), why);
    assert.equal(byEndpoint.get('GET /profile/{id}').verdict, 'pass', why);
    assert.deepEqual(
      byEndpoint.get('GET /profile/{id}').noisyFields.map((f: any) => [f.field, f.raw, f.noise]),
      [['$.meta.servedBy', PER_ENDPOINT, PER_ENDPOINT]],
      why,
    );
    t.diagnostic(`${all.length} requests: one process and ${REPLICAS} replicas (${parts.map((p) => p.length).join(' + ')}) agree on ${many.endpoints.length} endpoints, verdict ${many.verdict}`);
  });
});
