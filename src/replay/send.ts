// Sends one replayed request on the target's undici pool and reads the answer up to a cap. A dispatch handler,
// not request(): no stream or promise per request, so one replay process can keep up with what wrk sends
// against the same target. The whole exchange has one deadline (core/deadlines: a sweep, not a timer each).
import { performance } from 'node:perf_hooks';
import { BalancedPool, Pool, type Dispatcher } from 'undici';
import { deadlines, type Deadline } from '../core/deadlines.ts';
import { CONNECT_FAILURES, errorCodes, isTlsFailure } from '../core/errors.ts';
import type { ReplayRequest } from './request.ts';

/** How a replayed request ended when it got no complete answer. */
export type FailureKind = 'timeout' | 'connect_error' | 'reset' | 'tls_error';
export const FAILURE_KINDS: readonly FailureKind[] = ['timeout', 'connect_error', 'reset', 'tls_error'];

export interface SendResult {
  /** absent when the request failed */
  readonly status?: number;
  readonly failure?: FailureKind;
  /** flat [name, value, …] (only when kept) */
  readonly headers?: string[];
  /** up to the cap (only when kept) */
  readonly body?: Buffer;
  readonly bodyBytes: number;
  readonly truncated: boolean;
  /** ms from dispatch to the last body byte (or the failure) */
  readonly totalMs: number;
}

export interface SendOptions {
  readonly timeoutMs: number;
  /** keep headers and body (for --compare) */
  readonly keep: boolean;
  /** response body bytes kept at most; the rest is read and counted */
  readonly cap: number;
}

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function classifyFailure(err: unknown): FailureKind {
  const codes = errorCodes(err);
  if (codes.some((c) => TIMEOUTS.has(c))) return 'timeout';
  if (codes.some((c) => CONNECT_FAILURES.has(c))) return 'connect_error';
  if (isTlsFailure(codes, err)) return 'tls_error';
  return 'reset';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

class ReplayHandler implements Dispatcher.DispatchHandler {
  readonly #opts: SendOptions;
  readonly #done: (r: SendResult) => void;
  readonly #started = performance.now();
  readonly #deadline: Deadline;
  #abort: ((err?: Error) => void) | undefined;
  #timedOut = false;
  #finished = false;
  #status: number | undefined;
  #headers: string[] | undefined;
  #chunks: Buffer[] | undefined;
  #kept = 0;
  #bytes = 0;

  constructor(opts: SendOptions, done: (r: SendResult) => void) {
    this.#opts = opts;
    this.#done = done;
    this.#deadline = deadlines.add(opts.timeoutMs, () => {
      this.#timedOut = true;
      if (this.#abort) this.#abort(new Error('timeout'));
      else this.onError(new Error('timeout'));
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#timedOut) abort(new Error('timeout'));
  }

  onHeaders(statusCode: number, headers: Buffer[]): boolean {
    this.#status = statusCode;
    if (this.#opts.keep) {
      this.#headers = headers.map((h) => h.toString('latin1'));
      this.#chunks = [];
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#chunks && this.#kept < this.#opts.cap) {
      const room = this.#opts.cap - this.#kept;
      const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.#chunks.push(piece);
      this.#kept += piece.length;
    }
    return true;
  }

  onComplete(): void {
    this.#finish(undefined);
  }

  onError(err: Error): void {
    this.#finish(this.#timedOut ? 'timeout' : classifyFailure(err));
  }

  #finish(failure: FailureKind | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    deadlines.delete(this.#deadline);
    // Built field by field (no spreads): this runs once per replayed request.
    const r: Mutable<SendResult> = { bodyBytes: this.#bytes, truncated: this.#bytes > this.#kept && this.#chunks !== undefined, totalMs: performance.now() - this.#started };
    if (failure === undefined && this.#status !== undefined) {
      r.status = this.#status;
      if (this.#headers) r.headers = this.#headers;
      if (this.#chunks) r.body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    } else {
      r.failure = failure ?? 'reset';
    }
    this.#done(r);
  }
}

export function send(dispatcher: Dispatcher, req: ReplayRequest, opts: SendOptions, done: (r: SendResult) => void): void {
  const handler = new ReplayHandler(opts, done);
  try {
    dispatcher.dispatch(
      { method: req.method, path: req.path, headers: req.headers, body: req.body ?? null, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs },
      handler,
    );
  } catch (err) {
    handler.onError(err as Error);
  }
}

export interface TargetOptions {
  /** connections per target URL: the replay's concurrency */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly ca?: string;
  readonly servername?: string;
}

/** A keep-alive pool over the target's URLs (round-robin across several). */
export function targetPool(urls: readonly URL[], opts: TargetOptions): Dispatcher {
  const poolOpts: Pool.Options = {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 10_000,
    connect: {
      timeout: opts.connectTimeoutMs,
      rejectUnauthorized: true,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
    },
  };
  if (urls.length === 1) return new Pool(urls[0]!.origin, poolOpts);
  return new BalancedPool(
    urls.map((u) => u.origin),
    poolOpts,
  );
}
