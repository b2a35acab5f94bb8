// Benchmark driver for `npm run bench` (started by bench/run.sh; see docs/benchmark.md).
// Starts the upstreams, then for every repetition > scenario > target: a fresh proxy, a warm-up,
// one measured closed-loop wrk phase, settling, counting at the upstreams, one JSON line.
// Everything it starts runs in its own process group, listed in $RUNDIR/pgids so that
// run.sh's EXIT trap can end them even if this process dies.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const env = process.env;

// ---------------------------------------------------------------- options
const nproc = Number(execFileSync('nproc').toString().trim()) || 1;
const defaultCpu = nproc > 1 ? '1' : '0';
const num = (k, d) => (env[k] === undefined || env[k] === '' ? d : Number(env[k]));
const str = (k, d) => (env[k] === undefined || env[k] === '' ? d : env[k]);
const ALL_SCENARIOS = [
  'direct', 'direct-post16k',
  'plain', 'mirror-fast', 'mirror-slow', 'mirror-dead', 'mirror-refused',
  'post16k-plain', 'post16k-mirror-fast',
];
const opt = {
  runId: str('RUN_ID', new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '')),
  rundir: env.RUNDIR,
  out: env.OUT,
  reps: num('REPS', 3),
  duration: num('DURATION', 10),
  warmup: num('WARMUP', 5),
  settle: num('SETTLE', 3),
  connections: num('CONNECTIONS', 50),
  threads: num('THREADS', 1),
  wrkTimeout: str('WRK_TIMEOUT', '2s'),
  scenarios: str('SCENARIOS', ALL_SCENARIOS.join(' ')).split(/[\s,]+/).filter(Boolean),
  targets: str('TARGETS', 'tapwire nginx').split(/[\s,]+/).filter(Boolean),
  loadCpus: str('LOAD_CPUS', str('CPUS', defaultCpu)),
  proxyCpus: str('PROXY_CPUS', str('CPUS', defaultCpu)),
  upstreamCpus: str('UPSTREAM_CPUS', str('CPUS', defaultCpu)),
  bodyBytes: num('BODY_BYTES', 16384),
  slowMs: num('SLOW_MS', 200),
  mirrorTimeout: str('MIRROR_TIMEOUT', '1s'),
  maxInFlight: num('MAX_IN_FLIGHT', 100),
  foreignMaxPct: num('FOREIGN_MAX_PCT', 10),
  retries: num('RETRIES', 1),
  quietMaxPct: num('QUIET_MAX_PCT', 25),
  quietWait: num('QUIET_WAIT', 15),
  deadline: Date.now() + num('TIME_LIMIT', 3600) * 1000 - 20_000,
  tapwireCmd: str('TAPWIRE_CMD', `node ${path.join(ROOT, 'dist/cli/main.js')} run -c {config}`),
  nginxBin: str('NGINX', 'nginx'),
  echoModule: str('ECHO_MODULE', '/usr/lib/nginx/modules/ngx_http_echo_module.so'),
};
for (const s of opt.scenarios) {
  if (!ALL_SCENARIOS.includes(s)) die(`unknown scenario "${s}" (known: ${ALL_SCENARIOS.join(', ')})`);
}
for (const t of opt.targets) {
  if (!['tapwire', 'nginx', 'naive'].includes(t)) die(`unknown target "${t}" (known: tapwire, nginx, naive)`);
}
if (!opt.rundir || !opt.out) die('RUNDIR and OUT must be set (use bench/run.sh)');
fs.mkdirSync(opt.rundir, { recursive: true });
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const pinnedCpus = [...new Set([opt.loadCpus, opt.proxyCpus, opt.upstreamCpus].flatMap(parseCpuList))];

function die(msg) { console.error(`bench: ${msg}`); process.exit(2); }
function log(msg) { console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function parseCpuList(s) {
  const out = [];
  for (const part of String(s).split(',')) {
    const m = part.trim().match(/^(\d+)(?:-(\d+))?$/);
    if (!m) die(`bad CPU list "${s}"`);
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.push(i);
  }
  return out;
}

// ---------------------------------------------------------------- payloads
const jsonBody = (who) => {
  // ~200 bytes of JSON, like a small API answer
  const base = { service: who, status: 'ok', version: '1.4.2', region: 'local', items: [1, 2, 3, 4, 5], pad: '' };
  base.pad = 'x'.repeat(Math.max(0, 200 - JSON.stringify(base).length));
  return JSON.stringify(base);
};

// ---------------------------------------------------------------- process groups
const groups = new Map(); // pgid -> name
const pgidFile = path.join(opt.rundir, 'pgids');
function writePgids() {
  fs.writeFileSync(pgidFile, [...groups.keys()].map((p) => `${p}\n`).join(''));
}
function spawnGroup(name, cpus, cmd, args, { envExtra = {}, stdout = 'file' } = {}) {
  const logFile = path.join(opt.rundir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn('taskset', ['-c', cpus, cmd, ...args], {
    detached: true, // own process group: measured and ended as a group
    stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd],
    env: { ...env, ...envExtra },
    cwd: ROOT,
  });
  fs.closeSync(fd);
  groups.set(child.pid, name);
  writePgids();
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  child.on('error', (e) => log(`${name}: ${e.message}`));
  child.logFile = logFile;
  return child;
}
function groupAlive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}
async function stopGroup(child, graceMs = 5000) {
  const pgid = child.pid;
  if (!groups.has(pgid)) return;
  try { process.kill(-pgid, 'SIGTERM'); } catch { /* gone */ }
  const t0 = Date.now();
  while (groupAlive(pgid) && Date.now() - t0 < graceMs) await sleep(50);
  if (groupAlive(pgid)) {
    log(`${groups.get(pgid)}: still alive after ${graceMs} ms, SIGKILL`);
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
    while (groupAlive(pgid)) await sleep(20);
  }
  groups.delete(pgid);
  writePgids();
}
function killAllNow() {
  for (const pgid of groups.keys()) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
  }
  groups.clear();
  try { writePgids(); } catch { /* rundir gone */ }
}
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping, ending every process this run started`);
    killAllNow();
    process.exit(130);
  });
}
process.on('exit', killAllNow);

// ---------------------------------------------------------------- /proc
function groupPids(pgid) {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid) pids.push({ pid: Number(d), f });
  }
  return pids;
}
function groupCpuTicks(pgid) {
  // utime + stime (fields 14, 15) of every live process of the group, all threads included
  let t = 0;
  for (const { f } of groupPids(pgid)) t += Number(f[11]) + Number(f[12]);
  return t;
}
function groupMemKiB(pgid) {
  let hwm = 0, rss = 0;
  for (const { pid } of groupPids(pgid)) {
    let s;
    try { s = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { continue; }
    hwm += Number(s.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0);
    rss += Number(s.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
  }
  return { hwm, rss };
}
function cpuStat() {
  const out = {};
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = line.match(/^cpu(\d*)\s+(.*)$/);
    if (!m) continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    const idle = v[3] + (v[4] || 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (already in user)
    out[m[1] === '' ? 'all' : m[1]] = { busy: total - idle, total, steal: v[7] || 0 };
  }
  return out;
}
function busyPct(a, b, cpus) {
  let busy = 0, total = 0;
  for (const c of cpus) {
    if (!a[c] || !b[c]) continue;
    busy += b[c].busy - a[c].busy;
    total += b[c].total - a[c].total;
  }
  return total > 0 ? (100 * busy) / total : 0;
}
function timeWaitCount() {
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let s;
    try { s = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of s.split('\n').slice(1)) if (line.trim().split(/\s+/)[3] === '06') n++;
  }
  return n;
}

// ---------------------------------------------------------------- net helpers
async function pickPorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise((r, j) => { s.once('error', j); s.listen(0, '127.0.0.1', r); });
    servers.push(s);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
function httpGet(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
  });
}
async function waitReady(url, child, timeoutMs) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    if (child && !groupAlive(child.pid)) return { ok: false, why: 'process exited' };
    last = await httpGet(url, 1000);
    if (last.status === 200) return { ok: true, ms: Date.now() - t0 };
    await sleep(100);
  }
  return { ok: false, why: `no 200 from ${url} in ${timeoutMs} ms (last: ${last?.status || last?.error})` };
}
function tail(file, n = 15) {
  try { return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n'); } catch { return ''; }
}

// ---------------------------------------------------------------- nginx
function nginxConf(name, body, { echo = false } = {}) {
  const dir = path.join(opt.rundir, name);
  fs.mkdirSync(dir, { recursive: true });
  return `${echo ? `load_module ${opt.echoModule};\n` : ''}worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 16384; }
http {
  access_log off;
  log_format bench '$status $request_method $request_length $http_content_length $http_x_tapwire_mirror';
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_buffer_size 64k;
  client_max_body_size 16m;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server_tokens off;
${body}
}
`;
}
async function startNginx(name, cpus, conf, readyUrl) {
  const dir = path.join(opt.rundir, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  const child = spawnGroup(name, cpus, opt.nginxBin, ['-p', dir, '-e', path.join(dir, 'startup.log'), '-c', file]);
  const r = await waitReady(readyUrl, child, 10_000);
  if (!r.ok) {
    const why = `${r.why}\n${tail(path.join(dir, 'startup.log'))}\n${tail(path.join(dir, 'error.log'))}\n${tail(child.logFile)}`;
    await stopGroup(child);
    throw new Error(`${name} did not start: ${why}`);
  }
  return child;
}

// ---------------------------------------------------------------- upstreams
const up = {};
async function startUpstreams() {
  // nginx upstreams (cheap, so the proxy dominates the shared CPU); each counts requests via stub_status
  const specs = [
    { name: 'up-primary', location: `default_type application/json; return 200 '${jsonBody('primary')}';`, logged: false },
    // the fast mirror reads the whole body (echo_read_request_body, so $request_length counts it),
    // answers 200 + ~200 B JSON (chunked) with keep-alive, and logs request sizes
    { name: 'up-fast', location: `default_type application/json; echo_read_request_body; echo '${jsonBody('mirror-fast')}';`, logged: true, echo: true },
    { name: 'up-slow', location: `default_type application/json; echo_read_request_body; echo_sleep ${opt.slowMs / 1000}; echo '${jsonBody('mirror-slow')}';`, logged: true, echo: true },
  ];
  for (let attempt = 0; ; attempt++) {
    try {
      for (const s of specs) {
        if (up[s.name]) continue;
        const [port] = await pickPorts(1);
        const logLine = s.logged ? `access_log ${path.join(opt.rundir, s.name, 'access.log')} bench buffer=64k flush=1s;` : 'access_log off;';
        const conf = nginxConf(s.name, `  server {
    listen 127.0.0.1:${port} backlog=4096;
    ${logLine}
    location = /__count { access_log off; stub_status; }
    location / { ${s.location} }
  }`, { echo: s.echo });
        const child = await startNginx(s.name, opt.upstreamCpus, conf, `http://127.0.0.1:${port}/__count`);
        up[s.name] = { child, port, url: `http://127.0.0.1:${port}`, accessLog: s.logged ? path.join(opt.rundir, s.name, 'access.log') : null };
      }
      break;
    } catch (e) {
      if (attempt >= 2) throw e;
      log(`${e.message.split('\n')[0]}; retrying with other ports`);
    }
  }
  // dead mirror: a Node server that reads requests and never answers
  const dead = spawnGroup('up-dead', opt.upstreamCpus, process.execPath, [path.join(BENCH, 'dead-upstream.mjs')], { stdout: 'pipe' });
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('up-dead did not report its ports')), 10_000);
    dead.stdout.on('data', (c) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) { clearTimeout(t); resolve(JSON.parse(buf.slice(0, nl))); }
    });
  });
  dead.stdout.resume();
  up['up-dead'] = { child: dead, port: info.port, control: info.control, url: `http://127.0.0.1:${info.port}` };
  // refused: a port nothing listens on (picked free, then left closed)
  const [refused] = await pickPorts(1);
  up['up-refused'] = { port: refused, url: `http://127.0.0.1:${refused}` };
  log(`upstreams: primary :${up['up-primary'].port}, fast :${up['up-fast'].port}, slow :${up['up-slow'].port}, dead :${up['up-dead'].port}, refused :${refused}`);
}
async function upstreamCount(name) {
  // requests received so far; our own stub_status GET counts too, so subtract it
  if (name === 'up-dead') {
    const r = await httpGet(`http://127.0.0.1:${up['up-dead'].control}/count`);
    return r.status === 200 ? JSON.parse(r.body).received : null;
  }
  if (!up[name]?.child) return null;
  const r = await httpGet(`${up[name].url}/__count`);
  const m = r.body.match(/\n\s*(\d+)\s+(\d+)\s+(\d+)\s*\n/);
  return m ? Number(m[3]) - 1 : null;
}
const countDelta = (a, b) => (a == null || b == null ? null : b - a - 1); // the "after" query itself
function accessLogSize(name) {
  const f = up[name]?.accessLog;
  try { return f ? fs.statSync(f).size : 0; } catch { return 0; }
}
function accessLogLines(name, from) {
  const f = up[name]?.accessLog;
  if (!f) return [];
  let buf;
  try {
    const fd = fs.openSync(f, 'r');
    const size = fs.fstatSync(fd).size;
    buf = Buffer.alloc(Math.max(0, size - from));
    fs.readSync(fd, buf, 0, buf.length, from);
    fs.closeSync(fd);
  } catch { return []; }
  return buf.toString().split('\n').filter(Boolean).map((l) => {
    const [status, method, reqLen, contentLen, marker] = l.split(' ');
    return { status: Number(status), method, reqLen: Number(reqLen), contentLen: contentLen === '-' ? null : Number(contentLen), marker };
  });
}

// ---------------------------------------------------------------- targets
const SCEN = {
  direct: { direct: true, body: 0 },
  'direct-post16k': { direct: true, body: 1 },
  plain: { mirror: null, body: 0 },
  'mirror-fast': { mirror: 'up-fast', body: 0 },
  'mirror-slow': { mirror: 'up-slow', body: 0 },
  'mirror-dead': { mirror: 'up-dead', body: 0 },
  'mirror-refused': { mirror: 'up-refused', body: 0 },
  'post16k-plain': { mirror: null, body: 1 },
  'post16k-mirror-fast': { mirror: 'up-fast', body: 1 },
};

async function startTarget(target, scen, phaseDir) {
  const mirrorUrl = scen.mirror ? up[scen.mirror].url : null;
  const primaryUrl = up['up-primary'].url;
  for (let attempt = 0; ; attempt++) {
    const [listen, admin] = await pickPorts(2);
    try {
      if (target === 'nginx') {
        const conf = nginxConf(`proxy-nginx`, `  upstream primary { server 127.0.0.1:${up['up-primary'].port}; keepalive 128; }
${mirrorUrl ? `  upstream mirror { server 127.0.0.1:${up[scen.mirror].port}; keepalive 128; }` : ''}
  server {
    listen 127.0.0.1:${listen} backlog=4096;
    location / {
${mirrorUrl ? `      mirror /__tapwire_bench_mirror;\n      mirror_request_body on;` : ''}
      proxy_pass http://primary;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
${mirrorUrl ? `    location = /__tapwire_bench_mirror {
      internal;
      proxy_pass http://mirror$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header x-tapwire-mirror 1;
      proxy_connect_timeout ${opt.mirrorTimeout};
      proxy_send_timeout ${opt.mirrorTimeout};
      proxy_read_timeout ${opt.mirrorTimeout};
    }` : ''}
  }`);
        const child = await startNginx('proxy-nginx', opt.proxyCpus, conf, `http://127.0.0.1:${listen}/`);
        return { child, url: `http://127.0.0.1:${listen}/` };
      }
      if (target === 'tapwire') {
        const cfgFile = path.join(phaseDir, 'tapwire.yaml');
        fs.writeFileSync(cfgFile, `listen: 127.0.0.1:${listen}
admin: { listen: 127.0.0.1:${admin} }
log: { level: warn }
upstreams:
  primary: { url: ${primaryUrl} }
${mirrorUrl ? `  mirror: { url: ${mirrorUrl}, sandboxed: true, timeout: ${opt.mirrorTimeout} }\n` : ''}routes:
  - name: all
    match: { path: { prefix: / } }
    primary: primary
${mirrorUrl ? `    mirrors:\n      - { upstream: mirror, methods: [GET, POST], maxInFlight: ${opt.maxInFlight} }\n` : ''}`);
        const words = opt.tapwireCmd.replace('{config}', cfgFile).split(/\s+/).filter(Boolean);
        const child = spawnGroup('proxy-tapwire', opt.proxyCpus, words[0], words.slice(1));
        const r = await waitReady(`http://127.0.0.1:${admin}/readyz`, child, 20_000);
        if (!r.ok) {
          await stopGroup(child);
          throw new Error(`tapwire did not become ready: ${r.why}\n--- ${child.logFile} (tail)\n${tail(child.logFile, 25)}`);
        }
        return { child, url: `http://127.0.0.1:${listen}/`, admin: `http://127.0.0.1:${admin}` };
      }
      if (target === 'naive') {
        const child = spawnGroup('proxy-naive', opt.proxyCpus, process.execPath, [path.join(BENCH, 'naive-proxy-devonly.mjs')], {
          envExtra: { LISTEN_PORT: String(listen), PRIMARY_URL: primaryUrl, MIRROR_URL: mirrorUrl || '' },
        });
        const r = await waitReady(`http://127.0.0.1:${listen}/`, child, 10_000);
        if (!r.ok) { await stopGroup(child); throw new Error(`naive proxy did not start: ${r.why}\n${tail(child.logFile)}`); }
        return { child, url: `http://127.0.0.1:${listen}/` };
      }
    } catch (e) {
      if (attempt >= 1 || target === 'tapwire') throw e;
      log(`${e.message.split('\n')[0]}; retrying once with other ports`);
    }
  }
}

async function tapwireMetrics(admin) {
  const r = await httpGet(`${admin}/metrics`);
  if (r.status !== 200) return null;
  const outcomes = {};
  for (const line of r.body.split('\n')) {
    const m = line.match(/^tapwire_mirror_requests_total\{([^}]*)\}\s+([0-9.eE+-]+)/);
    if (!m) continue;
    const outcome = m[1].match(/outcome="([^"]*)"/)?.[1] ?? '?';
    outcomes[outcome] = (outcomes[outcome] || 0) + Number(m[2]);
  }
  return outcomes;
}

// ---------------------------------------------------------------- wrk
function runWrk(url, body, seconds, rawFile) {
  const args = ['-t', String(opt.threads), '-c', String(opt.connections), '-d', `${seconds}s`,
    '--timeout', opt.wrkTimeout, '--latency', '-s', path.join(BENCH, 'wrk.lua'), url];
  // sh waits for wrk, then prints its own /proc stat: cutime/cstime = wrk's CPU time
  const child = spawn('taskset', ['-c', opt.loadCpus, 'sh', '-c',
    'wrk "$@"; rc=$?; echo "CHILDSTAT $(cat /proc/$$/stat)"; exit $rc', 'sh', ...args], {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, BODY_BYTES: String(body ? opt.bodyBytes : 0) },
  });
  groups.set(child.pid, 'wrk'); writePgids();
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  return new Promise((resolve) => {
    const killer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, (seconds + 30) * 1000);
    child.on('close', (code) => {
      clearTimeout(killer);
      groups.delete(child.pid); writePgids();
      if (rawFile) fs.writeFileSync(rawFile, out);
      const j = out.match(/^WRKJSON (.*)$/m);
      const cs = out.match(/^CHILDSTAT (.*)$/m);
      let wrkTicks = null;
      if (cs) {
        const f = cs[1].slice(cs[1].lastIndexOf(')') + 2).split(' ');
        wrkTicks = Number(f[13]) + Number(f[14]);
      }
      resolve({ code, res: j ? JSON.parse(j[1]) : null, wrkTicks, out });
    });
  });
}

// Logs can grow large (nginx logs one error line per refused mirror connect; the fast mirror logs
// every request): after each phase keep a sample in the phase directory, count lines, truncate.
function trimLogs(target, scen, phaseDir, rec) {
  const files = [];
  if (target === 'nginx') files.push(['proxy-nginx/error.log', 'proxy_error_log_lines']);
  if (scen.mirror && up[scen.mirror]?.accessLog) files.push([`${scen.mirror}/access.log`, null]);
  for (const [rel, key] of files) {
    const f = path.join(opt.rundir, rel);
    try {
      const size = fs.statSync(f).size;
      if (size === 0) continue;
      if (key) {
        let lines = 0;
        const fd = fs.openSync(f, 'r');
        const buf = Buffer.alloc(1 << 20);
        for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) for (let i = 0; i < n; i++) if (buf[i] === 10) lines++;
        fs.closeSync(fd);
        rec[key] = lines;
      }
      const head = Buffer.alloc(Math.min(size, 4096));
      const fd = fs.openSync(f, 'r'); fs.readSync(fd, head, 0, head.length, 0); fs.closeSync(fd);
      fs.writeFileSync(path.join(phaseDir, rel.replace('/', '-') + '.head'), head);
      fs.truncateSync(f, 0); // nginx appends (O_APPEND), so truncating under it is safe
    } catch { /* no log */ }
  }
}

// ---------------------------------------------------------------- one phase
function procTicks() {
  const m = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      m.set(d, { t: Number(f[11]) + Number(f[12]), comm: st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')) });
    } catch { /* gone */ }
  }
  return m;
}
async function quietWait() {
  // wait until the pinned CPUs are quiet (other work on the shared machine), bounded
  const t0 = Date.now();
  let pct;
  let lastLog = 0;
  for (;;) {
    const p0 = procTicks();
    const a = cpuStat(); await sleep(1000); const b = cpuStat();
    pct = busyPct(a, b, pinnedCpus);
    if (pct <= opt.quietMaxPct || Date.now() - t0 > opt.quietWait * 1000) break;
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      const top = [...procTicks()].map(([pid, v]) => [pid, v.comm, v.t - (p0.get(pid)?.t ?? v.t)])
        .filter((x) => x[2] > 0).sort((x, y) => y[2] - x[2]).slice(0, 3)
        .map(([pid, c, t]) => `${c}[${pid}] ${Math.round((100 * t) / CLK_TCK)}%`).join(', ');
      log(`pinned CPU(s) ${pinnedCpus.join(',')} busy ${pct.toFixed(0)} % before the phase (top: ${top}); waiting up to ${opt.quietWait} s for quiet`);
    }
  }
  return { busy_pct: Math.round(pct * 10) / 10, waited_s: Math.round((Date.now() - t0) / 100) / 10 };
}

async function runPhase(rep, scenario, target, attempt) {
  const scen = SCEN[scenario];
  const phaseName = `r${rep}-${scenario}-${target}${attempt ? `-a${attempt}` : ''}`;
  const phaseDir = path.join(opt.rundir, 'phases', phaseName);
  fs.mkdirSync(phaseDir, { recursive: true });
  const rec = {
    run_id: opt.runId, rep, scenario, target, attempt, mode: 'closed', started_at: new Date().toISOString(),
    connections: opt.connections, threads: opt.threads, duration_s: opt.duration, warmup_s: opt.warmup,
    body_bytes: scen.body ? opt.bodyBytes : 0, mirror: scen.mirror ? scen.mirror.replace('up-', '') : null,
    pin: { load: opt.loadCpus, proxy: opt.proxyCpus, upstream: opt.upstreamCpus },
    rev: env.BENCH_REV, src_mtime: env.BENCH_SRC_MTIME,
  };
  let proxy = null;
  try {
    let url;
    if (scen.direct) url = `${up['up-primary'].url}/`;
    else {
      const t0 = Date.now();
      proxy = await startTarget(target, scen, phaseDir);
      rec.proxy_start_ms = Date.now() - t0;
      url = proxy.url;
    }
    rec.quiet = await quietWait();
    if (opt.warmup > 0) {
      const w = await runWrk(url, scen.body, opt.warmup, path.join(phaseDir, 'warmup.txt'));
      rec.warmup_req_per_s = w.res ? Math.round(w.res.requests / (w.res.duration_us / 1e6)) : null;
    }
    // snapshot before the measured window
    const upNames = ['up-primary', 'up-fast', 'up-slow', 'up-dead'];
    const cnt0 = {};
    for (const n of upNames) cnt0[n] = await upstreamCount(n);
    const log0 = scen.mirror ? accessLogSize(scen.mirror) : 0;
    rec.timewait_before = timeWaitCount();
    const tw0 = await (proxy?.admin ? tapwireMetrics(proxy.admin) : null);
    const upTicks0 = upNames.reduce((a, n) => a + (up[n]?.child ? groupCpuTicks(up[n].child.pid) : 0), 0);
    const px0 = proxy ? groupCpuTicks(proxy.child.pid) : 0;
    const st0 = cpuStat();
    const tm0 = process.hrtime.bigint();
    // RSS samples during the window (growth shows an unbounded backlog)
    const rssSeries = [];
    const sampler = proxy ? setInterval(() => rssSeries.push(Math.round(groupMemKiB(proxy.child.pid).rss / 1024)), 1000) : null;
    const w = await runWrk(url, scen.body, opt.duration, path.join(phaseDir, 'wrk.txt'));
    if (sampler) clearInterval(sampler);
    const windowS = Number(process.hrtime.bigint() - tm0) / 1e9;
    const st1 = cpuStat();
    const px1 = proxy ? groupCpuTicks(proxy.child.pid) : 0;
    const upTicks1 = upNames.reduce((a, n) => a + (up[n]?.child ? groupCpuTicks(up[n].child.pid) : 0), 0);
    if (!w.res) throw new Error(`wrk gave no result (exit ${w.code}): ${w.out.slice(-500)}`);
    const r = w.res;
    const secs = r.duration_us / 1e6;
    Object.assign(rec, {
      requests: r.requests,
      req_per_s: Math.round((r.requests / secs) * 10) / 10,
      p50_ms: r.p50_us / 1000, p90_ms: r.p90_us / 1000, p99_ms: r.p99_us / 1000, p999_ms: r.p999_us / 1000,
      max_ms: r.lat_max_us / 1000, mean_ms: Math.round(r.lat_mean_us) / 1000,
      errors: { connect: r.err_connect, read: r.err_read, write: r.err_write, status: r.err_status, timeout: r.err_timeout },
      errors_total: r.err_connect + r.err_read + r.err_write + r.err_status + r.err_timeout,
    });
    // settle, then count what the upstreams received during window + settle
    await sleep((scen.direct ? 0.5 : opt.settle + (scen.mirror === 'up-fast' || scen.mirror === 'up-slow' ? 1 : 0)) * 1000);
    const cnt1 = {};
    for (const n of upNames) cnt1[n] = await upstreamCount(n);
    rec.primary_received = countDelta(cnt0['up-primary'], cnt1['up-primary']);
    rec.primary_ratio = rec.primary_received != null && r.requests ? Math.round((rec.primary_received / r.requests) * 1000) / 1000 : null;
    if (scen.mirror && scen.mirror !== 'up-refused') {
      const n = scen.mirror;
      rec.mirror_received = n === 'up-dead' ? cnt1[n] - cnt0[n] : countDelta(cnt0[n], cnt1[n]);
      rec.mirror_ratio = r.requests ? Math.round((rec.mirror_received / r.requests) * 1000) / 1000 : null;
      if (up[n].accessLog) {
        const lines = accessLogLines(n, log0);
        const marked = lines.filter((l) => l.marker === '1').length;
        rec.mirror_logged = lines.length;
        rec.mirror_marker_pct = lines.length ? Math.round((1000 * marked) / lines.length) / 10 : null;
        rec.mirror_status = {};
        for (const l of lines) rec.mirror_status[l.status] = (rec.mirror_status[l.status] || 0) + 1;
        if (scen.body) {
          const posts = lines.filter((l) => l.method === 'POST');
          const whole = posts.filter((l) => l.contentLen === opt.bodyBytes && l.reqLen > opt.bodyBytes && l.status === 200).length;
          rec.mirror_bodies_whole_pct = posts.length ? Math.round((1000 * whole) / posts.length) / 10 : null;
        }
      }
    }
    if (proxy) {
      const ticks = px1 - px0;
      rec.proxy_cpu_us_per_req = r.requests ? Math.round(((ticks / CLK_TCK) * 1e6 / r.requests) * 10) / 10 : null;
      rec.proxy_cpu_pct = Math.round((ticks / CLK_TCK / windowS) * 1000) / 10;
      const mem = groupMemKiB(proxy.child.pid);
      rec.proxy_peak_rss_mib = Math.round((mem.hwm / 1024) * 10) / 10;
      rec.proxy_rss_end_mib = Math.round((mem.rss / 1024) * 10) / 10;
      rec.proxy_rss_series_mib = rssSeries;
      rec.proxy_processes = groupPids(proxy.child.pid).length;
      if (proxy.admin) {
        const tw1 = await tapwireMetrics(proxy.admin);
        if (tw0 && tw1) {
          rec.tapwire_outcomes = {};
          for (const k of Object.keys(tw1)) rec.tapwire_outcomes[k] = tw1[k] - (tw0[k] || 0);
        }
        const stats = await httpGet(`${proxy.admin}/api/v1/stats`);
        if (stats.status === 200) {
          fs.writeFileSync(path.join(phaseDir, 'tapwire-stats.json'), stats.body);
          try {
            // client requests tapwire rejected itself, since its start (warm-up included)
            const rej = JSON.parse(stats.body).rejected;
            if (Array.isArray(rej) && rej.length) rec.tapwire_rejected = Object.fromEntries(rej.map((x) => [x.code, x.count]));
          } catch { /* format changed: the raw file is kept */ }
        }
      }
    }
    // foreign CPU: busy time on the pinned CPUs not used by anything this run started
    const ours = (px1 - px0) + (upTicks1 - upTicks0) + (w.wrkTicks ?? 0);
    const pinnedBusyPct = busyPct(st0, st1, pinnedCpus);
    const pinnedBusyTicks = (pinnedBusyPct / 100) * windowS * CLK_TCK * pinnedCpus.length;
    rec.pinned_busy_pct = Math.round(pinnedBusyPct * 10) / 10;
    rec.foreign_cpu_pct = Math.max(0, Math.round(((pinnedBusyTicks - ours) / (windowS * CLK_TCK)) * 1000) / 10);
    rec.machine_busy_pct = Math.round(busyPct(st0, st1, ['all']) * 10) / 10;
    rec.steal_pct = Math.round(((st1.all.steal - st0.all.steal) / Math.max(1, st1.all.total - st0.all.total)) * 1000) / 10;
    rec.wrk_cpu_us_per_req = w.wrkTicks != null && r.requests ? Math.round(((w.wrkTicks / CLK_TCK) * 1e6 / r.requests) * 10) / 10 : null;
    rec.upstream_cpu_us_per_req = r.requests ? Math.round((((upTicks1 - upTicks0) / CLK_TCK) * 1e6 / r.requests) * 10) / 10 : null;
    rec.timewait_after = timeWaitCount();
  } catch (e) {
    rec.error = e.message;
    log(`${phaseName}: ${e.message}`);
  } finally {
    if (proxy) await stopGroup(proxy.child);
    trimLogs(target, scen, phaseDir, rec);
  }
  return rec;
}

// ---------------------------------------------------------------- main
function phasePlan() {
  const plan = [];
  for (let rep = 1; rep <= opt.reps; rep++) {
    for (const s of opt.scenarios) {
      if (SCEN[s].direct) plan.push({ rep, scenario: s, target: 'direct' });
      else for (const t of opt.targets) plan.push({ rep, scenario: s, target: t });
    }
  }
  return plan;
}
const phaseEstimateS = (p) => (p.target === 'direct' ? 2 : 2 + opt.settle + 1) + opt.warmup + opt.duration + 1;

async function main() {
  const plan = phasePlan();
  const est = plan.reduce((a, p) => a + phaseEstimateS(p), 0);
  log(`${plan.length} phases (REPS=${opt.reps}; targets: ${opt.targets.join(' ')}; scenarios: ${opt.scenarios.join(' ')}), about ${Math.ceil(est / 60)} min; pinned: load ${opt.loadCpus}, proxy ${opt.proxyCpus}, upstreams ${opt.upstreamCpus}`);
  fs.writeFileSync(path.join(opt.rundir, 'options.json'), JSON.stringify(opt, null, 2));
  await startUpstreams();
  let skipped = 0;
  let failedTapwire = 0;
  for (const p of plan) {
    if (Date.now() + phaseEstimateS(p) * 1000 > opt.deadline) { skipped++; continue; }
    if (p.target === 'tapwire' && failedTapwire >= 2) { skipped++; continue; }
    let rec;
    for (let attempt = 0; attempt <= opt.retries; attempt++) {
      rec = await runPhase(p.rep, p.scenario, p.target, attempt);
      // other processes matter only when they took CPU we needed (pinned CPUs saturated)
      const noisy = rec.foreign_cpu_pct > opt.foreignMaxPct && rec.pinned_busy_pct >= 90;
      if (!noisy || rec.error) break;
      if (attempt < opt.retries && Date.now() + phaseEstimateS(p) * 1000 < opt.deadline) {
        log(`${p.scenario}/${p.target}: foreign CPU ${rec.foreign_cpu_pct} % > ${opt.foreignMaxPct} %, measuring again`);
        fs.appendFileSync(path.join(opt.rundir, 'discarded.jsonl'), JSON.stringify(rec) + '\n');
      } else break;
    }
    if (rec.error && p.target === 'tapwire') failedTapwire++;
    fs.appendFileSync(opt.out, JSON.stringify(rec) + '\n');
    const e = rec.error ? `ERROR ${rec.error.split('\n')[0]}` :
      `${rec.req_per_s} req/s p50 ${rec.p50_ms} p99 ${rec.p99_ms} ms err ${rec.errors_total}` +
      (rec.mirror_ratio != null ? ` mirror ${rec.mirror_ratio}` : '') +
      (rec.proxy_cpu_us_per_req != null ? ` cpu ${rec.proxy_cpu_us_per_req} µs/req rss ${rec.proxy_peak_rss_mib} MiB` : '') +
      ` foreign ${rec.foreign_cpu_pct} %`;
    log(`rep ${p.rep} ${p.scenario.padEnd(20)} ${p.target.padEnd(8)} ${e}`);
  }
  if (skipped) log(`${skipped} phase(s) skipped (TIME_LIMIT reached or tapwire not starting)`);
  for (const n of Object.keys(up)) if (up[n].child) await stopGroup(up[n].child, 3000);
}

main().then(() => process.exit(0), (e) => { log(`fatal: ${e.stack || e.message}`); killAllNow(); process.exit(1); });
