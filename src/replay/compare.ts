// Replay's compare: each replayed answer is the candidate of a trial whose primary is the recorded answer (and
// whose secondary, when the capture has one, is the recorded secondary's answer: the noise). The trials go
// through compare's own CompareProcessor (endpoint names, comparePair, aggregation, redacted examples), so a
// replay is judged by exactly the rules live mirroring is; the batches it flushes go to a Store and the verdict
// is computed from there. Synchronous and bounded: one trial at a time, as answers arrive.
import type { HarEntry, HarResponse } from '../capture/har.ts';
import { decodeBody } from '../compare/decode.ts';
import { CompareProcessor, type ExchangeMessage, type ProcessorSettings, type RouteCompareSettings } from '../compare/processor.ts';
import type { CompareBatch } from '../compare/types.ts';
import type { ReplayRequest } from './request.ts';
import type { SendResult } from './send.ts';
import { startedAt } from './source.ts';

/** A route's compare rules without its name (config's ResolvedCompare minus what the verdict reads). */
export type RouteRules = Omit<RouteCompareSettings, 'route'>;

export interface ReplayCompareOptions {
  /** rules of routes named in the config (-c); other routes get `defaults` */
  readonly routes: ReadonlyMap<string, RouteRules>;
  readonly defaults: RouteRules;
  /** --ignore paths, added to every route's ignore list */
  readonly ignore: readonly string[];
  readonly global: Omit<ProcessorSettings, 'routes'>;
  /** the candidate's name in the report: the upstream name or the target URL */
  readonly target: string;
  readonly now: () => number;
  readonly random: () => number;
}

/** Route names held at most; entries of further routes are compared under OTHER_ROUTE with default rules. */
export const MAX_ROUTES = 1000;
export const OTHER_ROUTE = 'other';
/** The route name of entries that carry none (imported from a browser HAR or GoReplay). */
export const DEFAULT_ROUTE = 'replay';
/** The primary's name when the capture does not say. */
export const RECORDED = 'recorded';

export class ReplayComparer {
  readonly #opts: ReplayCompareOptions;
  readonly #known = new Map<string, RouteCompareSettings>();
  readonly #processor: CompareProcessor;
  #trials = 0;

  constructor(opts: ReplayCompareOptions) {
    this.#opts = opts;
    this.#processor = new CompareProcessor(this.#settings(), { now: opts.now, random: opts.random });
  }

  #settings(): ProcessorSettings {
    return { ...this.#opts.global, routes: [...this.#known.values()] };
  }

  #route(name: string): string {
    if (this.#known.has(name)) return name;
    const route = this.#known.size < MAX_ROUTES ? name : OTHER_ROUTE;
    if (this.#known.has(route)) return route;
    const rules = this.#opts.routes.get(route) ?? this.#opts.defaults;
    this.#known.set(route, { ...rules, route, ignore: [...rules.ignore, ...this.#opts.ignore] });
    // endpoint namers of the routes already known keep what they learnt
    this.#processor.apply(this.#settings());
    return route;
  }

  /** Compares one replayed answer against the recorded one. */
  add(entry: HarEntry, request: ReplayRequest, result: SendResult): void {
    this.#trials++;
    const t = entry._tapwire;
    const route = this.#route(t?.route ?? DEFAULT_ROUTE);
    const recorded = entry.response;
    const primary = recordedExchange('primary', t?.primary ?? RECORDED, recorded, entry.time, t?.error !== undefined);
    const others: ExchangeMessage[] = [replayedExchange(this.#opts.target, result, recorded, this.#opts.global.limits)];
    for (const copy of t?.mirrors ?? []) {
      if (copy.role !== 'secondary' || copy.response === undefined) continue;
      others.push(recordedExchange('secondary', copy.upstream, copy.response, copy.time ?? 0, false));
    }
    this.#processor.process({
      id: t?.id ?? `replay-${this.#trials}`,
      route,
      at: startedAt(entry),
      method: request.method,
      path: request.path,
      headers: request.headers,
      ...(request.body ? { body: request.body } : {}),
      primary,
      others,
    });
  }

  /** Everything compared since the last flush, for a Store. */
  flush(): CompareBatch | undefined {
    return this.#processor.flush();
  }

  get trials(): number {
    return this.#trials;
  }
}

// HAR keeps `content.text` decoded (tapwire's capture and browsers alike) while the headers still say how it was
// encoded on the wire. Both sides are therefore compared decoded and without Content-Encoding: the replayed body is
// decoded here, and the coding itself (negotiated from the recorded Accept-Encoding) is not compared.

function withoutEncoding(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'content-encoding') out.push(headers[i]!, headers[i + 1]!);
  return out;
}

function headerValue(headers: readonly string[], lower: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.toLowerCase() === lower) return headers[i + 1];
  return undefined;
}

/** The recorded body as kept: undefined when the capture withheld it (JSON it could not redact). */
function recordedBody(r: HarResponse): Buffer | undefined {
  if (r.content._withheld !== undefined) return undefined;
  const text = r.content.text;
  return text === undefined ? undefined : Buffer.from(text, r.content.encoding === 'base64' ? 'base64' : 'utf8');
}

function recordedExchange(role: 'primary' | 'secondary', upstream: string, r: HarResponse, time: number, failed: boolean): ExchangeMessage {
  const noAnswer = failed || r.status <= 0;
  const totalMs = Number.isFinite(time) && time >= 0 ? time : 0;
  if (noAnswer) return { role, upstream, bodyBytes: 0, truncated: false, totalMs, failed: true };
  const headers: string[] = [];
  for (const h of r.headers) if (h.name.toLowerCase() !== 'content-encoding') headers.push(h.name, h.value);
  const body = recordedBody(r);
  // a cut or withheld body is compared on what was kept (see replayedExchange)
  const cut = r.content._truncated === true || r.content._withheld !== undefined;
  return { role, upstream, status: r.status, headers, ...(body ? { body } : {}), bodyBytes: body?.length ?? 0, truncated: cut, totalMs, failed: false };
}

function replayedExchange(target: string, r: SendResult, recorded: HarResponse, limits: ProcessorSettings['limits']): ExchangeMessage {
  if (r.status === undefined) return { role: 'mirror', upstream: target, bodyBytes: r.bodyBytes, truncated: false, totalMs: r.totalMs, failed: true };
  const raw = r.headers ?? [];
  let body = r.body ?? Buffer.alloc(0);
  let truncated = r.truncated;
  const coding = headerValue(raw, 'content-encoding');
  if (coding !== undefined && body.length > 0) {
    const d = truncated ? undefined : decodeBody(body, coding, limits);
    if (d?.ok) body = d.body;
    else truncated = true; // cannot decode: compared by length and hash
  }
  if (recorded.content._withheld !== undefined) {
    body = Buffer.alloc(0);
    truncated = true;
  } else if (recorded.content._truncated === true) {
    // the recording kept a prefix: the replayed body is compared on the same prefix
    const kept = recordedBody(recorded)?.length ?? 0;
    if (body.length > kept) body = body.subarray(0, kept);
    truncated = true;
  }
  return { role: 'mirror', upstream: target, status: r.status, headers: withoutEncoding(raw), body, bodyBytes: body.length, truncated, totalMs: r.totalMs, failed: false };
}
