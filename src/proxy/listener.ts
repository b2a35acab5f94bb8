// The listener: an HTTP/1.1 server (TLS optional) with safe limits from reliability-anchors §1.4.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ResolvedConfig } from '../config/types.ts';
import { errorBody } from '../core/errors.ts';
import type { Tap } from '../core/events.ts';
import { expectsContinue } from './handler.ts';

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
    requireHostHeader: true,
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
    // A peer that resets or closes its connection is not a rejected request: nothing to answer, nothing to count.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason, code] = clientErrorStatus(err.code);
    tap.emit('reject', { code, status });
    rawReply(socket, status, reason, code, status === 400 ? `malformed request (${err.code ?? 'parse error'})` : reason);
  });
  // CONNECT would open a tunnel to wherever the client says: never (reliability-anchors §2 row 11).
  // Without this listener Node answers 100 Continue before tapwire has looked at the request.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    expectsContinue.add(req);
    handler(req, res);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    tap.emit('reject', { code: 'TW_ERR_METHOD_NOT_ALLOWED', status: 405 });
    rawReply(socket, 405, 'Method Not Allowed', 'TW_ERR_METHOD_NOT_ALLOWED', 'CONNECT is not supported');
  });
  return server;
}
