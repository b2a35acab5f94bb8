// The dashboard, served by the admin server: a fixed list of static files (ours from ./assets, preact,
// htm and uPlot straight from node_modules, resolved at start), login and logout, the live event
// stream and the latency curves of an endpoint. No build step, no CDN: it works offline.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorBody, type ErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CompareApi } from './compare.ts';
import type { StatsSnapshot } from './stats.ts';
import { createEventHub, type EventHub, type LiveSummary } from './ui-events.ts';
import { latencyCurves } from './ui-latency.ts';
import { createSessions } from './ui-session.ts';

export interface DashboardOptions {
  readonly token?: string;
  readonly stats: () => StatsSnapshot;
  readonly summary?: () => Promise<LiveSummary>;
  readonly compare?: CompareApi;
  readonly logger: Logger;
  readonly maxEventClients?: number;
  /** whether the JSON API answers a path (the UI asks before it calls optional parts, such as captures) */
  readonly hasEndpoint?: (path: string) => boolean;
}

/** What the admin server decided about a request before handing it over. */
export interface Access {
  /** a valid bearer token or session cookie, or no token configured */
  readonly authorized: boolean;
  /** false when no token is set and the Host header is not a loopback name (DNS rebinding) */
  readonly hostAllowed: boolean;
}

export interface Dashboard {
  /** true when the request was the dashboard's (answered or being streamed); false leaves it to the JSON API */
  serve(req: IncomingMessage, res: ServerResponse, access: Access): boolean;
  /** a valid session cookie (always false without a token) */
  hasSession(cookieHeader: string | undefined): boolean;
  readonly events: EventHub;
  close(): void;
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Bare specifiers the UI imports, and where the browser finds them. */
const IMPORTS: Readonly<Record<string, string>> = {
  preact: '/vendor/preact.mjs',
  'preact/hooks': '/vendor/preact-hooks.mjs',
  htm: '/vendor/htm.mjs',
  'htm/preact': '/vendor/htm-preact.mjs',
  uplot: '/vendor/uplot.mjs',
};

const LOGIN_MAX_BYTES = 8 * 1024;
const LATENCY_PATH = /^\/api\/v1\/endpoints\/([A-Za-z0-9_-]{1,2048})\/latency$/;

/** The assets folder next to this file (npm run build copies it into dist/); the sources' as a fallback. */
function assetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'assets'), join(here, '..', '..', 'src', 'admin', 'assets')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!;
}

function vendorFiles(): Map<string, string> {
  const file = (specifier: string) => fileURLToPath(import.meta.resolve(specifier));
  const uplotDir = dirname(file('uplot/package.json'));
  return new Map([
    ['/vendor/preact.mjs', file('preact')],
    ['/vendor/preact-hooks.mjs', file('preact/hooks')],
    ['/vendor/htm.mjs', file('htm')],
    ['/vendor/htm-preact.mjs', file('htm/preact')],
    ['/vendor/uplot.mjs', join(uplotDir, 'dist', 'uPlot.esm.js')],
    ['/vendor/uplot.css', join(uplotDir, 'dist', 'uPlot.min.css')],
  ]);
}

/**
 * Every file the dashboard serves, read once at start: a request path is only ever a key in this map,
 * never joined to a directory, so no path can reach another file.
 */
function loadAssets(): { files: Map<string, Asset>; csp: string } {
  const files = new Map<string, Asset>();
  const dir = assetsDir();
  const walk = (sub: string): void => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (TYPES[extname(entry.name)] !== undefined) files.set(`/assets/${rel}`, { body: readFileSync(join(dir, rel)), type: TYPES[extname(entry.name)]! });
    }
  };
  walk('');
  for (const [path, file] of vendorFiles()) files.set(path, { body: readFileSync(file), type: TYPES[extname(file)] ?? TYPES['.js']! });
  // The import map is the page's only inline script: the CSP allows exactly it, by hash.
  const importMap = JSON.stringify({ imports: IMPORTS });
  const hash = createHash('sha256').update(importMap, 'utf8').digest('base64');
  const html = readFileSync(join(dir, 'index.html'), 'utf8').replace('<!--importmap-->', `<script type="importmap">${importMap}</script>`);
  files.set('/', { body: Buffer.from(html, 'utf8'), type: TYPES['.html']! });
  files.delete('/assets/index.html');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { files, csp };
}

export function createDashboard(o: DashboardOptions): Dashboard {
  const { files, csp } = loadAssets();
  const sessions = o.token !== undefined ? createSessions(o.token) : undefined;
  const log = o.logger;
  const events = createEventHub({
    stats: o.stats,
    ...(o.summary ? { summary: o.summary } : {}),
    ...(o.maxEventClients !== undefined ? { maxClients: o.maxEventClients } : {}),
    onError: (message, err) => log.warn({ err }, message),
  });

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      ...(type.startsWith('text/html') ? { 'content-security-policy': csp } : {}),
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  // Error messages are fixed strings: nothing a request carried is ever echoed back.
  const fail = (req: IncomingMessage, res: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) =>
    send(req, res, status, errorBody(code, message), 'application/json; charset=utf-8', { ...(req.method === 'POST' ? { connection: 'close' } : {}), ...headers });
  const json = (req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) =>
    send(req, res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
  const unauthorized = (req: IncomingMessage, res: ServerResponse) =>
    fail(req, res, 401, 'TW_ERR_ADMIN_UNAUTHORIZED', 'log in with the admin token first', { 'www-authenticate': 'Bearer realm="tapwire"' });

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!sessions) return json(req, res, 200, { ok: true, tokenRequired: false });
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    // JSON only: a cross-site form cannot send it without a preflight, which is never granted
    if (type !== 'application/json') return fail(req, res, 415, 'TW_ERR_ADMIN_BAD_REQUEST', 'send {"token": "..."} with Content-Type: application/json');
    const text = await readBody(req, LOGIN_MAX_BYTES);
    let token: unknown;
    try {
      token = text === undefined ? undefined : (JSON.parse(text) as { token?: unknown } | null)?.token;
    } catch {
      token = undefined;
    }
    const r = sessions.login(token);
    if (r.result !== 'ok') {
      if (r.result === 'throttled') return fail(req, res, 429, 'TW_ERR_ADMIN_BUSY', 'too many failed logins; wait a minute', { 'retry-after': '60' });
      log.warn({ remote: req.socket.remoteAddress }, 'dashboard login with a wrong token');
      return fail(req, res, 401, 'TW_ERR_ADMIN_UNAUTHORIZED', 'wrong token');
    }
    return json(req, res, 200, { ok: true, tokenRequired: true }, { 'set-cookie': r.cookie });
  }

  async function latency(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    if (!o.compare) return fail(req, res, 404, 'TW_ERR_ADMIN_BAD_REQUEST', 'no route compares');
    let detail: Awaited<ReturnType<CompareApi['endpoint']>>;
    try {
      detail = await o.compare.endpoint(id);
    } catch {
      return fail(req, res, 400, 'TW_ERR_ADMIN_BAD_REQUEST', 'not an endpoint id (see GET /api/v1/endpoints)');
    }
    if (!detail) return fail(req, res, 404, 'TW_ERR_ADMIN_BAD_REQUEST', 'no such endpoint (nothing compared for it yet)');
    return json(req, res, 200, { id, route: detail.route, endpoint: detail.endpoint, ...latencyCurves(detail.rows) });
  }

  const handle = (req: IncomingMessage, res: ServerResponse, access: Access, path: string): boolean => {
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const asset = files.get(path);
    const latencyId = LATENCY_PATH.exec(path)?.[1];
    const known = asset !== undefined || latencyId !== undefined || ['/api/v1/events', '/api/v1/login', '/api/v1/logout', '/api/v1/session'].includes(path);
    if (!known) return false;
    if (!access.hostAllowed) {
      fail(req, res, 400, 'TW_ERR_ADMIN_BAD_REQUEST', 'the Host header must name a loopback address when the admin API has no token');
      return true;
    }
    const post = path === '/api/v1/login' || path === '/api/v1/logout';
    if (post ? method !== 'POST' : !read) {
      fail(req, res, 405, 'TW_ERR_ADMIN_BAD_REQUEST', post ? 'only POST is allowed here' : 'only GET, HEAD are allowed here', { allow: post ? 'POST' : 'GET, HEAD' });
      return true;
    }
    // The page and its scripts hold no data: they load before login, so the login form can show.
    if (asset) {
      send(req, res, 200, asset.body, asset.type, path.startsWith('/vendor/') ? { 'cache-control': 'public, max-age=3600' } : {});
      return true;
    }
    if (path === '/api/v1/session') {
      const has = (p: string) => o.hasEndpoint?.(p) ?? false;
      const features = { compare: has('/api/v1/verdict'), analysis: has('/api/v1/findings'), captures: has('/api/v1/captures') };
      json(req, res, 200, { tokenRequired: sessions !== undefined, authenticated: access.authorized, ...(access.authorized ? { features } : {}) });
      return true;
    }
    if (path === '/api/v1/login') {
      login(req, res).catch((err: unknown) => {
        log.error({ err }, 'dashboard login failed');
        if (!res.headersSent) fail(req, res, 500, 'TW_ERR_INTERNAL', 'internal error');
      });
      return true;
    }
    if (path === '/api/v1/logout') {
      json(req, res, 200, { ok: true }, sessions ? { 'set-cookie': sessions.logout(req.headers.cookie), connection: 'close' } : { connection: 'close' });
      return true;
    }
    if (!access.authorized) {
      unauthorized(req, res);
      return true;
    }
    if (latencyId !== undefined) {
      latency(req, res, latencyId).catch((err: unknown) => {
        log.error({ err }, 'dashboard latency failed');
        if (!res.headersSent) fail(req, res, 500, 'TW_ERR_INTERNAL', 'internal error');
      });
      return true;
    }
    if (method === 'HEAD') {
      send(req, res, 200, '', 'text/event-stream; charset=utf-8');
      return true;
    }
    if (!events.attach(req, res)) fail(req, res, 503, 'TW_ERR_ADMIN_BUSY', 'too many live-event clients; close another dashboard tab', { 'retry-after': '10' });
    return true;
  };

  return {
    serve(req, res, access) {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      return handle(req, res, access, q < 0 ? url : url.slice(0, q));
    },
    hasSession: (cookieHeader) => sessions?.valid(cookieHeader) ?? false,
    events,
    close: () => events.close(),
  };
}

/** The body as text, or undefined when it is larger than max (the rest is not read). The admin server's too. */
export function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(size > max ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
