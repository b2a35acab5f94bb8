// Test clients: an HTTP request that returns everything the client saw, a raw-socket exchange for bytes node's
// client would refuse to send, and a bounded wait.
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Reply {
  readonly status: number;
  readonly statusMessage: string;
  readonly rawHeaders: string[];
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** ms from sending the request to the end of the response */
  readonly ms: number;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path?: string;
  /** flat [name, value, ...] list, sent as given (order and case) */
  readonly headers?: readonly string[];
  readonly body?: string | Buffer | readonly (string | Buffer)[];
  readonly agent?: http.Agent | false;
  readonly timeoutMs?: number;
  /** wait for 100 Continue before sending the body (the request must carry Expect: 100-continue) */
  readonly expectContinue?: boolean;
}

/** One request to 127.0.0.1:port; the body, when an array, is written chunk by chunk (chunked unless CL given). */
export function request(port: number, opts: RequestOptions = {}): Promise<Reply> {
  const started = performance.now();
  return new Promise<Reply>((resolve, reject) => {
    // node adds no Host to a header list given as an array: add one unless the test sent its own.
    const headers = opts.headers ? [...opts.headers] : [];
    const has = (name: string): boolean => headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === name);
    if (!has('host')) headers.unshift('Host', `127.0.0.1:${port}`);
    // Nor a Content-Length: a whole body (string or Buffer) gets one, a list of chunks goes chunked.
    const whole = typeof opts.body === 'string' || Buffer.isBuffer(opts.body);
    if (whole && !has('content-length') && !has('transfer-encoding')) headers.push('Content-Length', String(Buffer.byteLength(opts.body)));
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: opts.method ?? 'GET',
      path: opts.path ?? '/',
      headers,
      agent: opts.agent ?? false,
      timeout: opts.timeoutMs ?? 10_000,
    } as http.RequestOptions);
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          rawHeaders: res.rawHeaders,
          headers: res.headers,
          body: Buffer.concat(chunks),
          ms: performance.now() - started,
        }),
      );
    });
    const writeBody = (): void => {
      const b = opts.body;
      if (b === undefined) req.end();
      else if (typeof b === 'string' || Buffer.isBuffer(b)) req.end(b);
      else {
        for (const c of b) req.write(c);
        req.end();
      }
    };
    if (opts.expectContinue) {
      req.on('continue', writeBody);
      req.flushHeaders();
    } else writeBody();
  });
}

/** The JSON error body tapwire answers with. */
export function errorCode(reply: Reply): string | undefined {
  try {
    const parsed = JSON.parse(reply.body.toString('utf8')) as { error?: { code?: string } };
    return parsed.error?.code;
  } catch {
    return undefined;
  }
}

export interface RawReply {
  /** everything received until the server closed or the wait ended */
  readonly text: string;
  /** the status code of the first response, or 0 */
  readonly status: number;
  /** the server closed the connection */
  readonly closed: boolean;
}

/** Writes raw bytes and collects the answer until the server closes, or `waitMs` after the first response. */
export function rawExchange(port: number, data: string | Buffer, waitMs = 1500): Promise<RawReply> {
  return new Promise<RawReply>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : 0, closed });
    };
    const timer = setTimeout(end, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      end();
    });
    socket.on('connect', () => socket.write(data));
  });
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, intervalMs = 10): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() >= until) return false;
    await sleep(intervalMs);
  }
}

/** Hop-by-hop response headers a proxy legitimately re-frames (RFC 9110 §7.6.1). */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'te', 'trailer', 'upgrade']);

/** Raw headers minus hop-by-hop ones, as [name, value] pairs in order, names as sent. */
export function endToEnd(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/** All values of a header in a raw list (case-insensitive). */
export function headerValues(raw: readonly string[], name: string): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) out.push(raw[i + 1]!);
  return out;
}
