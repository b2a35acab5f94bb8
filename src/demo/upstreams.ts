// The demo's sample upstreams: small JSON services on port 0 that count what they receive and can be
// switched at run time into slow, resetting or down modes to show how tapwire treats a sick mirror.
// Version v2 carries the planted regressions that compare must find; every version adds a random
// requestId to its answers, the nondeterministic field the secondary teaches compare to ignore.
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type UpstreamMode = 'healthy' | 'slow' | 'resetting' | 'down';

export interface UpstreamCounters {
  /** requests whose headers arrived */
  readonly received: number;
  /** of those, carrying tapwire's mirror marker `x-tapwire-mirror: 1` */
  readonly marked: number;
  /** responses written out completely */
  readonly answered: number;
  /** requests whose socket we destroyed on purpose (resetting mode) */
  readonly reset: number;
  /** requests whose client went away before the answer (e.g. tapwire's mirror timeout in slow mode) */
  readonly abandoned: number;
}

export interface UpstreamOptions {
  readonly name: string;
  readonly host?: string;
  /** how long slow mode waits before answering */
  readonly slowMs?: number;
  /**
   * v2, the candidate, has the planted regressions: `email` removed from users, item prices turned into
   * strings, product pages 20% slower, and an occasional 500 on search.
   */
  readonly version?: 'v1' | 'v2';
  readonly random?: () => number;
}

/** Product pages take this long on v1; v2 takes 20% longer. */
export const PRODUCT_DELAY_MS = 100;
/** How often v2 answers a search with a 500. */
export const SEARCH_ERROR_RATE = 0.08;

const MAX_BODY = 64 * 1024;
const USERS = 1000;

export class DemoUpstream {
  readonly name: string;
  readonly host: string;
  readonly slowMs: number;
  readonly version: 'v1' | 'v2';
  readonly #random: () => number;
  readonly #server: Server;
  #port = 0;
  #mode: UpstreamMode = 'healthy';
  #orders = 0;
  /** requests received and not yet answered, reset or abandoned */
  #pending = 0;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #counts = { received: 0, marked: 0, answered: 0, reset: 0, abandoned: 0 };

  private constructor(opts: UpstreamOptions) {
    this.name = opts.name;
    this.host = opts.host ?? '127.0.0.1';
    this.slowMs = opts.slowMs ?? 300;
    this.version = opts.version ?? 'v1';
    this.#random = opts.random ?? Math.random;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  static async start(opts: UpstreamOptions): Promise<DemoUpstream> {
    const u = new DemoUpstream(opts);
    await u.#listen(0);
    return u;
  }

  get url(): string {
    return `http://${this.host}:${this.#port}`;
  }

  /** requests still waiting for an answer (slow mode) */
  get pending(): number {
    return this.#pending;
  }

  counters(): UpstreamCounters {
    return { ...this.#counts };
  }

  /**
   * Switches mode. `down` stops listening and drops open connections, so new connections are refused;
   * leaving it listens again on the same port (the mirror's URL is in tapwire's config and cannot move).
   */
  async setMode(mode: UpstreamMode): Promise<void> {
    if (mode === this.#mode) return;
    const wasDown = this.#mode === 'down';
    this.#mode = mode;
    if (mode === 'down') await this.#stopListening();
    else if (wasDown) await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#server.listening) await this.#stopListening();
  }

  async #listen(port: number): Promise<void> {
    const s = this.#server;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, this.host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    this.#port = (s.address() as AddressInfo).port;
  }

  #stopListening(): Promise<void> {
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    // Keep-alive sockets would otherwise keep serving tapwire's pooled connections while "down".
    this.#server.closeAllConnections();
    return closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.#counts.received++;
    if (req.headers['x-tapwire-mirror'] === '1') this.#counts.marked++;
    if (this.#mode === 'resetting') {
      this.#counts.reset++;
      req.socket.destroy();
      return;
    }
    this.#pending++;
    let settled = false;
    const settle = (how: 'answered' | 'abandoned'): void => {
      if (settled) return;
      settled = true;
      this.#pending--;
      this.#counts[how]++;
    };
    res.on('finish', () => settle('answered'));
    res.on('close', () => settle('abandoned'));
    readBody(req, (body) => {
      if (body === undefined) return reply(res, this.name, 413, { error: 'body too large' });
      const { status, payload, delayMs } = this.#route(req, body);
      const wait = delayMs + (this.#mode === 'slow' ? this.slowMs : 0);
      if (wait <= 0) return reply(res, this.name, status, payload, req.method === 'HEAD');
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (!res.destroyed) reply(res, this.name, status, payload, req.method === 'HEAD');
      }, wait);
      this.#timers.add(timer);
      res.once('close', () => {
        clearTimeout(timer);
        this.#timers.delete(timer);
      });
    });
  }

  #route(req: IncomingMessage, body: Buffer): { status: number; payload: unknown; delayMs: number } {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const p = url.pathname;
    const ok = (payload: unknown, delayMs = 0) => ({ status: 200, payload, delayMs });
    if (method === 'OPTIONS') return { status: 204, payload: undefined, delayMs: 0 };
    if (p === '/health' && read) return ok({ status: 'ok', upstream: this.name });
    const v2 = this.version === 'v2';
    const requestId = randomUUID();
    const user = /^\/api\/users\/(\d+)$/.exec(p);
    if (user && read) {
      const id = Number(user[1]);
      if (id < 1 || id > USERS) return { status: 404, payload: { error: 'no such user', id, requestId }, delayMs: 0 };
      const plan = id % 7 === 0 ? 'pro' : 'free';
      return ok(v2 ? { id, name: `user-${id}`, plan, requestId } : { id, name: `user-${id}`, email: `user-${id}@example.com`, plan, requestId });
    }
    if (p === '/api/items' && read) {
      const page = Math.max(1, Number(url.searchParams.get('page') ?? '1') || 1);
      const items = Array.from({ length: 10 }, (_, i) => {
        const id = (page - 1) * 10 + i + 1;
        const price = Math.round((5 + ((id * 37) % 90)) * 100) / 100 + 0.5;
        return { id, title: `item ${id}`, price: v2 ? price.toFixed(2) : price };
      });
      return ok({ page, items, requestId });
    }
    const product = /^\/api\/products\/(\d+)$/.exec(p);
    if (product && read) {
      const id = Number(product[1]);
      return ok({ id, name: `product ${id}`, stock: id % 13, requestId }, v2 ? PRODUCT_DELAY_MS * 1.2 : PRODUCT_DELAY_MS);
    }
    if (p === '/api/search' && read) {
      if (v2 && this.#random() < SEARCH_ERROR_RATE) return { status: 500, payload: { error: 'internal error', requestId }, delayMs: 0 };
      const q = (url.searchParams.get('q') ?? '').slice(0, 64);
      return ok({ q, results: Array.from({ length: 3 }, (_, i) => ({ id: ((q.length * 31 + i * 7) % 100) + 1 })), requestId });
    }
    if (p === '/api/orders' && method === 'POST') {
      let order: unknown;
      try {
        order = JSON.parse(body.toString('utf8'));
      } catch {
        return { status: 400, payload: { error: 'invalid JSON' }, delayMs: 0 };
      }
      const items = (order as { items?: unknown }).items;
      return { status: 201, payload: { orderId: ++this.#orders, items: Array.isArray(items) ? items.length : 0, requestId }, delayMs: 0 };
    }
    return { status: 404, payload: { error: 'not found', requestId }, delayMs: 0 };
  }
}

/** Reads the request body up to MAX_BODY; undefined when it is larger (bounded, like everything else). */
function readBody(req: IncomingMessage, done: (body: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let over = false;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_BODY) over = true;
    else chunks.push(chunk);
  });
  req.on('end', () => done(over ? undefined : Buffer.concat(chunks)));
  req.on('error', () => undefined);
}

function reply(res: ServerResponse, servedBy: string, status: number, payload: unknown, head = false): void {
  if (status === 204) {
    // RFC 9110 §8.6: no Content-Length on a 204.
    res.writeHead(204, { 'x-served-by': servedBy, allow: 'GET, HEAD, POST, OPTIONS' });
    res.end();
    return;
  }
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'x-served-by': servedBy, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(head ? undefined : body);
}
