// Soak (reliability-anchors §5, L7 and N1): a `tapwire run` subprocess under steady keep-alive load while its mirror
// cycles through faults (healthy → slow → never → blackholed → refused → reset → endless → garbage → healthy…).
// Every few seconds it samples tapwire's RSS and open fds (/proc), event-loop delay (admin /metrics), copies in
// flight and the accounting invariant (admin /api/v1/stats); at the end it prints least-squares slopes after the
// warm-up and exits 1 when a bar fails. Usage: npm run soak -- --minutes 3 (or --seconds 90); --help for options.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const MODES = ['healthy', 'slow', 'never', 'blackholed', 'refused', 'reset', 'endless', 'garbage'] as const;
type Mode = (typeof MODES)[number];

const HELP = `npm run soak -- [--minutes N | --seconds N] [options]

  --minutes N         run time in minutes (default 10)
  --seconds N         run time in seconds (overrides --minutes)
  --rate R            client requests per second over all connections (default 200)
  --connections C     keep-alive client connections (default 8)
  --cycle K           seconds per mirror mode (default 10)
  --modes a,b,…       mirror modes to cycle (default ${MODES.join(',')})
  --sample S          seconds between samples (default 5)
  --warmup W          seconds left out of the slopes (default: two mode cycles, at least 60, at most a third of the run)
  --rss-slope-max M   bar: slope of the RSS floor (lowest RSS of each full mode cycle after warm-up), MiB/min (default 2)
  --fd-slope-max F    bar: open-fd slope after warm-up, fds/min (default 30)

Bars (exit 1 when one fails): client errors = 0, reconcile difference = 0, tapwire exits 0 on SIGTERM,
RSS floor slope ≤ --rss-slope-max (the raw slope of all samples when fewer than 3 full mode cycles follow the
warm-up), fd slope ≤ --fd-slope-max. The RSS bar needs about 10 minutes: in shorter runs the one-time climb of
tapwire's RSS to its high-water mark during the first heavy endless-body phases (+25–35 MiB while V8's used heap
stays at its floor) is indistinguishable from a leak.`;

interface Options {
  readonly seconds: number;
  readonly rate: number;
  readonly connections: number;
  readonly cycle: number;
  readonly modes: readonly Mode[];
  readonly sample: number;
  readonly warmup: number;
  readonly rssSlopeMax: number;
  readonly fdSlopeMax: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      seconds: { type: 'string' },
      rate: { type: 'string' },
      connections: { type: 'string' },
      cycle: { type: 'string' },
      modes: { type: 'string' },
      sample: { type: 'string' },
      warmup: { type: 'string' },
      'rss-slope-max': { type: 'string' },
      'fd-slope-max': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const num = (v: string | undefined, def: number, name: string): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) usage(`--${name} must be a positive number`);
    return n;
  };
  const seconds = values.seconds !== undefined ? num(values.seconds, 0, 'seconds') : num(values.minutes, 10, 'minutes') * 60;
  const modes = (values.modes?.split(',') ?? [...MODES]).map((m) => m.trim());
  for (const m of modes) if (!(MODES as readonly string[]).includes(m)) usage(`unknown mode "${m}"; modes: ${MODES.join(', ')}`);
  const cycle = num(values.cycle, 10, 'cycle');
  return {
    seconds,
    rate: num(values.rate, 200, 'rate'),
    connections: Math.round(num(values.connections, 8, 'connections')),
    cycle,
    modes: modes as Mode[],
    sample: num(values.sample, 5, 'sample'),
    warmup: values.warmup !== undefined ? num(values.warmup, 0, 'warmup') : Math.min(Math.max(60, 2 * cycle * modes.length), seconds / 3),
    rssSlopeMax: num(values['rss-slope-max'], 2, 'rss-slope-max'),
    fdSlopeMax: num(values['fd-slope-max'], 30, 'fd-slope-max'),
  };
}

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\n\n${HELP}\n`);
  process.exit(2);
}

const listen = (server: net.Server, port = 0): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

/** The primary: 200 with a body that names the request, after reading it. */
async function startPrimary(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const body = `primary ${req.method} ${req.url} ${bytes}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const port = await listen(server);
  return {
    port,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const ZEROS = Buffer.alloc(16 * 1024);

/**
 * One mirror whose fault can be switched at run time on a fixed port. A raw TCP front (paused on connect) holds
 * connections in `blackholed` mode and hands them to an HTTP server otherwise; `refused` stops listening.
 * Entering `blackholed` or `refused` drops every open connection, as a mirror that went away would.
 */
class SwitchableMirror {
  mode: Mode = 'healthy';
  port = 0;
  /** requests whose body was whole, and answers fully written, since start */
  received = 0;
  answered = 0;
  readonly #tcp = net.createServer({ pauseOnConnect: true }, (s) => this.#accept(s));
  readonly #http = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => this.#handle(req, res));
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  async start(): Promise<void> {
    this.port = await listen(this.#tcp);
  }

  async switchTo(mode: Mode): Promise<void> {
    const was = this.mode;
    this.mode = mode;
    if (mode === 'blackholed' || mode === 'refused') for (const s of this.#sockets) s.destroy();
    if (mode === 'refused' && this.#tcp.listening) await new Promise<void>((r) => this.#tcp.close(() => r()));
    if (was === 'refused' && mode !== 'refused') {
      // Same port again; SO_REUSEADDR (node's default) makes this work even with connections in TIME_WAIT.
      for (let attempt = 0; ; attempt++) {
        try {
          await listen(this.#tcp, this.port);
          break;
        } catch (err) {
          if (attempt >= 50) throw err;
          await sleep(100);
        }
      }
    }
  }

  #accept(s: Socket): void {
    this.#sockets.add(s);
    s.on('close', () => this.#sockets.delete(s));
    s.on('error', () => undefined);
    if (this.mode === 'blackholed') return; // accepted by the kernel, never read, never answered
    this.#http.emit('connection', s);
    s.resume();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    res.on('finish', () => this.answered++);
    req.resume();
    req.on('end', () => {
      this.received++;
      const mode = this.mode;
      switch (mode) {
        case 'healthy':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
          res.end('ok');
          return;
        case 'slow': {
          const t = setTimeout(() => {
            this.#timers.delete(t);
            if (!res.destroyed) res.writeHead(200, { 'content-length': 4 }).end('slow');
          }, 500);
          this.#timers.add(t);
          res.on('close', () => clearTimeout(t));
          return;
        }
        case 'never':
        case 'blackholed':
        case 'refused':
          return; // a request on a connection accepted before the switch: never answered
        case 'reset':
          res.writeHead(200, { 'content-length': ZEROS.length * 2 });
          res.write(ZEROS, () => res.socket?.resetAndDestroy());
          return;
        case 'endless': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const pump = (): void => {
            while (!res.destroyed && res.write(ZEROS));
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
          return;
        }
        case 'garbage':
          req.socket.end('HTTP/1.1 2OO NOT-A-STATUS\r\n\x00\x01 garbage \r\n\r\n');
          return;
      }
    });
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    for (const s of this.#sockets) s.destroy();
    if (this.#tcp.listening) await new Promise<void>((r) => this.#tcp.close(() => r()));
  }
}

interface Tapwire {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly adminPort: number;
  stderr(): string;
  readonly exited: Promise<number | string>;
}

const REPO = new URL('../', import.meta.url).pathname;

async function startTapwire(file: string): Promise<Tapwire> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '-c', file, '--no-watch'], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const started = /tapwire: proxy on [^\s,]+:(\d+), admin on http:\/\/[^\s:]+:(\d+)/;
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    const m = started.exec(err);
    if (m) return { child, pid: child.pid!, port: Number(m[1]), adminPort: Number(m[2]), stderr: () => err, exited };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`tapwire did not start:\n${err}`);
}

/** One GET on the admin API. */
function adminGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${path}: ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
  });
}

interface MirrorStatsJson {
  readonly mirror: string;
  readonly matched: number;
  readonly inFlight: number;
  readonly violations: number;
  readonly outcomes: Record<string, number>;
}
interface StatsJson {
  readonly routes: readonly { route: string; requests: number; matched: number; inFlight: number; mirrors: readonly MirrorStatsJson[] }[];
}

/** |matched − Σ outcomes − in flight| + violations, over every mirror: 0 when the books balance. */
function invariantGap(stats: StatsJson): number {
  let gap = 0;
  for (const r of stats.routes) {
    for (const m of r.mirrors) {
      const sum = Object.values(m.outcomes).reduce((a, b) => a + b, 0);
      gap += Math.abs(m.matched - sum - m.inFlight) + m.violations + (m.inFlight < 0 ? -m.inFlight : 0);
    }
  }
  return gap;
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** RSS, open fds and CPU seconds used so far (utime + stime, /proc/PID/stat fields 14 and 15). */
function procSample(pid: number): { rssMiB: number; fds: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
  // The command name (field 2) may contain spaces: count fields from after its closing parenthesis.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length, cpuSeconds: ticks / CLOCK_TICKS };
}

/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS = 100;

/**
 * The lowest RSS of each full mode cycle after the warm-up, as [minutes at the cycle's middle, MiB]: what survives
 * garbage collection. A leak raises it cycle after cycle; the heap's sawtooth does not.
 */
function cycleFloors(samples: readonly Sample[], warmup: number, cycleSeconds: number): [number, number][] {
  const out: [number, number][] = [];
  const last = samples.at(-1)?.t ?? 0;
  for (let start = Math.ceil(warmup / cycleSeconds) * cycleSeconds; start + cycleSeconds <= last + 1e-6; start += cycleSeconds) {
    const inside = samples.filter((s) => s.t > start && s.t <= start + cycleSeconds);
    if (inside.length) out.push([(start + cycleSeconds / 2) / 60, Math.min(...inside.map((s) => s.rssMiB))]);
  }
  return out;
}

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

/** Steady keep-alive load: each connection sends at its share of the rate; GET and POST alternate. */
class Load {
  sent = 0;
  ok = 0;
  errors = 0;
  readonly errorSamples: string[] = [];
  /** latencies (ms) since the last take() */
  #window: number[] = [];
  #running = true;
  readonly #done: Promise<void>[] = [];

  constructor(port: number, connections: number, rate: number) {
    const interval = (1000 * connections) / rate;
    for (let c = 0; c < connections; c++) this.#done.push(this.#run(port, c, interval));
  }

  #fail(why: string): void {
    this.errors++;
    if (this.errorSamples.length < 10) this.errorSamples.push(why);
  }

  async #run(port: number, conn: number, interval: number): Promise<void> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let socket: Socket | undefined;
    let next = performance.now() + (interval * conn) / 8;
    for (let i = 0; this.#running; i++) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      next += interval;
      const post = i % 2 === 1;
      const path = `/c${conn}/${i}?x=${i}`;
      const body = post ? `soak body ${conn} ${i} ${'b'.repeat(512)}` : '';
      const started = performance.now();
      this.sent++;
      try {
        const r = await send(port, agent, post ? 'POST' : 'GET', path, body);
        this.#window.push(performance.now() - started);
        const expected = `primary ${post ? 'POST' : 'GET'} ${path} ${Buffer.byteLength(body)}`;
        if (r.status !== 200) this.#fail(`${path}: status ${r.status}`);
        else if (r.body !== expected) this.#fail(`${path}: body "${r.body.slice(0, 60)}"`);
        else if (r.connectionClose) this.#fail(`${path}: Connection: close`);
        else if (socket !== undefined && r.socket !== socket) this.#fail(`${path}: a new socket (keep-alive broken)`);
        else this.ok++;
        socket = r.socket;
      } catch (err) {
        this.#fail(`${path}: ${(err as Error).message}`);
        socket = undefined;
      }
    }
    agent.destroy();
  }

  take(): number[] {
    const w = this.#window;
    this.#window = [];
    return w.sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#done);
  }
}

function send(port: number, agent: http.Agent, method: string, path: string, body: string): Promise<{ status: number; body: string; socket: Socket; connectionClose: boolean }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body ? { 'content-length': String(Buffer.byteLength(body)) } : {};
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers, timeout: 10_000 });
    let socket: Socket | undefined;
    req.on('socket', (s: Socket) => (socket = s));
    req.on('timeout', () => req.destroy(new Error('client timeout (10 s)')));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('error', reject);
      res.on('end', () => {
        if (!res.complete) return reject(new Error('response incomplete'));
        resolve({ status: res.statusCode ?? 0, body: text, socket: socket!, connectionClose: String(res.headers.connection).toLowerCase() === 'close' });
      });
    });
    req.end(body || undefined);
  });
}

interface Sample {
  readonly t: number;
  readonly mode: Mode;
  readonly rps: number;
  readonly p99: number;
  readonly errors: number;
  /** tapwire's CPU use over the interval, % of one core */
  readonly cpu: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly externalMiB: number;
  readonly fds: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly inFlight: number;
  readonly gap: number;
}

const pad = (v: string | number, n: number): string => String(v).padStart(n);
const HEADER = `${pad('t(s)', 6)} ${pad('mode', 10)} ${pad('req/s', 6)} ${pad('p99ms', 6)} ${pad('errors', 6)} ${pad('cpu%', 5)} ${pad('RSS MiB', 8)} ${pad('heap', 6)} ${pad('ext', 6)} ${pad('fds', 5)} ${pad('loop p99', 8)} ${pad('loop max', 8)} ${pad('inflight', 8)} ${pad('gap', 4)}`;
const row = (s: Sample): string =>
  `${pad(s.t.toFixed(0), 6)} ${pad(s.mode, 10)} ${pad(s.rps.toFixed(0), 6)} ${pad(s.p99.toFixed(1), 6)} ${pad(s.errors, 6)} ${pad(s.cpu.toFixed(0), 5)} ${pad(s.rssMiB.toFixed(1), 8)} ${pad(s.heapMiB.toFixed(1), 6)} ${pad(s.externalMiB.toFixed(1), 6)} ${pad(s.fds, 5)} ${pad(s.loopP99Ms.toFixed(1), 8)} ${pad(s.loopMaxMs.toFixed(1), 8)} ${pad(s.inFlight, 8)} ${pad(s.gap, 4)}`;

async function main(): Promise<void> {
  const opts = options();
  const primary = await startPrimary();
  const mirror = new SwitchableMirror();
  await mirror.start();
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-soak-'));
  const file = join(dir, 'tapwire.yaml');
  writeFileSync(
    file,
    `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { level: warn }
shutdown: { drainTimeout: 5s }
upstreams:
  primary: { url: http://127.0.0.1:${primary.port} }
  mirror: { url: http://127.0.0.1:${mirror.port}, sandboxed: true }
routes:
  - name: soak
    primary: primary
    mirrors: [{ upstream: mirror, methods: [GET, POST], timeout: 1s }]
`,
  );
  const tw = await startTapwire(file);
  process.stdout.write(
    `soak: ${opts.seconds} s, ${opts.rate} req/s on ${opts.connections} keep-alive connections, mirror mode every ${opts.cycle} s ` +
      `(${opts.modes.join(' → ')}), sample every ${opts.sample} s, slopes after ${opts.warmup.toFixed(0)} s; tapwire pid ${tw.pid}\n` +
      `loop p99/max: event-loop delay per sample from tapwire_nodejs_eventloop_lag_{p99,max}_seconds (includes the 10 ms monitor resolution)\n` +
      `cpu%: tapwire's CPU time over the interval (user + system), % of one core\n` +
      `heap, ext: V8 heap used and memory outside it (Buffers), MiB, from tapwire_nodejs_{heap_size_used,external_memory}_bytes\n` +
      `gap: |matched − Σ outcomes − in flight| + violations, live\n\n${HEADER}\n`,
  );

  const load = new Load(tw.port, opts.connections, opts.rate);
  const samples: Sample[] = [];
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  let modeIndex = 0;
  let lastSent = 0;
  let lastErrors = 0;
  let lastT = 0;
  let lastCpu = procSample(tw.pid).cpuSeconds;
  let nextSample = opts.sample;
  let nextSwitch = opts.cycle;
  await adminGet(tw.adminPort, '/metrics'); // resets the event-loop histogram: the first sample covers its own interval
  while (elapsed() < opts.seconds) {
    await sleep(Math.max(0, Math.min(nextSample, nextSwitch, opts.seconds) - elapsed()) * 1000);
    const now = elapsed();
    if (now >= nextSwitch) {
      modeIndex = (modeIndex + 1) % opts.modes.length;
      await mirror.switchTo(opts.modes[modeIndex]!);
      nextSwitch += opts.cycle;
    }
    if (now >= nextSample) {
      nextSample += opts.sample;
      const [metricsText, statsText] = await Promise.all([adminGet(tw.adminPort, '/metrics'), adminGet(tw.adminPort, '/api/v1/stats')]);
      const stats = JSON.parse(statsText) as StatsJson;
      const proc = procSample(tw.pid);
      const lat = load.take();
      const s: Sample = {
        t: now,
        mode: mirror.mode,
        rps: (load.sent - lastSent) / (now - lastT),
        p99: quantile(lat, 0.99),
        errors: load.errors - lastErrors,
        rssMiB: proc.rssMiB,
        fds: proc.fds,
        cpu: (100 * (proc.cpuSeconds - lastCpu)) / (now - lastT),
        heapMiB: (metric(metricsText, 'tapwire_nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20,
        externalMiB: (metric(metricsText, 'tapwire_nodejs_external_memory_bytes') ?? 0) / 2 ** 20,
        loopP99Ms: (metric(metricsText, 'tapwire_nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000,
        loopMaxMs: (metric(metricsText, 'tapwire_nodejs_eventloop_lag_max_seconds') ?? 0) * 1000,
        inFlight: stats.routes.reduce((a, r) => a + r.inFlight, 0),
        gap: invariantGap(stats),
      };
      lastSent = load.sent;
      lastErrors = load.errors;
      lastCpu = proc.cpuSeconds;
      lastT = now;
      samples.push(s);
      process.stdout.write(`${row(s)}\n`);
    }
  }

  // Stop the load, let the mirror recover, and wait for every copy to end (the longest is the 1 s copy timeout).
  await load.stop();
  await mirror.switchTo('healthy');
  let stats = JSON.parse(await adminGet(tw.adminPort, '/api/v1/stats')) as StatsJson;
  for (const until = Date.now() + 15_000; Date.now() < until && stats.routes.some((r) => r.inFlight !== 0); ) {
    await sleep(100);
    stats = JSON.parse(await adminGet(tw.adminPort, '/api/v1/stats')) as StatsJson;
  }
  const idle = procSample(tw.pid);
  const route = stats.routes.find((r) => r.route === 'soak');
  const m = route?.mirrors[0];
  tw.child.kill('SIGTERM');
  const exit = await Promise.race([tw.exited, sleep(15_000).then(() => 'timeout' as const)]);
  if (exit === 'timeout') tw.child.kill('SIGKILL');
  await mirror.close();
  await primary.close();
  rmSync(dir, { recursive: true, force: true });

  // The books: every client request answered through the route, matched by the mirror, ended in one outcome.
  const requests = route?.requests ?? 0;
  const matched = m?.matched ?? 0;
  const reconcileDiff =
    invariantGap(stats) + Math.abs(requests - load.sent) + Math.abs(matched - load.sent) + stats.routes.reduce((a, r) => a + Math.abs(r.inFlight), 0);
  const measured = samples.filter((s) => s.t >= opts.warmup);
  const rssSlope = slope(measured.map((s) => [s.t / 60, s.rssMiB]));
  const fdSlope = slope(measured.map((s) => [s.t / 60, s.fds]));
  // The RSS bar is judged on the floor: garbage-collected memory swings RSS by tens of MiB over minutes (V8's
  // used heap here goes 25 → 75 MiB between major collections), so a raw slope depends on where the run stops.
  const floors = cycleFloors(samples, opts.warmup, opts.cycle * opts.modes.length);
  const floorSlope = floors.length >= 3 ? slope(floors) : undefined;
  const judged = floorSlope ?? rssSlope;
  const loopMax = Math.max(...samples.map((s) => s.loopMaxMs));
  const loopP99 = Math.max(...samples.map((s) => s.loopP99Ms));
  const outcomes = Object.entries(m?.outcomes ?? {})
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

  const bars: [string, boolean, string][] = [
    ['client errors', load.errors === 0, `${load.errors} (must be 0)`],
    ['reconcile difference', reconcileDiff === 0, `${reconcileDiff} (must be 0)`],
    ['tapwire exit on SIGTERM', exit === 0, `${exit} (must be 0)`],
    [
      floorSlope !== undefined ? 'RSS floor slope' : 'RSS slope after warm-up',
      judged <= opts.rssSlopeMax,
      `${judged.toFixed(2)} MiB/min (bar ≤ ${opts.rssSlopeMax})${floorSlope === undefined ? '; fewer than 3 full mode cycles after warm-up: raw slope' : ''}`,
    ],
    ['fd slope after warm-up', fdSlope <= opts.fdSlopeMax, `${fdSlope.toFixed(1)} /min (bar ≤ ${opts.fdSlopeMax})`],
  ];
  const lines = [
    '',
    ...(opts.seconds < 600 ? ['note: a run under 10 minutes can fail the RSS bar on the one-time climb of RSS to its high-water mark (see --help)', ''] : []),
    `duration                 ${elapsed().toFixed(0)} s, ${samples.length} samples, slopes over ${measured.length} samples after ${opts.warmup.toFixed(0)} s`,
    `client requests          ${load.sent} sent, ${load.ok} ok, ${load.errors} errors`,
    `route requests / matched ${requests} / ${matched}`,
    `copy outcomes            ${outcomes}`,
    `mirror saw               ${mirror.received} requests, answered ${mirror.answered}`,
    `RSS slopes after warm-up all samples ${rssSlope.toFixed(2)} MiB/min; floor (minimum of each full mode cycle: ${floors.map(([, v]) => v.toFixed(1)).join(', ') || 'none'}) ${floorSlope?.toFixed(2) ?? 'n/a'} MiB/min`,
    `RSS                      first ${samples[0]?.rssMiB.toFixed(1)} MiB, max ${Math.max(...samples.map((s) => s.rssMiB)).toFixed(1)} MiB, idle at end ${idle.rssMiB.toFixed(1)} MiB`,
    `open fds                 first ${samples[0]?.fds}, max ${Math.max(...samples.map((s) => s.fds))}, idle at end ${idle.fds}`,
    `event-loop delay         worst p99 ${loopP99.toFixed(1)} ms, max ${loopMax.toFixed(1)} ms`,
    '',
    ...bars.map(([name, ok, text]) => `${ok ? 'PASS' : 'FAIL'}  ${name.padEnd(24)} ${text}`),
  ];
  if (load.errorSamples.length) lines.push('', 'first client errors:', ...load.errorSamples.map((e) => `  ${e}`));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (exit !== 0) process.stderr.write(`tapwire stderr:\n${tw.stderr()}\n`);
  process.exitCode = bars.every(([, ok]) => ok) ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
