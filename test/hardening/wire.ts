// A raw-socket client: writes bytes (optionally in timed steps), reads every response off the wire with a small
// HTTP/1.1 response parser, and tells how the connection ended. Bytes are latin1 end to end, never decoded.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WireResponse {
  readonly status: number;
  /** lower-case name → values */
  readonly headers: ReadonlyMap<string, string[]>;
  readonly body: Buffer;
}

export interface WireResult {
  /** final (non-1xx) responses, in order */
  readonly responses: WireResponse[];
  /** 1xx interim responses seen (e.g. 100) */
  readonly interim: number[];
  /** the server closed (FIN or reset) before we gave up */
  readonly closed: boolean;
  /** we gave up waiting (nothing more came, nothing closed) */
  readonly timedOut: boolean;
  /** bytes that did not parse as a response (must be empty: tapwire never writes garbage) */
  readonly garbage: string;
  /** ms from connect to the end */
  readonly ms: number;
  /** ms from connect to the server's close, when it closed */
  readonly closedAtMs?: number;
}

/** A step of a timed send: bytes, or a pause. */
export type Step = Buffer | { readonly pauseMs: number };

export interface ExchangeOptions {
  /** give up after this long (default 3000 ms) */
  readonly timeoutMs?: number;
  /** stop as soon as this many final responses arrived and none asked to close (default 1) */
  readonly responses?: number;
  /** after an error response (>= 400) or Connection: close, wait this long for the close (default 1500 ms) */
  readonly closeWaitMs?: number;
  /** methods of the requests, in order: a HEAD response has no body */
  readonly heads?: readonly boolean[];
  /** connect from this local address (127.x.y.z: each exec of the fuzzer has its own, seen in X-Forwarded-For) */
  readonly localAddress?: string;
  /** instead of counting responses: done once this long passes without a byte after a non-closing answer */
  readonly quietMs?: number;
  /**
   * asked when the quiet time is up: true to keep waiting (up to timeoutMs), for example while an upstream has
   * received more requests than the answers seen so far (an answer on its way on a slow machine, not a lost one)
   */
  readonly stillExpecting?: (responses: readonly WireResponse[]) => boolean;
}

interface Parsed {
  readonly consumed: number;
  readonly status: number;
  readonly headers: Map<string, string[]>;
  readonly body: Buffer;
}

/** Parses one response at the start of `buf`; undefined when incomplete; 'garbage' when it is not a response. */
export function parseResponse(buf: Buffer, head: boolean, eof: boolean): Parsed | 'garbage' | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length >= 12 && !/^HTTP\/1\.[01] \d{3}/.test(buf.subarray(0, 12).toString('latin1'))) return 'garbage';
    return eof && buf.length > 0 ? 'garbage' : undefined;
  }
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
  if (!m) return 'garbage';
  const status = Number(m[1]);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'garbage';
    const name = line.slice(0, colon).toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  let pos = end + 4;
  if (head || status < 200 || status === 204 || status === 304) return { consumed: pos, status, headers, body: Buffer.alloc(0) };
  const te = headers.get('transfer-encoding');
  const cl = headers.get('content-length');
  if (te && te.join(',').toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return eof ? 'garbage' : undefined;
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return 'garbage';
      pos = lineEnd + 2;
      if (size === 0) {
        const trailerEnd = buf.indexOf('\r\n', pos);
        if (trailerEnd < 0) return eof ? 'garbage' : undefined;
        return { consumed: trailerEnd + 2, status, headers, body: Buffer.concat(parts) };
      }
      if (buf.length < pos + size + 2) return eof ? 'garbage' : undefined;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
  }
  if (cl) {
    const n = Number(cl[0]);
    if (buf.length < pos + n) return eof ? 'garbage' : undefined;
    return { consumed: pos + n, status, headers, body: buf.subarray(pos, pos + n) };
  }
  // Delimited by the close.
  if (!eof) return undefined;
  return { consumed: buf.length, status, headers, body: buf.subarray(pos) };
}

/** Sends `input` to 127.0.0.1:port and collects what comes back. Never rejects. */
export function exchange(port: number, input: Buffer | readonly Step[], opts: ExchangeOptions = {}): Promise<WireResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const want = opts.responses ?? 1;
  const closeWaitMs = opts.closeWaitMs ?? 1500;
  const started = performance.now();
  return new Promise<WireResult>((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    socket.setNoDelay(true);
    const responses: WireResponse[] = [];
    const interim: number[] = [];
    let buf: Buffer = Buffer.alloc(0);
    let garbage = '';
    let closed = false;
    let closedAtMs: number | undefined;
    let done = false;
    let closeTimer: NodeJS.Timeout | undefined;
    let quietTimer: NodeJS.Timeout | undefined;
    const finish = (timedOut: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      clearTimeout(closeTimer);
      clearTimeout(quietTimer);
      socket.destroy();
      resolve({ responses, interim, closed, timedOut, garbage, ms: performance.now() - started, ...(closedAtMs !== undefined ? { closedAtMs } : {}) });
    };
    const overall = setTimeout(() => finish(true), timeoutMs);
    const drainParsed = (eof: boolean): void => {
      while (buf.length > 0 && !garbage) {
        const p = parseResponse(buf, opts.heads?.[responses.length] === true, eof);
        if (p === undefined) return;
        if (p === 'garbage') {
          garbage = buf.toString('latin1');
          buf = Buffer.alloc(0);
          return;
        }
        buf = buf.subarray(p.consumed);
        if (p.status < 200) {
          interim.push(p.status);
          continue;
        }
        responses.push({ status: p.status, headers: p.headers, body: p.body });
        const closing = p.status >= 400 || (p.headers.get('connection') ?? []).some((v) => /close/i.test(v));
        if (closing) {
          closeTimer ??= setTimeout(() => finish(false), closeWaitMs);
        } else if (opts.quietMs !== undefined) {
          if (!closeTimer) {
            clearTimeout(quietTimer);
            const quiet = opts.quietMs;
            const onQuiet = (): void => {
              if (opts.stillExpecting?.(responses)) quietTimer = setTimeout(onQuiet, quiet);
              else finish(false);
            };
            quietTimer = setTimeout(onQuiet, quiet);
          }
        } else if (responses.length >= want && !closeTimer) {
          // Everything asked for arrived on a connection that stays open: done.
          setImmediate(() => finish(false));
        }
      }
    };
    socket.on('data', (d: Buffer) => {
      clearTimeout(quietTimer);
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      drainParsed(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      closedAtMs = performance.now() - started;
      drainParsed(true);
      finish(false);
    });
    socket.on('connect', () => {
      void (async () => {
        if (Buffer.isBuffer(input)) {
          socket.write(input);
          return;
        }
        for (const step of input) {
          if (done || socket.destroyed) return;
          if (Buffer.isBuffer(step)) socket.write(step);
          else await sleep(step.pauseMs);
        }
      })();
    });
  });
}

/** Runs `fn` over `items` with at most `limit` at a time, results in input order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
