// One request to the primary: an undici dispatch handler that writes the primary's answer straight into the
// client's response (pausing the primary's socket while the client is slow), with tapwire's 502/504 answers,
// the idle deadline, the one safe retry, and the primary's exchange for the observer. One object per request,
// no stream, promise or closure per chunk: this is the hot path.
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { CONNECT_FAILURES, errorBody, errorCodes, isTlsFailure, type ErrorCode } from '../core/errors.ts';
import type { Tap } from '../core/events.ts';
import { deadlines, type Deadline } from '../core/deadlines.ts';
import type { Exchange } from '../core/exchange.ts';
import type { RequestObserver } from '../core/hooks.ts';
import { responseHeaders } from '../upstream/headers.ts';
import type { UpstreamPool } from '../upstream/pool.ts';
import type { Rejection } from './request.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
/** The connection broke under a request that had been written: a keep-alive socket the primary had closed. */
const BROKEN = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** Writes one of tapwire's own JSON errors, or cuts the connection when the primary's answer already began. */
export function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(code, message);
  const headers: string[] = ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body))];
  if (close) headers.push('Connection', 'close');
  res.writeHead(status, headers);
  res.end(body);
}

/** Maps a failure of the primary request to tapwire's answer. */
export function primaryFailure(err: unknown, timedOut: boolean, written: boolean): Rejection {
  if (timedOut) return { status: 504, code: 'TW_ERR_UPSTREAM_TIMEOUT', message: written ? 'primary did not answer in time' : 'primary connect timeout' };
  const codes = errorCodes(err);
  if (codes.some((c) => TIMEOUTS.has(c))) return { status: 504, code: 'TW_ERR_UPSTREAM_TIMEOUT', message: 'primary connect timeout' };
  if (isTlsFailure(codes, err)) return { status: 502, code: 'TW_ERR_UPSTREAM_TLS', message: 'TLS handshake with the primary failed' };
  if (codes.some((c) => CONNECT_FAILURES.has(c))) return { status: 502, code: 'TW_ERR_UPSTREAM_CONNECT', message: `primary unreachable (${codes[codes.length - 1]})` };
  if (written || codes.some((c) => BROKEN.has(c) || c.startsWith('HPE_') || c.startsWith('UND_ERR_RES')))
    return { status: 502, code: 'TW_ERR_UPSTREAM_RESET', message: 'primary reset the connection or answered garbage' };
  return { status: 502, code: 'TW_ERR_UPSTREAM_CONNECT', message: `primary unreachable (${codes[0] ?? 'error'})` };
}

export interface PrimaryRequest {
  readonly res: ServerResponse;
  readonly tap: Tap;
  readonly route: string;
  readonly pool: UpstreamPool;
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  /** HTTP/1.0 without Host: each attempt names the URL it goes to */
  readonly hostless: boolean;
  /** the request body stream, or null */
  readonly body: NodeJS.ReadableStream | null;
  readonly observer: RequestObserver | undefined;
  /** response bytes kept for the trial */
  readonly cap: number;
  readonly timeoutMs: number;
  /** `performance.now()` when the client request arrived */
  readonly t0: number;
  /** answer with Connection: close (draining, or the client asked to upgrade) */
  readonly close: boolean;
}

export class PrimaryExchange implements Dispatcher.DispatchHandler {
  readonly #r: PrimaryRequest;
  #deadline: Deadline | undefined;
  #abort: ((err?: Error) => void) | undefined;
  /** set when tapwire gave up on the exchange before undici handed over its abort */
  #pending: Error | undefined;
  #resume: (() => void) | undefined;
  #timedOut = false;
  #retried = false;
  #finished = false;
  status = 0;
  error: string | undefined;
  #headersMs: number | undefined;
  #respHeaders: string[] | undefined;
  #bodyBytes = 0;
  #kept: Buffer[] | undefined;
  /** the request body is complete (or there was none), or it will never be */
  reqDone: boolean;

  constructor(r: PrimaryRequest) {
    this.#r = r;
    this.reqDone = r.body === null;
    // Idle deadline: pushed back by every body chunk either way (touch), so slow uploads and long streamed
    // answers live, and a silent primary gets its 504 (or its connection cut) after timeoutMs.
    this.#deadline = deadlines.add(r.timeoutMs, () => {
      this.#timedOut = true;
      this.cancel(new Error('primary timeout'));
    });
    this.#dispatch();
  }

  #dispatch(): void {
    const r = this.#r;
    const t = r.pool.pick();
    try {
      t.pool.dispatch(
        {
          method: r.method,
          path: r.path,
          headers: r.hostless ? [...r.headers, 'Host', t.host] : r.headers,
          body: r.body as Dispatcher.DispatchOptions['body'],
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        this,
      );
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Pushes the idle deadline back: data moved. */
  touch(): void {
    if (this.#deadline) this.#deadline.at = performance.now() + this.#r.timeoutMs;
  }

  /** Gives up on the primary (client gone, timeout, body over the cap). */
  cancel(err: Error): void {
    if (this.#abort) this.#abort(err); // a no-op once undici completed the request
    else if (!this.#finished && !this.#pending) {
      // Not on a connection yet (connecting, or queued behind busy ones): undici is told when it hands over.
      this.#pending = err;
      this.#fail(err);
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#pending) return abort(this.#pending);
    this.#abort = abort;
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.#pending) return false;
    if (statusCode < 200) return true;
    const r = this.#r;
    this.#headersMs = performance.now() - r.t0;
    this.status = statusCode;
    const strings: string[] = new Array<string>(raw.length);
    for (let i = 0; i < raw.length; i++) strings[i] = raw[i]!.toString('latin1');
    const headers = responseHeaders(strings);
    this.#respHeaders = headers;
    if (r.close) headers.push('Connection', 'close');
    if (r.res.destroyed) {
      this.#abort?.(new Error('client gone'));
      return false;
    }
    r.res.writeHead(statusCode, statusText, headers);
    if (r.observer?.wantsPrimaryBody) this.#kept = [];
    this.#resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#pending) return false;
    this.touch();
    const cap = this.#r.cap;
    if (this.#kept && this.#bodyBytes < cap) this.#kept.push(this.#bodyBytes + chunk.length <= cap ? chunk : chunk.subarray(0, cap - this.#bodyBytes));
    this.#bodyBytes += chunk.length;
    const res = this.#r.res;
    if (res.write(chunk)) return true;
    // The client reads slower than the primary writes: pause the primary's socket until it drains.
    if (!res.destroyed) res.once('drain', this.#onDrain);
    return false;
  }

  readonly #onDrain = (): void => {
    this.#resume?.();
  };

  onComplete(): void {
    if (this.#pending) return;
    this.#r.res.end();
    this.finish();
  }

  onError(err: Error): void {
    if (this.#pending) return; // already answered by #fail
    this.#fail(err);
  }

  #fail(err: Error): void {
    const r = this.#r;
    const res = r.res;
    // tapwire itself ended it (client gone, body over the cap) and has answered, or will not.
    if (this.error) return this.finish();
    if (this.status !== 0) {
      // The primary broke mid-body: the client cannot get a whole answer; close its connection.
      this.error = 'TW_ERR_UPSTREAM_RESET';
      res.destroy();
      return this.finish();
    }
    if (res.destroyed || res.writableEnded) return this.finish();
    const written = this.#abort !== undefined;
    // A keep-alive connection the primary closed while we reused it: retry once when nothing can repeat a side effect.
    if (!this.#retried && !this.#timedOut && !this.#pending && written && r.body === null && IDEMPOTENT.has(r.method) && errorCodes(err).some((c) => BROKEN.has(c))) {
      this.#retried = true;
      this.#abort = undefined;
      this.#dispatch();
      return;
    }
    const f = primaryFailure(err, this.#timedOut, written);
    this.error = f.code;
    this.status = f.status;
    r.tap.emit('reject', { code: f.code, status: f.status });
    sendError(res, f.status, f.code, f.message, !this.reqDone || r.close);
    this.finish();
  }

  /** Ends the exchange once: the exchange event and, for mirrored routes, the primary's result for the trial. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    deadlines.delete(this.#deadline);
    const r = this.#r;
    const totalMs = performance.now() - r.t0;
    const upstream = r.pool.upstream.name;
    const error = this.error;
    const status = this.status;
    r.tap.emit('exchange', { route: r.route, upstream, status, durationMs: totalMs, ...(error ? { error } : {}) });
    if (r.observer) {
      const kept = this.#kept;
      const exchange: Exchange = {
        role: 'primary',
        upstream,
        ...(status && !error ? { status } : {}),
        ...(this.#respHeaders ? { headers: this.#respHeaders } : {}),
        ...(kept ? { body: kept.length === 1 ? kept[0]! : Buffer.concat(kept) } : {}),
        bodyBytes: this.#bodyBytes,
        truncated: this.#bodyBytes > r.cap,
        timings: { startMs: 0, ...(this.#headersMs !== undefined ? { headersMs: this.#headersMs } : {}), totalMs },
        ...(error ? { error } : {}),
      };
      r.observer.primaryDone(exchange);
    }
  }
}
