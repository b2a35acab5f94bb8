// The case model of the hardening suite: one case = bytes on one connection + what must come of each request in
// them. Every request carries a marker (`zq<case>x<k>qz`) in its path, so that what reached an upstream can be
// traced to the case and request it came from, on the parsed side and in the raw bytes on the wire.
import type { Seen } from './recorder.ts';
import type { Step } from './wire.ts';

/** The request was forwarded: both upstreams got it whole and identical (apart from the documented differences). */
export interface Ok {
  readonly kind: 'ok';
  readonly marker: string;
  /** the request target the upstreams must receive (default: the one sent) */
  readonly path: string;
  readonly method: string;
  /** the body the upstreams must receive (default: empty) */
  readonly body?: string | Buffer;
  /** extra checks on what the primary and the mirror received; returns a problem or undefined */
  readonly check?: (primary: Seen, mirror: Seen) => string | undefined;
  /** the client sent no Host: each upstream gets its own (the primary's URL host, the mirror's) */
  readonly ownHosts?: boolean;
}

/** The request was refused by tapwire: one of `status`, Connection: close, a closed connection, and nothing of it
 * reached an upstream. `partial`: the refusal can only come mid-body (the body streams), so the primary may have
 * seen the beginning of it, but never a whole request, and the mirror nothing at all. */
export interface Rej {
  readonly kind: 'rej';
  readonly marker: string;
  readonly status: readonly number[];
  readonly partial?: boolean;
}

/** Either outcome is acceptable (the RFC allows both), but each must hold in full. */
export interface Either {
  readonly kind: 'either';
  readonly ok: Ok;
  readonly rej: Rej;
}

export type Outcome = Ok | Rej | Either;

export interface Case {
  readonly cls: string;
  readonly id: number;
  readonly name: string;
  readonly input: Buffer | readonly Step[];
  /** one per response, in order; after a refusal nothing more is expected and the connection must close */
  readonly expect: readonly Outcome[];
  /** markers that must never reach any upstream (smuggled requests, requests after a refusal) */
  readonly forbidden?: readonly string[];
  /** the connection must close after the last answer even though it was not a refusal */
  readonly closes?: boolean;
  readonly timeoutMs?: number;
  /** requests are HEAD (their responses have no body) */
  readonly heads?: readonly boolean[];
}

let nextId = 1;

/** A builder for the requests of one case: markers and paths. */
export class CaseIds {
  readonly id = nextId++;
  marker(k: number): string {
    return `zq${this.id}x${k}qz`;
  }
  path(k: number, suffix = ''): string {
    return `/t/${this.marker(k)}${suffix}`;
  }
}

export const MARKER = /zq(\d+)x(\d+)qz/;

export const CRLF = '\r\n';

export interface RawRequest {
  readonly method?: string;
  readonly target: string;
  readonly version?: string;
  /** header lines as written on the wire (latin1), without line ends */
  readonly lines: readonly string[];
  readonly body?: string | Buffer;
  /** line terminator (default CRLF) */
  readonly eol?: string;
}

/** Serialises a request exactly as given (no validation: the point is to send what node's client never would). */
export function raw(r: RawRequest): Buffer {
  const eol = r.eol ?? CRLF;
  const head = `${r.method ?? 'GET'} ${r.target} ${r.version ?? 'HTTP/1.1'}${eol}${r.lines.map((l) => l + eol).join('')}${eol}`;
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'latin1');
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export const ok = (c: CaseIds, k: number, o: Partial<Omit<Ok, 'kind' | 'marker'>> = {}): Ok => ({
  kind: 'ok',
  marker: c.marker(k),
  path: o.path ?? c.path(k),
  method: o.method ?? 'GET',
  ...(o.body !== undefined ? { body: o.body } : {}),
  ...(o.check ? { check: o.check } : {}),
  ...(o.ownHosts ? { ownHosts: true } : {}),
});

export const rej = (c: CaseIds, k: number, status: number | readonly number[] = 400, partial = false): Rej => ({
  kind: 'rej',
  marker: c.marker(k),
  status: typeof status === 'number' ? [status] : status,
  ...(partial ? { partial } : {}),
});

export const either = (okOutcome: Ok, rejOutcome: Rej): Either => ({ kind: 'either', ok: okOutcome, rej: rejOutcome });

/** Escapes bytes for case names: printable ASCII as is, the rest as \xHH. */
export function show(s: string): string {
  return s.replace(/[^\x21-\x7e ]/g, (ch) => {
    const c = ch.charCodeAt(0);
    if (c === 0x0d) return '\\r';
    if (c === 0x0a) return '\\n';
    if (c === 0x09) return '\\t';
    return `\\x${c.toString(16).padStart(2, '0')}`;
  });
}
