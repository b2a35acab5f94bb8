// The cost of compare on the primary's throughput: tapwire mirroring to a candidate and a secondary (plain
// mirrors) against the same with compare on (the secondary learns noise, the worker diffs every trial), in one
// run, alternating A/B per repetition, wrk with keep-alive. Prints req/s and p99 per phase, the median
// ratio, and compare's own counters (trials processed and dropped). A script, not a test.
//
//   node bench/compare-throughput.mjs   (REPS=3 DURATION=10 WARMUP=3 CONNECTIONS=50 BODY_BYTES=2048,
//                                        COMPARE_MAX_PER_SECOND=N to override compare.maxPerSecond; 0 = every request)
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const env = process.env;
const REPS = Number(env.REPS ?? 3);
const DURATION = Number(env.DURATION ?? 10);
const WARMUP = Number(env.WARMUP ?? 3);
const CONNECTIONS = Number(env.CONNECTIONS ?? 50);
const BODY_BYTES = Number(env.BODY_BYTES ?? 2048);
/** compare.maxPerSecond for the compare phases; unset: tapwire's default */
const MAX_PER_SECOND = env.COMPARE_MAX_PER_SECOND;

const children = new Set();
const cleanup = () => {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { child, output: () => out };
}

function waitFor(check, ms, what) {
  return new Promise((resolve, reject) => {
    const until = Date.now() + ms;
    const tick = () => {
      const v = check();
      if (v) return resolve(v);
      if (Date.now() > until) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

// ---- upstreams: one process, three ports (primary v1, secondary v1b, candidate v2), ~BODY_BYTES of JSON
const upstreamCode = `
const http = require('node:http');
const N = ${BODY_BYTES};
const ITEMS = [];
for (let i = 0; JSON.stringify(ITEMS).length < N - 120; i++) ITEMS.push({ id: i, name: 'item ' + i, price: i * 1.5, tags: ['a', 'b'] });
const BODY = { v1: JSON.stringify(ITEMS), v1b: JSON.stringify(ITEMS), v2: JSON.stringify(ITEMS.map((x, i) => (i === 0 ? { ...x, price: x.price + 1 } : x))) };
// Only the nondeterministic fields are made per request (the secondary learns them as noise).
function doc(version) {
  return '{"meta":{"generatedAt":"' + new Date().toISOString() + '","requestId":"' + Math.random().toString(36).slice(2) + '"},"version":1,"items":' + BODY[version] + '}';
}
const ports = [];
let ready = 0;
for (const v of ['v1', 'v1b', 'v2']) {
  const s = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
    req.resume();
    req.on('end', () => { const b = doc(v); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) }); res.end(b); });
  });
  s.listen(0, '127.0.0.1', () => { ports.push([v, s.address().port]); if (++ready === 3) console.log('PORTS ' + JSON.stringify(Object.fromEntries(ports))); });
}`;

function configFor(mode, ports, dir) {
  const compare = mode === 'compare';
  return `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { level: warn }
${compare && MAX_PER_SECOND !== undefined ? `compare: { maxPerSecond: ${Number(MAX_PER_SECOND)} }\n` : ''}storage: sqlite:${path.join(dir, `bench-${mode}.db`)}
upstreams:
  v1: { url: http://127.0.0.1:${ports.v1}, maxConnections: 64 }
  v1b: { url: http://127.0.0.1:${ports.v1b}, maxConnections: 64 }
  v2: { url: http://127.0.0.1:${ports.v2}, maxConnections: 64 }
routes:
  - name: api
    primary: v1
${compare ? '    secondary: v1b\n    mirrors: [{ upstream: v2 }]\n    compare: {}\n' : '    mirrors: [{ upstream: v2 }, { upstream: v1b }]\n'}`;
}

function wrk(url, seconds) {
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99ms = p99 ? Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 }[p99[2]]) : NaN;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  return { rps, p99ms, errors: Number(errors) };
}

function get(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
}

const metric = (text, name) => Number(new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function phase(mode, ports, dir) {
  const file = path.join(dir, `${mode}.yaml`);
  fs.writeFileSync(file, configFor(mode, ports, dir));
  const tw = start(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'run', '-c', file]);
  const m = await waitFor(() => /proxy on ([\d.]+):(\d+), admin on http:\/\/[\d.]+:(\d+)/.exec(tw.output()), 15000, 'tapwire to listen');
  const [port, adminPort] = [Number(m[2]), Number(m[3])];
  const url = `http://127.0.0.1:${port}/api/items`;
  wrk(url, WARMUP);
  const r = wrk(url, DURATION);
  await new Promise((res) => setTimeout(res, 1500));
  const metrics = await get(adminPort, '/metrics');
  const verdict = mode === 'compare' ? JSON.parse(await get(adminPort, '/api/v1/verdict')) : undefined;
  tw.child.kill('SIGTERM');
  await new Promise((res) => tw.child.once('exit', res));
  return {
    mode,
    ...r,
    processed: metric(metrics, 'tapwire_compare_trials_total{result="processed"}'),
    accepted: metric(metrics, 'tapwire_compare_trials_total{result="accepted"}'),
    sampledOut: metric(metrics, 'tapwire_compare_trials_total{result="sampled_out"}'),
    dropped: metric(metrics, 'tapwire_compare_dropped_total{reason="queue_full"}'),
    verdict: verdict ? `${verdict.verdict} (${verdict.endpoints.map((e) => `${e.endpoint}: ${e.regressions.map((x) => x.field).join(',') || 'none'}`).join('; ')})` : '',
  };
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-bench-compare-'));
  const up = start(process.execPath, ['-e', upstreamCode]);
  const ports = JSON.parse((await waitFor(() => /PORTS (.*)/.exec(up.output()), 10000, 'the upstreams'))[1]);
  const rows = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const mode of rep % 2 ? ['mirror', 'compare'] : ['compare', 'mirror']) {
      const r = await phase(mode, ports, dir);
      rows.push({ rep, ...r });
      console.log(
        `rep ${rep} ${mode.padEnd(7)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99ms.toFixed(2)} ms  non-2xx ${r.errors}` +
          (mode === 'compare' ? `  compare: sampled out ${r.sampledOut}, accepted ${r.accepted}, processed ${r.processed}, dropped ${r.dropped}  verdict ${r.verdict}` : ''),
      );
    }
  }
  const ratios = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const a = rows.find((r) => r.rep === rep && r.mode === 'mirror');
    const b = rows.find((r) => r.rep === rep && r.mode === 'compare');
    ratios.push(b.rps / a.rps);
  }
  const mm = median(rows.filter((r) => r.mode === 'mirror').map((r) => r.rps));
  const mc = median(rows.filter((r) => r.mode === 'compare').map((r) => r.rps));
  console.log(`\n| phase | median req/s | median p99 ms |\n|---|---|---|`);
  for (const mode of ['mirror', 'compare']) {
    const rs = rows.filter((r) => r.mode === mode);
    console.log(`| ${mode === 'mirror' ? 'mirroring only (2 mirrors)' : 'compare on (candidate + secondary)'} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(rs.map((r) => r.p99ms)).toFixed(2)} |`);
  }
  console.log(`\ncompare on / mirroring only: median of per-repetition ratios ${median(ratios).toFixed(3)}x (medians ${(mc / mm).toFixed(3)}x; target >= 0.9x)`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
