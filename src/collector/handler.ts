// Collector mode: tapwire as the mirror target of a mesh (Istio, Envoy, the Gateway API, nginx). Each copy the
// mesh sends is checked like a client request, its `-shadow` Host suffix removed, routed with the proxy's own
// matcher, and answered at once with an empty 202 (the mesh discards it; nginx holds its client's keep-alive
// connection until we answer). The copy then goes to the candidates and the secondary through Mirroring, and to
// the reference (the route's primary) on its own bounded pool; the reference's answer is the trial's `primary`,
// so compare sees exactly what it sees in proxy mode.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig, ResolvedRoute } from '../config/types.ts';
import type { Tap } from '../core/events.ts';
import type { ProxyHooks, RequestInfo, RequestObserver } from '../core/hooks.ts';
import type { Outcome } from '../core/outcomes.ts';
import { closingConnections, expectsContinue } from '../proxy/handler.ts';
import { hostOnly, matchRoute } from '../proxy/match.ts';
import { sendError } from '../proxy/primary.ts';
import { checkRequest, clientAddress, isRejection, parseTarget, plainAddress, type Rejection } from '../proxy/request.ts';
import { MIRROR_MARKER, requestHeaders } from '../upstream/headers.ts';
import { stripHostSuffix } from './host.ts';
import { References, type Reference } from './reference.ts';

/** How a received copy was taken: routed and answered, no route, or refused (malformed, over a limit). */
export type ReceivedResult = 'accepted' | 'no_route' | 'rejected';

/** Where the collector's counts go (admin/metrics.ts implements it). Calls are cheap and synchronous. */
export interface CollectorListener {
  /** route is '' when the copy matched no route or was refused before routing */
  received(route: string, result: ReceivedResult): void;
  /** exactly one per accepted copy */
  reference(route: string, outcome: Outcome): void;
}

export interface CollectorDeps {
  readonly config: () => ResolvedConfig;
  /** Mirroring (the candidates and the secondary); its wantsTrial must consult referenceAvailable() */
  readonly hooks: ProxyHooks;
  readonly tap: Tap;
  readonly proto: 'http' | 'https';
  readonly draining: () => boolean;
  readonly listener?: CollectorListener;
}

export interface CollectorRouteStats {
  readonly route: string;
  readonly received: Record<ReceivedResult, number>;
  /** reference outcomes; accepted = Σ outcomes + inFlight */
  readonly reference: Partial<Record<Outcome, number>>;
  readonly referenceInFlight: number;
}

export interface Collector {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Whether the copy being routed right now can get a reference. Mirroring asks (synchronously, inside observe)
   * before it makes the request a trial: without a reference there is nothing to compare, so no trial is taken
   * from compare's budget and no copy goes to the secondary.
   */
  referenceAvailable(): boolean;
  apply(config: ResolvedConfig): void;
  stats(): CollectorRouteStats[];
  drain(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
}

/** The copy's headers as the mesh meant them: the Host without its suffix (so X-Forwarded-Host is right too). */
function withHost(raw: readonly string[], host: string | undefined): readonly string[] {
  if (host === undefined) return raw;
  const out = raw.slice();
  for (let i = 0; i < out.length; i += 2) if (out[i]!.length === 4 && out[i]!.toLowerCase() === 'host') out[i + 1] = host;
  return out;
}

export function createCollector(initial: ResolvedConfig, deps: CollectorDeps): Collector {
  const { tap, hooks } = deps;
  const counts = new Map<string, { received: Record<ReceivedResult, number>; reference: Partial<Record<Outcome, number>> }>();
  const countsFor = (route: string) => {
    let c = counts.get(route);
    if (!c) counts.set(route, (c = { received: { accepted: 0, no_route: 0, rejected: 0 }, reference: {} }));
    return c;
  };
  const received = (route: string, result: ReceivedResult): void => {
    countsFor(route).received[result]++;
    deps.listener?.received(route, result);
  };
  const references = new References(initial, (route, outcome) => {
    const c = countsFor(route);
    c.reference[outcome] = (c.reference[outcome] ?? 0) + 1;
    deps.listener?.reference(route, outcome);
  });
  let gate = false;

  const reject = (res: ServerResponse, route: string, r: Rejection, close = true): void => {
    tap.emit('reject', { code: r.code, status: r.status });
    received(route, r.code === 'TW_ERR_NO_ROUTE' ? 'no_route' : 'rejected');
    if (close) closingConnections.add(res.req.socket);
    sendError(res, r.status, r.code, r.message, close);
  };

  function handler(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const socket = req.socket;
    // Pipelined behind the last request of this connection: never processed (see proxy/handler.ts).
    if (closingConnections.has(socket)) return;
    if (!res.shouldKeepAlive) closingConnections.add(socket);
    const config = deps.config();
    const problem = checkRequest(req, config.limits);
    if (problem) return reject(res, '', problem);
    const target = parseTarget(req);
    if (isRejection(target)) return reject(res, '', target);
    // A copy tapwire itself sent (to a reference or a candidate the mesh mirrors again) came back: taking it would
    // send it out once more, and again, without end. Refused, counted, never fanned out.
    if (req.headers[MIRROR_MARKER] !== undefined) {
      return reject(res, '', { status: 508, code: 'TW_ERR_MIRROR_LOOP', message: `a copy carrying ${MIRROR_MARKER} came back: exclude tapwire's own copies from the mesh's mirror rule` });
    }
    const closeAfter = req.headers.upgrade !== undefined;
    if (closeAfter) closingConnections.add(socket);

    const host = stripHostSuffix(req.headers.host, config.collector.stripHostSuffix);
    const source = clientAddress(plainAddress(socket.remoteAddress), req.headers['x-forwarded-for'] as string | undefined, config.trustedProxies);
    const headers = req.headers;
    const route = matchRoute(config.routes, {
      method: req.method!,
      host: hostOnly(host),
      path: target.pathname,
      rawQuery: target.rawQuery,
      header: (name) => {
        const v = headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
      source,
    });
    if (!route) {
      if (host === undefined) return reject(res, '', { status: 400, code: 'TW_ERR_BAD_REQUEST', message: 'a request without Host matches no route' });
      return reject(res, '', { status: 404, code: 'TW_ERR_NO_ROUTE', message: 'no route matches this request' }, false);
    }
    const chunked = headers['transfer-encoding'] !== undefined;
    const cl = headers['content-length'];
    const contentLength = cl !== undefined ? Number(cl) : chunked ? -1 : 0;
    if (contentLength > route.maxBodyBytes) {
      return reject(res, route.name, { status: 413, code: 'TW_ERR_BODY_TOO_LARGE', message: `body larger than ${route.maxBodyBytes} bytes` });
    }
    received(route.name, 'accepted');
    collect(req, res, config, route, target.path, host, source, contentLength, chunked, t0, closeAfter);
  }

  function collect(
    req: IncomingMessage,
    res: ServerResponse,
    config: ResolvedConfig,
    route: ResolvedRoute,
    path: string,
    host: string | undefined,
    source: string,
    contentLength: number,
    chunked: boolean,
    t0: number,
    closeAfter: boolean,
  ): void {
    const method = req.method!;
    const fwd = requestHeaders(withHost(req.rawHeaders, host), { clientAddress: source, proto: deps.proto, chunked: false });
    const info: RequestInfo = {
      route: route.name,
      at: Date.now(),
      t0,
      method,
      path,
      headers: chunked ? [...fwd, 'Transfer-Encoding', 'chunked'] : fwd,
      source,
      contentLength,
      host: host ?? '',
    };
    const refusal = references.refusal(route, method, contentLength);
    gate = refusal === undefined;
    let observer: RequestObserver | undefined;
    try {
      observer = hooks.observe(info);
    } finally {
      gate = false;
    }
    // A reference goes out only for a trial compare takes: otherwise its answer would be read for nothing, and the
    // reference (usually production) would get every copy twice.
    let reference: Reference | undefined;
    if (refusal === undefined && observer?.wantsPrimaryBody) reference = references.begin(route);
    else references.skip(route.name, refusal ?? 'sampled_out');

    const answer = (): void => {
      if (res.headersSent || res.destroyed) return;
      const status = config.collector.respondStatus;
      const out: string[] = status === 204 ? [] : ['Content-Length', '0'];
      if (deps.draining() || closeAfter) out.push('Connection', 'close');
      res.writeHead(status, out);
      res.end();
      tap.emit('exchange', { route: route.name, upstream: route.primary, status, durationMs: performance.now() - t0 });
    };
    const primaryDone = observer ? observer.primaryDone.bind(observer) : () => undefined;

    if (contentLength === 0) {
      observer?.end();
      answer();
      reference?.send(info, undefined, primaryDone);
      return;
    }
    if (expectsContinue.has(req)) {
      if (res.socket) res.writeContinue();
      else
        res.once('socket', () => {
          if (!res.headersSent) res.writeContinue();
        });
    }
    let bytes = 0;
    let kept: Buffer[] | undefined = reference ? [] : undefined;
    let over = false;
    const stop = (outcome: Outcome): void => {
      if (over) return;
      over = true;
      observer?.abort();
      reference?.drop(outcome);
      kept = undefined;
    };
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      bytes += chunk.length;
      if (bytes > route.maxBodyBytes) {
        // Chunked bodies reveal their size only as they stream: stop at the route's cap, like proxy mode.
        stop('body_too_large');
        tap.emit('reject', { code: 'TW_ERR_BODY_TOO_LARGE', status: 413 });
        closingConnections.add(req.socket);
        sendError(res, 413, 'TW_ERR_BODY_TOO_LARGE', `body larger than ${route.maxBodyBytes} bytes`, true);
        return;
      }
      observer?.data(chunk);
      if (kept && reference) {
        if (bytes > reference.maxBodyBytes) {
          reference.drop('body_too_large');
          kept = undefined;
        } else kept.push(chunk);
      }
    });
    req.on('end', () => {
      if (over) return;
      over = true;
      observer?.end();
      answer();
      const body = kept ? (kept.length === 1 ? kept[0] : Buffer.concat(kept)) : undefined;
      kept = undefined;
      reference?.send(info, body, primaryDone);
    });
    // The mesh went away before the body was whole: nothing is sent anywhere for it.
    req.on('close', () => {
      if (!req.complete) stop('client_aborted');
    });
    res.on('close', () => {
      if (!req.complete) stop('client_aborted');
    });
  }

  return {
    handler,
    referenceAvailable: () => gate,
    apply: (config) => references.apply(config),
    stats: () =>
      [...counts.entries()].map(([route, c]) => ({
        route,
        received: { ...c.received },
        reference: { ...c.reference },
        referenceInFlight: references.inFlight(route),
      })),
    drain: (deadlineMs) => references.drain(deadlineMs),
    close: () => references.close(),
  };
}
