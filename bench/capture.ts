// The cost of capture on the primary's throughput: tapwire in front of one upstream, the route captured at 100%
// (redacted NDJSON files) against the same route without capture, in one run, alternating per repetition, wrk with
// keep-alive. Prints req/s and p99 per phase, the median ratio (target >= 0.9x) and capture's own counters
// (written, dropped). A script, not a test; the machine it runs on should be quiet.
//
//   npm run bench:capture   (REPS=3 DURATION=10 WARMUP=3 CONNECTIONS=50 BODY_BYTES=1024 GZIP=0)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../', import.meta.url).pathname;
const env = process.env;
const REPS = Number(env.REPS ?? 3);
const DURATION = Number(env.DURATION ?? 10);
const WARMUP = Number(env.WARMUP ?? 3);
const CONNECTIONS = Number(env.CONNECTIONS ?? 50);
const BODY_BYTES = Number(env.BODY_BYTES ?? 1024);
const GZIP = env.GZIP === '1';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});
process.on('SIGINT', () => process.exit(130));

function start(cmd: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, NODE_OPTIONS: '' } });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function waitFor<T>(check: () => T | undefined | null | false, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const upstreamCode = `
const http = require('node:http');
const items = [];
for (let i = 0; JSON.stringify(items).length < ${BODY_BYTES} - 40; i++) items.push({ id: i, name: 'item ' + i, price: i * 1.5 });
const body = JSON.stringify({ items, token: 'not-really-secret' });
const s = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));`;

function configFor(capture: boolean, port: number, dir: string): string {
  return `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { level: warn }
upstreams:
  v1: { url: http://127.0.0.1:${port}, maxConnections: 64 }
capture: { file: ${join(dir, 'cap')}/, gzip: ${GZIP}, redact: { key: "bench-capture-key-0123456789" } }
routes:
  - name: api
    primary: v1
${capture ? '    capture: {}\n' : ''}`;
}

function wrk(url: string, seconds: number): { rps: number; p99ms: number; errors: number } {
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', 'Authorization: Bearer bench-token', url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99ms = p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'] : NaN;
  return { rps, p99ms, errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0') };
}

function get(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
}

const metric = (text: string, name: string): number => Number(new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Row {
  rep: number;
  capture: boolean;
  rps: number;
  p99ms: number;
  errors: number;
  written: number;
  dropped: number;
  bytes: number;
}

async function phase(rep: number, capture: boolean, upstreamPort: number, dir: string): Promise<Row> {
  const file = join(dir, `${capture ? 'on' : 'off'}.yaml`);
  writeFileSync(file, configFor(capture, upstreamPort, dir));
  const tw = start(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '-c', file]);
  const m = await waitFor(() => /proxy on ([\d.]+):(\d+), admin on http:\/\/[\d.]+:(\d+)/.exec(tw.output()), 30_000, 'tapwire to listen');
  const [port, adminPort] = [Number(m[2]), Number(m[3])];
  const url = `http://127.0.0.1:${port}/api/items?page=1`;
  wrk(url, WARMUP);
  const r = wrk(url, DURATION);
  await new Promise((res) => setTimeout(res, 1500));
  const metrics = await get(adminPort, '/metrics');
  tw.child.kill('SIGTERM');
  await new Promise((res) => tw.child.once('exit', res));
  return {
    rep,
    capture,
    ...r,
    written: metric(metrics, 'tapwire_capture_entries_total{route="api",result="written"}') || 0,
    dropped: (metric(metrics, 'tapwire_capture_entries_total{route="api",result="dropped_queue_full"}') || 0) + (metric(metrics, 'tapwire_capture_entries_total{route="api",result="dropped_write_error"}') || 0),
    bytes: metric(metrics, 'tapwire_capture_bytes_total') || 0,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-bench-capture-'));
  const up = start(process.execPath, ['-e', upstreamCode]);
  const upstreamPort = Number((await waitFor(() => /PORT (\d+)/.exec(up.output()), 10_000, 'the upstream'))[1]);
  const rows: Row[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const capture of rep % 2 ? [false, true] : [true, false]) {
      const r = await phase(rep, capture, upstreamPort, dir);
      rows.push(r);
      console.log(
        `rep ${rep} capture ${capture ? 'on ' : 'off'} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99ms.toFixed(2)} ms  non-2xx ${r.errors}` +
          (capture ? `  written ${r.written}, dropped ${r.dropped}, ${(r.bytes / 1024 / 1024).toFixed(1)} MiB` : ''),
      );
    }
  }
  const ratios: number[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const off = rows.find((r) => r.rep === rep && !r.capture)!;
    const on = rows.find((r) => r.rep === rep && r.capture)!;
    ratios.push(on.rps / off.rps);
  }
  const files = readdirSync(join(dir, 'cap')).length;
  const size = readdirSync(join(dir, 'cap')).reduce((n, f) => n + statSync(join(dir, 'cap', f)).size, 0);
  console.log(`\n| phase | req/s per repetition | median req/s | median p99 ms |\n|---|---|---|---|`);
  for (const capture of [false, true]) {
    const rs = rows.filter((r) => r.capture === capture);
    console.log(`| capture ${capture ? 'on (100%)' : 'off'} | ${rs.map((r) => r.rps.toFixed(0)).join(', ')} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(rs.map((r) => r.p99ms)).toFixed(2)} |`);
  }
  console.log(`\ncapture on / off: per-repetition ratios ${ratios.map((x) => x.toFixed(3)).join(', ')}; median ${median(ratios).toFixed(3)}x (target >= 0.9x)`);
  console.log(`capture files: ${files}, ${(size / 1024 / 1024).toFixed(1)} MiB${GZIP ? ' (gzip)' : ''}`);
  rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
