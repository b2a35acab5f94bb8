// Sends one copy on a mirror pool and reads its answer up to a cap. Uses undici's dispatch handler
// directly: no Readable body stream, no promise, no AbortController per copy, because this runs for
// every mirrored request and its cost is what a mirror adds to tapwire's CPU per request.
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { Outcome } from '../core/outcomes.ts';
import { classify } from './classify.ts';
import { deadlines, type Deadline } from '../core/deadlines.ts';

export interface CopyRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly body?: Buffer;
  readonly timeoutMs: number;
  /** response bytes to read at most */
  readonly cap: number;
  /** keep headers and body for the trial */
  readonly keep: boolean;
}

export interface CopyResult {
  readonly outcome: Outcome;
  readonly status?: number;
  readonly headers?: string[];
  readonly body?: Buffer;
  readonly bodyBytes: number;
  readonly truncated: boolean;
  readonly headersMs?: number;
  readonly totalMs: number;
}

/** A copy in flight, as the dispatcher's drain sees it. */
export interface ActiveCopy {
  cancel(outcome: Outcome): void;
}

class CopyHandler implements Dispatcher.DispatchHandler, ActiveCopy {
  readonly #req: CopyRequest;
  readonly #done: (r: CopyResult) => void;
  readonly #active: Set<ActiveCopy>;
  readonly #started = performance.now();
  #abort: ((err?: Error) => void) | undefined;
  #deadline: Deadline;
  #why: Outcome | undefined;
  #finished = false;
  #status: number | undefined;
  #headers: string[] | undefined;
  #headersMs: number | undefined;
  #chunks: Buffer[] | undefined;
  #bytes = 0;
  #truncated = false;

  constructor(req: CopyRequest, active: Set<ActiveCopy>, done: (r: CopyResult) => void) {
    this.#req = req;
    this.#done = done;
    this.#active = active;
    active.add(this);
    this.#deadline = deadlines.add(req.timeoutMs, () => this.cancel('timeout'));
  }

  cancel(outcome: Outcome): void {
    if (this.#finished) return;
    this.#why = outcome;
    if (this.#abort) this.#abort(new Error(outcome));
    else this.onError(new Error(outcome));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#why) abort(new Error(this.#why));
  }

  onHeaders(statusCode: number, headers: Buffer[]): boolean {
    this.#status = statusCode;
    this.#headersMs = performance.now() - this.#started;
    if (this.#req.keep) {
      this.#chunks = [];
      this.#headers = headers.map((h) => h.toString('latin1'));
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    const cap = this.#req.cap;
    if (this.#chunks && this.#bytes < cap) this.#chunks.push(this.#bytes + chunk.length <= cap ? chunk : chunk.subarray(0, cap - this.#bytes));
    this.#bytes += chunk.length;
    if (this.#bytes > cap) {
      // An endless or huge answer is cut at the cap (Envoy CVE-2024-34364 was an unbounded mirror buffer).
      this.#truncated = true;
      this.#finish('delivered');
      this.#abort?.(new Error('response cap reached'));
      return false;
    }
    return true;
  }

  onComplete(): void {
    this.#finish('delivered');
  }

  onError(err: Error): void {
    this.#finish(this.#why ?? classify(err));
  }

  #finish(outcome: Outcome): void {
    if (this.#finished) return;
    this.#finished = true;
    deadlines.delete(this.#deadline);
    this.#active.delete(this);
    const delivered = outcome === 'delivered';
    this.#done({
      outcome,
      ...(delivered && this.#status !== undefined ? { status: this.#status } : {}),
      ...(this.#headers ? { headers: this.#headers } : {}),
      ...(this.#chunks ? { body: this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks) } : {}),
      bodyBytes: this.#bytes,
      truncated: this.#truncated,
      ...(this.#headersMs !== undefined ? { headersMs: this.#headersMs } : {}),
      totalMs: performance.now() - this.#started,
    });
  }
}

export function sendCopy(dispatcher: Dispatcher, req: CopyRequest, active: Set<ActiveCopy>, done: (r: CopyResult) => void): void {
  const handler = new CopyHandler(req, active, done);
  try {
    dispatcher.dispatch(
      {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body ?? null,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      },
      handler,
    );
  } catch (err) {
    handler.onError(err as Error);
  }
}
