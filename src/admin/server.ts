// The admin HTTP server: health, readiness, /metrics and the JSON API, on its own port, never on the data plane.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { TapwireError, errorBody, type ErrorCode } from '../core/errors.ts';
import type { Tap } from '../core/events.ts';
import type { Logger } from '../core/log.ts';
import { sanitizeForLog } from '../core/log.ts';
import { bearerVerifier, checkAdminExposure, hostOfHeader, isLoopbackHost } from './auth.ts';
import { renderMetrics, wantsOpenMetrics } from './exposition.ts';
import type { StatsSnapshot } from './stats.ts';
import { BadRequest, type CompareApi } from './compare.ts';
import type { Finding } from '../analysis/types.ts';
import type { FindingsQuery } from '../store/types.ts';
import { createDashboard, readBody } from './dashboard.ts';

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
  /** reserved for live event streams (dashboard); the endpoints below do not read it */
  readonly tap: Tap;
  readonly registry: Registry;
  readonly stats: () => StatsSnapshot;
  readonly isReady: () => boolean;
  /** an already-redacted view of the configuration */
  readonly config: () => unknown;
  readonly logger: Logger;
  /** the compare API (verdict, endpoints, diffs, noise, reset) */
  readonly compare?: CompareApi;
  /** traffic analysis: findings (from the store), the performance view, counters */
  readonly analysis?: AnalysisApi;
  /** captures (files under capture.file, the writer's counters) and replay reports beside them */
  readonly captures?: CapturesApi;
  /** live-event (SSE) clients of the dashboard at most (default 16) */
  readonly maxEventClients?: number;
}

export interface AnalysisApi {
  findings(q: FindingsQuery): Promise<readonly Finding[]>;
  finding(id: string): Promise<Finding | undefined>;
  /** undefined while no route analyses */
  performance(): unknown;
  stats(): unknown;
}

export interface CapturesApi {
  /** the capture setting, the writer's counters, the files (newest first) and the replay reports */
  list(): Promise<unknown>;
  /** the first `limit` entries of one listed file; undefined when the name is not a listed file */
  preview(name: string, limit: number): Promise<unknown>;
}

export interface AdminServer {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Context {
  readonly query: URLSearchParams;
  /** the rest of the path after a prefix endpoint (`/api/v1/endpoints/<id>`) */
  readonly param?: string;
  /** the parsed JSON body of a POST */
  readonly body?: unknown;
}

interface Endpoint {
  /** liveness and readiness stay open: kubelet probes carry no token */
  readonly public: boolean;
  /** GET endpoints also answer HEAD; mutations are POST with a JSON body */
  readonly method?: 'GET' | 'POST';
  handle(req: IncomingMessage, ctx: Context): Reply | Promise<Reply>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** A mutation's JSON body at most. */
const MAX_BODY_BYTES = 64 * 1024;

export function createAdminServer(opts: AdminServerOptions): AdminServer {
  checkAdminExposure(opts.host, opts.port, opts.token);
  const authorized = opts.token === undefined ? undefined : bearerVerifier(opts.token);
  const log = opts.logger.child({ component: 'admin' });
  const endpoints = new Map<string, Endpoint>([
    ['/healthz', { public: true, handle: () => json(200, { status: 'ok' }) }],
    ['/readyz', { public: true, handle: () => (safeReady(opts.isReady) ? json(200, { status: 'ready' }) : json(503, { status: 'not_ready' })) }],
    ['/metrics', { public: false, handle: metricsReply }],
    ['/api/v1/stats', { public: false, handle: () => json(200, opts.stats()) }],
    ['/api/v1/config', { public: false, handle: () => json(200, opts.config()) }],
  ]);
  /** endpoints that take the rest of the path as a parameter */
  const prefixed = new Map<string, Endpoint>();
  const compare = opts.compare;
  if (compare) {
    const num = (q: URLSearchParams, name: string): number | undefined => {
      const v = q.get(name);
      if (v === null) return undefined;
      if (!/^\d{1,6}$/.test(v)) throw new BadRequest(`${name} must be a whole number`);
      return Number(v);
    };
    // an empty value (`?route=`) means no filter
    const optional = (q: URLSearchParams, name: string): string | undefined => q.get(name) || undefined;
    endpoints.set('/api/v1/verdict', {
      public: false,
      handle: async (_req, { query }) => {
        const route = optional(query, 'route');
        return json(200, await compare.verdict(route !== undefined ? { route } : {}));
      },
    });
    // Flagger's webhooks and other gates read the status: 200 only for a pass.
    endpoints.set('/api/v1/verdict/gate', {
      public: false,
      handle: async (_req, { query }) => {
        const route = optional(query, 'route');
        const v = await compare.verdict(route !== undefined ? { route } : {});
        return json(v.verdict === 'pass' ? 200 : 412, { verdict: v.verdict, summary: v.summary, generatedAt: v.generatedAt });
      },
    });
    endpoints.set('/api/v1/endpoints', {
      public: false,
      handle: async (_req, { query }) => {
        const route = optional(query, 'route');
        const v = await compare.verdict(route !== undefined ? { route } : {});
        return json(200, { generatedAt: v.generatedAt, verdict: v.verdict, endpoints: v.endpoints });
      },
    });
    prefixed.set('/api/v1/endpoints/', {
      public: false,
      handle: async (_req, { param }) => {
        const detail = await compare.endpoint(param ?? '');
        return detail ? json(200, detail) : fail(404, 'TW_ERR_ADMIN_BAD_REQUEST', 'no such endpoint (nothing compared for it yet)');
      },
    });
    endpoints.set('/api/v1/diffs', {
      public: false,
      handle: async (_req, { query }) => {
        const endpoint = query.get('endpoint');
        if (endpoint === null) throw new BadRequest('endpoint= is required (an id from GET /api/v1/endpoints)');
        const field = optional(query, 'field');
        const upstream = optional(query, 'upstream');
        const limit = num(query, 'limit');
        return json(200, await compare.diffs({ endpoint, ...(field !== undefined ? { field } : {}), ...(upstream !== undefined ? { upstream } : {}), ...(limit !== undefined ? { limit } : {}) }));
      },
    });
    endpoints.set('/api/v1/noise', { public: false, method: 'POST', handle: async (_req, { body }) => json(200, await compare.markNoise(body)) });
    endpoints.set('/api/v1/reset', { public: false, method: 'POST', handle: async (_req, { body }) => json(200, await compare.reset(body)) });
  }

  const analysis = opts.analysis;
  if (analysis) {
    const STATES = new Set(['open', 'ongoing', 'resolved', 'active']);
    const DETECTORS = new Set(['rate_spike', 'flood', 'scan', 'credential_stuffing', 'error_burst', 'signature']);
    endpoints.set('/api/v1/findings', {
      public: false,
      handle: async (_req, { query }) => {
        const state = query.get('state') || 'active';
        const detector = query.get('detector') || undefined;
        const limitText = query.get('limit');
        if (state !== 'all' && !STATES.has(state)) throw new BadRequest('state must be open, ongoing, resolved, active or all');
        if (detector !== undefined && !DETECTORS.has(detector)) throw new BadRequest(`detector must be one of ${[...DETECTORS].join(', ')}`);
        if (limitText !== null && !/^\d{1,3}$/.test(limitText)) throw new BadRequest('limit must be a whole number from 1 to 500');
        const limit = limitText === null ? 50 : Math.min(500, Math.max(1, Number(limitText)));
        const q = {
          ...(state !== 'all' ? { state: state as FindingsQuery['state'] } : {}),
          ...(detector !== undefined ? { detector: detector as NonNullable<FindingsQuery['detector']> } : {}),
          limit,
        } as FindingsQuery;
        return json(200, { findings: await analysis.findings(q) });
      },
    });
    prefixed.set('/api/v1/findings/', {
      public: false,
      handle: async (_req, { param }) => {
        const f = await analysis.finding(param ?? '');
        return f ? json(200, f) : fail(404, 'TW_ERR_ADMIN_BAD_REQUEST', 'no such finding');
      },
    });
    endpoints.set('/api/v1/performance', {
      public: false,
      handle: () => {
        const p = analysis.performance();
        return p === undefined ? fail(404, 'TW_ERR_ADMIN_BAD_REQUEST', 'no route analyses its traffic (routes[].analyze)') : json(200, p);
      },
    });
    endpoints.set('/api/v1/analysis', { public: false, handle: () => json(200, analysis.stats() ?? { enabled: false }) });
  }

  const captures = opts.captures;
  if (captures) {
    endpoints.set('/api/v1/captures', { public: false, handle: async () => json(200, await captures.list()) });
    prefixed.set('/api/v1/captures/', {
      public: false,
      handle: async (_req, { param, query }) => {
        const limitText = query.get('limit');
        if (limitText !== null && !/^\d{1,3}$/.test(limitText)) throw new BadRequest('limit must be a whole number from 1 to 200');
        const limit = limitText === null ? 50 : Math.min(200, Math.max(1, Number(limitText)));
        const preview = await captures.preview(param ?? '', limit);
        return preview === undefined ? fail(404, 'TW_ERR_ADMIN_BAD_REQUEST', 'no such capture file (names come from GET /api/v1/captures)') : json(200, preview);
      },
    });
  }

  // The dashboard at `/`: its files, login, live events (src/admin/dashboard.ts). A browser logs in once and
  // then carries an HttpOnly session cookie, which counts like the bearer token.
  const dashboard = createDashboard({
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    stats: opts.stats,
    ...(compare ? { compare } : {}),
    ...(opts.maxEventClients !== undefined ? { maxEventClients: opts.maxEventClients } : {}),
    logger: log,
    hasEndpoint: (path) => find(path).endpoint !== undefined,
    summary: async () => {
      const v = compare ? await compare.verdict() : undefined;
      const active = analysis ? await analysis.findings({ state: 'active', limit: 500 }) : undefined;
      return { ...(v ? { verdict: v.verdict, endpoints: { pass: v.summary.pass, fail: v.summary.fail, insufficient_data: v.summary.insufficient_data } } : {}), ...(active ? { activeFindings: active.length } : {}) };
    },
  });
  const permitted = (req: IncomingMessage): boolean =>
    authorized === undefined || authorized(req.headers.authorization) || dashboard.hasSession(req.headers.cookie);

  function find(path: string): { endpoint?: Endpoint; param?: string } {
    const exact = endpoints.get(path);
    if (exact) return { endpoint: exact };
    for (const [prefix, endpoint] of prefixed) if (path.startsWith(prefix) && path.length > prefix.length) return { endpoint, param: path.slice(prefix.length) };
    return {};
  }

  async function metricsReply(req: IncomingMessage): Promise<Reply> {
    const exposition = await renderMetrics(opts.registry, wantsOpenMetrics(req.headers.accept));
    return { status: 200, body: exposition.body, contentType: exposition.contentType, headers: { vary: 'accept' } };
  }

  async function route(req: IncomingMessage): Promise<Reply> {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const { endpoint, param } = find(path);
    if (endpoint?.public !== true) {
      // Checked before 404/405 so that without the token nobody can map which paths exist.
      if (!permitted(req)) {
        warnThrottled(req);
        return { ...fail(401, 'TW_ERR_ADMIN_UNAUTHORIZED', 'a valid bearer token is required'), headers: { 'www-authenticate': 'Bearer realm="tapwire"' } };
      }
      // Without a token the only guard is loopback; a browser tricked by DNS rebinding reaches 127.0.0.1 with
      // a foreign Host header, so refuse any Host that is not a loopback address.
      if (authorized === undefined && !isLoopbackHost(hostOfHeader(req.headers.host) ?? '')) {
        return fail(400, 'TW_ERR_ADMIN_BAD_REQUEST', 'the Host header must name a loopback address when the admin API has no token');
      }
    }
    if (endpoint === undefined) return fail(404, 'TW_ERR_ADMIN_BAD_REQUEST', 'no such admin endpoint');
    const method = endpoint.method ?? 'GET';
    const allowed = method === 'GET' ? req.method === 'GET' || req.method === 'HEAD' : req.method === 'POST';
    if (!allowed) {
      const allow = method === 'GET' ? 'GET, HEAD' : 'POST';
      return { ...fail(405, 'TW_ERR_ADMIN_BAD_REQUEST', `only ${allow} ${allow.includes(',') ? 'are' : 'is'} allowed here`), headers: { allow } };
    }
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    try {
      let body: unknown;
      if (method === 'POST') {
        // JSON only: a cross-site form cannot send application/json without a CORS preflight, which is never granted.
        const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
        if (type !== 'application/json') return fail(415, 'TW_ERR_ADMIN_BAD_REQUEST', 'send a JSON body with Content-Type: application/json');
        const text = await readBody(req, MAX_BODY_BYTES);
        if (text === undefined) return fail(413, 'TW_ERR_ADMIN_BAD_REQUEST', `the body is larger than ${MAX_BODY_BYTES} bytes`);
        try {
          body = text.trim() === '' ? {} : JSON.parse(text);
        } catch {
          return fail(400, 'TW_ERR_ADMIN_BAD_REQUEST', 'the body is not valid JSON');
        }
      }
      return await endpoint.handle(req, { query, ...(param !== undefined ? { param } : {}), ...(body !== undefined ? { body } : {}) });
    } catch (err) {
      if (err instanceof BadRequest) return fail(400, 'TW_ERR_ADMIN_BAD_REQUEST', err.message);
      throw err;
    }
  }

  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000 }, (req, res) => {
    const access = { authorized: permitted(req), hostAllowed: authorized !== undefined || isLoopbackHost(hostOfHeader(req.headers.host) ?? '') };
    if (dashboard.serve(req, res, access)) return;
    route(req).then(
      (reply) => send(req, res, reply),
      (err: unknown) => {
        log.error({ err, path: pathForLog(req.url) }, 'admin request failed');
        send(req, res, fail(500, 'TW_ERR_INTERNAL', 'internal error'));
      },
    );
  });
  // The admin API serves a handful of scrapers and operators: small limits keep a misbehaving client from
  // holding sockets or memory that the data plane needs.
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.maxConnections = 64;

  let lastWarn = 0;
  let suppressed = 0;
  function warnThrottled(req: IncomingMessage): void {
    // Failed logins are worth a line, but a scanner must not be able to flood the log: one line per minute.
    const now = Date.now();
    if (now - lastWarn < 60_000) {
      suppressed++;
      return;
    }
    log.warn({ remote: req.socket.remoteAddress, path: pathForLog(req.url), suppressed }, 'admin request without a valid token');
    lastWarn = now;
    suppressed = 0;
  }

  return {
    listen: () => listen(server, opts.host, opts.port, log),
    close: () => {
      // live-event streams never end on their own: end them first, or close() would wait for its force timer
      dashboard.close();
      return close(server);
    },
  };
}

function listen(server: ReturnType<typeof createServer>, host: string, port: number, log: Logger): Promise<{ host: string; port: number }> {
  if (server.listening) return Promise.reject(new TapwireError('TW_ERR_INTERNAL', 'the admin server is already listening'));
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      reject(new TapwireError('TW_ERR_CONFIG', `admin.listen: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      server.on('error', (err) => log.error({ err }, 'admin server error'));
      const address = server.address() as AddressInfo;
      log.info({ host: address.address, port: address.port }, 'admin API listening');
      resolve({ host: address.address, port: address.port });
    });
  });
}


function close(server: ReturnType<typeof createServer>): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    // A scrape in progress gets a second to finish; the admin API must never hold up shutdown.
    const force = setTimeout(() => server.closeAllConnections(), 1_000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string | number> = {
    'content-type': reply.contentType ?? JSON_TYPE,
    'content-length': Buffer.byteLength(reply.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...reply.headers,
  };
  // A request with a body we never read (POST to /metrics) is not worth keeping the connection for.
  if (req.method !== 'GET' && req.method !== 'HEAD') headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}

/** The path without its query: a query string can carry a credential (`?token=…`), and a log line must not. */
function pathForLog(url: string | undefined): string {
  return sanitizeForLog((url ?? '').split('?', 1)[0]!);
}

function json(status: number, value: unknown): Reply {
  return { status, body: JSON.stringify(value, jsonReplacer) };
}

function fail(status: number, code: ErrorCode, message: string): Reply {
  return { status, body: errorBody(code, message) };
}

/** Maps and Sets (ReadonlyMap upstreams in the resolved config) would otherwise serialise as `{}`. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}

function safeReady(isReady: () => boolean): boolean {
  try {
    return isReady();
  } catch {
    return false;
  }
}
