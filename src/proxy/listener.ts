// The listener: an HTTP/1.1 server (TLS optional) with safe limits from reliability-anchors §1.4.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ResolvedConfig } from '../config/types.ts';
import { errorBody } from '../core/errors.ts';
import type { Tap } from '../core/events.ts';
import { abortStreamingBodies, closingConnections, expectsContinue } from './handler.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function rawReply(socket: Duplex, status: number, reason: string, code: string, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = errorBody(code as never, message);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The response node is writing on this connection, if any (node's own bookkeeping, used by its socketOnError). */
function inFlight(socket: Duplex): ServerResponse | null {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
}

/** Connections with a refusal already on its way: a second parser error or timeout on them adds nothing. */
const refusing = new WeakSet<Duplex>();

/**
 * Answers a request node's parser refused (or a CONNECT) without corrupting what is already on the wire, then closes.
 * A response still owed to an earlier, complete request on this connection goes out first (pipelining: answers in
 * order, RFC 9112 §9.3.2); the refusal waits for it. If the refused bytes are the body of the request being
 * answered and its answer has begun, there is nothing left to say: the connection is cut.
 */
function refuse(socket: Duplex, status: number, reason: string, code: string, message: string, tap: Tap): void {
  // Attached until node emits its 'finish' (writableFinished turns true earlier, as soon as the bytes are flushed).
  const res = inFlight(socket);
  if (res && !socket.destroyed) {
    if (res.req.complete || res.writableEnded) {
      let again = false;
      const next = (): void => {
        if (again) return;
        again = true;
        // node has detached the finished response and assigned the next queued one, if any, by now.
        refuse(socket, status, reason, code, message, tap);
      };
      res.once('finish', next);
      res.once('close', next);
      return;
    }
    if (res.headersSent) {
      socket.destroy();
      return;
    }
  }
  // The answer owed before was the connection's last: node is closing it once that is flushed; nothing to add.
  if (socket.writableEnded) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  tap.emit('reject', { code, status });
  rawReply(socket, status, reason, code, message);
}

/** node's parser error codes → the status a client should see. */
function clientErrorStatus(code: string | undefined): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Request Header Fields Too Large', 'TW_ERR_HEADERS_TOO_LARGE'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request Timeout', 'TW_ERR_REQUEST_TIMEOUT'];
  return [400, 'Bad Request', 'TW_ERR_BAD_REQUEST'];
}

export function createListener(config: ResolvedConfig, handler: Handler, tap: Tap): http.Server {
  const { limits } = config;
  const options: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the timeouts above only this often; its 30 s default lets them fire up to 30 s late.
    connectionsCheckingInterval: 1000,
    // tapwire answers a missing Host itself (checkRequest): a JSON error, counted like every other refusal.
    requireHostHeader: false,
    joinDuplicateHeaders: false,
    insecureHTTPParser: false,
    noDelay: true,
  };
  const server = config.listen.tls
    ? https.createServer({ ...options, cert: config.listen.tls.cert, key: config.listen.tls.key, minVersion: 'TLSv1.2' }, handler)
    : http.createServer(options, handler);
  // One more than the limit so that the handler can see the excess and answer 431 (node would silently drop it).
  server.maxHeadersCount = limits.maxHeaders + 1;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    abortStreamingBodies(socket);
    // A peer that resets or closes its connection is not a rejected request: nothing to answer, nothing to count.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (refusing.has(socket)) return;
    refusing.add(socket);
    const [status, reason, code] = clientErrorStatus(err.code);
    refuse(socket, status, reason, code, status === 400 ? `malformed request (${err.code ?? 'parse error'})` : reason, tap);
  });
  // An expectation tapwire does not understand (RFC 9110 §10.1.1): 417, counted, and the connection closes.
  const expectationFailed = (req: IncomingMessage, res: ServerResponse): void => {
    if (closingConnections.has(req.socket)) return; // pipelined behind the connection's last request
    closingConnections.add(req.socket);
    tap.emit('reject', { code: 'TW_ERR_EXPECTATION_FAILED', status: 417 });
    const body = errorBody('TW_ERR_EXPECTATION_FAILED', 'only Expect: 100-continue is supported');
    res.writeHead(417, ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)), 'Connection', 'close']);
    res.end(body);
  };
  server.on('checkExpectation', expectationFailed);
  // Without this listener Node answers 100 Continue before tapwire has looked at the request. Node takes any value
  // that contains the token (`100-continue, foo`); tapwire only the one expectation it understands.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (String(req.headers.expect).trim().toLowerCase() !== '100-continue') return expectationFailed(req, res);
    expectsContinue.add(req);
    handler(req, res);
  });
  // CONNECT would open a tunnel to wherever the client says: never (reliability-anchors §2 row 11).
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    refusing.add(socket);
    refuse(socket, 405, 'Method Not Allowed', 'TW_ERR_METHOD_NOT_ALLOWED', 'CONNECT is not supported', tap);
  });
  return server;
}
