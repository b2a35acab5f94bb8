// `tapwire run --workers 2` as a real child process: both workers serve the one data port, the primary's /metrics
// adds them up exactly, /readyz covers every worker, a killed worker comes back, and SIGTERM drains them and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream } from './helpers/upstream.ts';
import { request, waitFor } from './helpers/client.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const REQUESTS = 200;

interface WorkerView {
  readonly worker: number;
  readonly pid: number | null;
  readonly ready: boolean;
  readonly requests: number;
  readonly restarts: number;
}

async function json<T>(port: number, path: string): Promise<{ status: number; body: T }> {
  const r = await request(port, { path });
  return { status: r.status, body: JSON.parse(r.body.toString('utf8')) as T };
}

/** The value of one series in a Prometheus text exposition (summed over label sets that contain `labels`). */
function series(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})? ([^ ]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) continue;
    total += Number(m[3]);
    seen = true;
  }
  assert.ok(seen, `no series ${name}${JSON.stringify(labels)} in /metrics`);
  return total;
}

test('--workers 2: one data port served by both workers, metrics that add up, a dead worker restarted, SIGTERM exits 0', async (t) => {
  const primary = await startUpstream('v1');
  const candidate = await startUpstream('v2');
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-workers-'));
  t.after(async () => {
    await primary.close();
    await candidate.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'tapwire.yaml');
  writeFileSync(
    file,
    [
      'listen: 127.0.0.1:0',
      'admin: { listen: 127.0.0.1:0 }',
      `storage: sqlite:${join(dir, 'tapwire.db')}`,
      'log: { level: warn }',
      'shutdown: { drainTimeout: 5s }',
      'upstreams:',
      `  v1: { url: ${primary.url} }`,
      `  v2: { url: ${candidate.url} }`,
      'routes:',
      '  - name: api',
      '    primary: v1',
      '    mirrors: [{ upstream: v2 }]',
      '',
    ].join('\n'),
  );

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '-c', file, '--workers', '2', '--no-watch'], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  t.after(() => {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  assert.ok(await waitFor(() => /proxy on .* \(2 workers\), admin on/.test(stderr) || child.exitCode !== null, 40_000), `tapwire did not start:\n${stderr}`);
  const m = /proxy on [^:]+:(\d+) \(2 workers\), admin on http:\/\/[^:]+:(\d+)/.exec(stderr);
  assert.ok(m, `no start line in:\n${stderr}`);
  const dataPort = Number(m[1]);
  const adminPort = Number(m[2]);
  assert.equal((await request(adminPort, { path: '/readyz' })).status, 200);

  // A new connection per request: node:cluster hands connections to the workers in turn.
  for (let i = 0; i < REQUESTS; i++) {
    const r = await request(dataPort, { path: `/item/${i}` });
    assert.equal(r.status, 200);
  }
  assert.equal(primary.requests.length, REQUESTS);

  // Workers push their stats every second: wait until both have reported everything.
  let workers: WorkerView[] = [];
  const reported = await waitFor(async () => {
    workers = (await json<{ workers: WorkerView[] }>(adminPort, '/api/v1/stats')).body.workers;
    return workers.reduce((n, w) => n + w.requests, 0) === REQUESTS;
  }, 10_000, 200);
  assert.ok(reported, `stats never added up to ${REQUESTS}: ${JSON.stringify(workers)}`);
  assert.equal(workers.length, 2);
  const pids = workers.map((w) => w.pid);
  assert.equal(new Set(pids).size, 2, 'two distinct worker processes');
  for (const w of workers) assert.ok(w.requests > 0, `worker ${w.worker} served nothing: ${JSON.stringify(workers)}`);

  const stats = (await json<{ routes: Array<{ route: string; requests: number; matched: number; inFlight: number; outcomes: Record<string, number> }> }>(adminPort, '/api/v1/stats')).body;
  const api = stats.routes.find((r) => r.route === 'api');
  assert.equal(api?.requests, REQUESTS);

  // Every copy has ended once the candidate has them all; the merged counters then match exactly.
  assert.ok(await waitFor(() => candidate.completeCount() === REQUESTS, 10_000), `candidate got ${candidate.completeCount()} copies`);
  let metrics = '';
  assert.ok(
    await waitFor(async () => {
      metrics = (await request(adminPort, { path: '/metrics' })).body.toString('utf8');
      return series(metrics, 'tapwire_mirror_requests_total', { outcome: 'delivered' }) === REQUESTS;
    }, 10_000, 100),
    'mirror outcomes never added up',
  );
  assert.equal(series(metrics, 'tapwire_requests_total', { route: 'api' }), REQUESTS);
  assert.equal(series(metrics, 'tapwire_requests_total', { route: 'api', code: '200' }), REQUESTS);
  assert.equal(series(metrics, 'tapwire_request_duration_seconds_count', { route: 'api' }), REQUESTS);
  assert.equal(series(metrics, 'tapwire_mirror_requests_total', { route: 'api', mirror: 'v2' }), REQUESTS);
  assert.equal(series(metrics, 'tapwire_cluster_workers', { state: 'ready' }), 2);
  assert.equal(series(metrics, 'tapwire_cluster_worker_restarts_total'), 0);
  // OpenMetrics is negotiated on the summed registry too
  const om = await request(adminPort, { path: '/metrics', headers: ['Accept', 'application/openmetrics-text; version=1.0.0'] });
  assert.match(String(om.headers['content-type']), /openmetrics/);
  assert.match(om.body.toString('utf8'), /# EOF/);

  // A worker that dies is replaced; /readyz answers for all of them.
  const victim = workers[0]!;
  process.kill(victim.pid!, 'SIGKILL');
  const replaced = await waitFor(async () => {
    const w = (await json<{ workers: WorkerView[] }>(adminPort, '/api/v1/stats')).body.workers.find((x) => x.worker === victim.worker);
    return w !== undefined && w.ready && w.pid !== victim.pid && w.restarts === 1;
  }, 20_000, 100);
  assert.ok(replaced, `worker ${victim.worker} was not restarted:\n${stderr}`);
  assert.equal((await request(adminPort, { path: '/readyz' })).status, 200);
  metrics = (await request(adminPort, { path: '/metrics' })).body.toString('utf8');
  assert.equal(series(metrics, 'tapwire_cluster_worker_restarts_total'), 1);
  assert.equal((await request(dataPort, { path: '/after-restart' })).status, 200);

  child.kill('SIGTERM');
  const code = await exited;
  assert.equal(code, 0, `exit code ${code}:\n${stderr}`);
});

test('--workers refuses a value out of range as a usage error (exit 2)', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '-c', 'nonexistent.yaml', '--workers', '0'], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /--workers.*1 to 64/);
});

test('--workers refuses storage: memory when a route compares or analyses (each worker would keep results nobody sees)', async () => {
  const { loadConfigText } = await import('../src/config/load.ts');
  const { workersProblem } = await import('../src/cluster/primary.ts');
  const base = 'listen: 127.0.0.1:0\nupstreams: { a: { url: "http://127.0.0.1:1" }, b: { url: "http://127.0.0.1:2" } }\n';
  const load = (text: string) => {
    const r = loadConfigText(text);
    assert.ok(r.ok, JSON.stringify(r.ok ? [] : r.issues));
    return r.config;
  };
  const comparing = load(`${base}routes: [{ name: r, primary: a, mirrors: [{ upstream: b }], compare: {} }]\n`);
  assert.match(workersProblem(comparing, 2) ?? '', /storage: memory.*route r compares or analyses/);
  assert.equal(workersProblem(comparing, 1), undefined, 'one process keeps today’s behaviour');
  const analysing = load(`${base}routes: [{ name: r, primary: a, analyze: true }]\n`);
  assert.match(workersProblem(analysing, 4) ?? '', /route r/);
  const mirrorOnly = load(`${base}routes: [{ name: r, primary: a, mirrors: [{ upstream: b }] }]\n`);
  assert.equal(workersProblem(mirrorOnly, 2), undefined);
  const shared = load(`${base}storage: sqlite:/tmp/x.db\nroutes: [{ name: r, primary: a, mirrors: [{ upstream: b }], compare: {} }]\n`);
  assert.equal(workersProblem(shared, 2), undefined);
});
