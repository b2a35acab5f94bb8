// The client-facing handler: check, route, stream to the primary and back. It hands each request to the
// injected hooks (mirroring, later capture) and never waits on them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import type { ResolvedConfig, ResolvedRoute } from '../config/types.ts';
import type { Tap } from '../core/events.ts';
import type { ProxyHooks, RequestObserver } from '../core/hooks.ts';
import { requestHeaders } from '../upstream/headers.ts';
import type { UpstreamPool } from '../upstream/pool.ts';
import { hostOnly, matchRoute } from './match.ts';
import { PrimaryExchange, sendError } from './primary.ts';
import { checkRequest, clientAddress, isRejection, parseTarget, plainAddress, type Rejection } from './request.ts';

/** What a request binds to when it arrives; a reload swaps the whole snapshot at once. */
export interface ProxySnapshot {
  readonly config: ResolvedConfig;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
}

export interface HandlerDeps {
  readonly snapshot: () => ProxySnapshot;
  readonly hooks: ProxyHooks;
  readonly tap: Tap;
  readonly proto: 'http' | 'https';
  /** true once SIGTERM arrived: responses then carry Connection: close */
  readonly draining: () => boolean;
}

/** Requests that carry `Expect: 100-continue` (marked by the listener's checkContinue handler). */
export const expectsContinue = new WeakSet<IncomingMessage>();

/**
 * Connections whose current request is their last: refused with Connection: close, closed by the client
 * (`Connection: close`, HTTP/1.0), or asking to upgrade. Requests the client pipelined behind it are never
 * processed (RFC 9112 §9.6: the server "MUST NOT process any further requests"): node's parser would hand them to
 * the handler all the same, and they would reach the primary and the mirrors while their answer is never sent.
 */
export const closingConnections = new WeakSet<object>();

/** Per connection, how to abort each request whose body is still streaming in. */
const streamingBodies = new WeakMap<object, Set<() => void>>();

/**
 * node's parser gave up on this connection (a parse error, a timeout, the client's end mid-body): no body still
 * streaming on it can ever complete. The listener calls this before it answers, since it may keep the connection
 * open a while to finish answers owed to earlier requests; node itself would only tell those requests once the
 * connection closes.
 */
export function abortStreamingBodies(socket: object): void {
  const aborts = streamingBodies.get(socket);
  if (!aborts) return;
  streamingBodies.delete(socket);
  for (const abort of aborts) abort();
}

export function createHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { tap, hooks } = deps;

  const reject = (res: ServerResponse, r: Rejection, close = true): void => {
    tap.emit('reject', { code: r.code, status: r.status });
    if (close) closingConnections.add(res.req.socket);
    sendError(res, r.status, r.code, r.message, close);
  };

  return function handle(req, res) {
    const t0 = performance.now();
    const socket = req.socket;
    // Pipelined behind the last request of this connection: never processed (its answer could never be sent).
    if (closingConnections.has(socket)) return;
    if (!res.shouldKeepAlive) closingConnections.add(socket);
    const snap = deps.snapshot();
    const { config } = snap;
    const problem = checkRequest(req, config.limits);
    if (problem) return reject(res, problem);
    const target = parseTarget(req);
    if (isRejection(target)) return reject(res, target);
    // tapwire never upgrades: the request is served plainly (Upgrade is hop-by-hop and stripped), but node's parser
    // stops reading a connection after a request that asks to upgrade, so this connection ends with this answer.
    const closeAfter = req.headers.upgrade !== undefined;
    if (closeAfter) closingConnections.add(socket);

    const peer = plainAddress(req.socket.remoteAddress);
    const source = clientAddress(peer, req.headers['x-forwarded-for'] as string | undefined, config.trustedProxies);
    const headers = req.headers;
    const route = matchRoute(config.routes, {
      method: req.method!,
      host: hostOnly(headers.host),
      path: target.pathname,
      rawQuery: target.rawQuery,
      header: (name) => {
        const v = headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
      source,
    });
    if (!route) {
      // HTTP/1.0 without Host is served only by a route without a host condition (reliability-anchors §2 row 13).
      if (headers.host === undefined) return reject(res, { status: 400, code: 'TW_ERR_BAD_REQUEST', message: 'a request without Host matches no route' });
      return reject(res, { status: 404, code: 'TW_ERR_NO_ROUTE', message: 'no route matches this request' }, false);
    }

    const cl = headers['content-length'];
    const chunked = headers['transfer-encoding'] !== undefined;
    const contentLength = cl !== undefined ? Number(cl) : chunked ? -1 : 0;
    if (contentLength > route.maxBodyBytes) {
      return reject(res, { status: 413, code: 'TW_ERR_BODY_TOO_LARGE', message: `body larger than ${route.maxBodyBytes} bytes` });
    }
    forward(req, res, snap, route, target.path, source, contentLength, chunked, t0, closeAfter);
  };

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    snap: ProxySnapshot,
    route: ResolvedRoute,
    path: string,
    source: string,
    contentLength: number,
    chunked: boolean,
    t0: number,
    closeAfter: boolean,
  ): void {
    const pool = snap.pools.get(route.primary)!;
    const method = req.method!;
    // undici frames the body itself (chunked when it has no length), so no Transfer-Encoding is passed on.
    const fwd = requestHeaders(req.rawHeaders, { clientAddress: source, proto: deps.proto, chunked: false });
    const hasBody = contentLength !== 0;

    const observer: RequestObserver | undefined = route.mirrors.length > 0 || route.analyze || route.capture !== undefined
      ? hooks.observe({
          route: route.name,
          at: Date.now(),
          t0,
          method,
          path,
          headers: chunked ? [...fwd, 'Transfer-Encoding', 'chunked'] : fwd,
          source,
          contentLength,
          host: req.headers.host ?? '',
        })
      : undefined;
    // The body goes through a stream of its own: undici destroys a request body it gives up on, and that must
    // never be the client's connection (tapwire still owes the client an answer).
    const body = hasBody ? new PassThrough() : null;
    const ex = new PrimaryExchange({
      res,
      tap,
      route: route.name,
      pool,
      method,
      path,
      headers: fwd,
      hostless: req.headers.host === undefined,
      body,
      observer,
      cap: snap.config.mirroring.maxResponseBytes,
      timeoutMs: route.timeoutMs ?? pool.upstream.timeoutMs,
      t0,
      close: deps.draining() || closeAfter,
    });

    // The client asked for 100-continue: it is sent only now that the request passed every check, so a body
    // tapwire refuses (413, no route) is never invited.
    if (expectsContinue.has(req)) {
      // An answer queued behind another (pipelining) has no socket yet: node would buffer the 100 and, once the
      // final answer's header block is ready, put that block ahead of it, so the 100 lands inside the final answer.
      // So: sent when this answer reaches the connection, and only if the final answer has not begun by then
      // (RFC 9110 §10.1.1 lets a server omit the 100).
      if (res.socket) res.writeContinue();
      else
        res.once('socket', () => {
          if (!res.headersSent) res.writeContinue();
        });
    }

    const socket = req.socket;
    // The body will never be whole: the primary must not get it as if it were, and copies are aborted. Usually res
    // tells (below), but the response of a request the client pipelined behind another is queued, has no socket yet
    // and never closes: then req does, or the listener when node's parser gives up on the connection.
    const abortBody = (): void => {
      if (ex.reqDone) return;
      ex.reqDone = true;
      // Set first: the primary's error that the abort causes is the client's doing, not a 502 (the listener answers).
      if (!ex.error) ex.error = 'client_aborted';
      ex.cancel(new Error('client aborted'));
      observer?.abort();
      ex.finish();
    };
    if (hasBody) {
      let aborts = streamingBodies.get(socket);
      if (!aborts) streamingBodies.set(socket, (aborts = new Set()));
      const mine = aborts;
      // The parser may have read the whole body already, its 'end' still on its way: that body will arrive.
      const abortIfIncomplete = (): void => {
        if (!req.complete) abortBody();
      };
      mine.add(abortIfIncomplete);
      req.once('end', () => mine.delete(abortIfIncomplete));
      req.once('close', () => {
        mine.delete(abortIfIncomplete);
        abortBody();
      });
    }
    res.on('close', () => {
      if (!res.writableFinished) {
        // The client went away: abort the primary, and tell the observer if its body was incomplete.
        if (!ex.reqDone) observer?.abort();
        if (!ex.error) ex.error = 'client_aborted';
        ex.cancel(new Error('client gone'));
        ex.finish();
      } else if (!ex.reqDone && observer) {
        // Answered before the request body was whole (a failed primary, an early answer). Node detaches req from
        // the connection once the answer is sent, so a connection that closes now never ends or aborts req: watch
        // the socket, or the copies would stay in flight forever.
        const onClose = (): void => {
          if (!ex.reqDone) observer.abort();
        };
        if (socket.destroyed) return onClose();
        socket.once('close', onClose);
        req.once('end', () => socket.off('close', onClose));
      }
    });

    if (!body) {
      observer?.end();
      return;
    }
    let received = 0;
    const limit = route.maxBodyBytes;
    req.on('data', (chunk: Buffer) => {
      ex.touch();
      received += chunk.length;
      if (received > limit) {
        // Chunked bodies reveal their size only as they stream: stop at the cap.
        req.unpipe(body);
        observer?.abort();
        ex.reqDone = true;
        ex.error = 'TW_ERR_BODY_TOO_LARGE';
        ex.status = 413;
        tap.emit('reject', { code: 'TW_ERR_BODY_TOO_LARGE', status: 413 });
        sendError(res, 413, 'TW_ERR_BODY_TOO_LARGE', `body larger than ${limit} bytes`, true);
        ex.cancel(new Error('body too large'));
        ex.finish();
        return;
      }
      observer?.data(chunk);
    });
    req.on('end', () => {
      if (ex.reqDone) return;
      ex.reqDone = true;
      observer?.end();
    });
    req.pipe(body);
  }
}

