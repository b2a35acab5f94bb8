// Mirroring: decides, for each matched request and each mirror, whether a copy goes out (sampling, methods,
// body cap, in-flight and byte budgets), sends it on the mirror's own pool as soon as the request body is
// complete, and records exactly one outcome per copy. Nothing here can delay the client's response.
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { ResolvedConfig, ResolvedMirror, ResolvedRoute } from '../config/types.ts';
import type { Tap } from '../core/events.ts';
import type { Exchange } from '../core/exchange.ts';
import type { ProxyHooks, RequestInfo, RequestObserver } from '../core/hooks.ts';
import type { Outcome } from '../core/outcomes.ts';
import { copyHeaders } from './copy.ts';
import { MirrorPool } from './pools.ts';
import { cookieValue, sampleKey, shouldSample } from './sample.ts';
import { sendCopy, type ActiveCopy } from './send.ts';

interface MirrorCounters {
  inFlight: number;
}

export interface MirroringOptions {
  readonly tap: Tap;
  readonly random?: () => number;
  /**
   * Whether this request of the route becomes a trial (bodies kept, a `trial` event, a secondary copy). Asked
   * once per request, before any copy goes out; compare uses it to stay within its budget. Default: a trial
   * whenever someone listens to `trial`.
   */
  readonly wantsTrial?: (route: string) => boolean;
  /**
   * For a captured route: asked once per request whose copies go out; a function back means capture follows this
   * request and gets the copies' exchanges (bodies kept) once every copy is over.
   */
  readonly joinCapture?: (info: RequestInfo) => ((mirrors: readonly Exchange[]) => void) | undefined;
}

/** One copy being prepared or in flight. */
interface Copy {
  readonly mirror: ResolvedMirror;
  readonly counters: MirrorCounters;
  /** true once the copy counted as in flight (a copyStart was emitted) */
  done: boolean;
  exchange?: Exchange;
}

const WRITE_SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Mirroring implements ProxyHooks {
  readonly #tap: Tap;
  readonly #random: () => number;
  readonly #wantsTrial: ((route: string) => boolean) | undefined;
  readonly #joinCapture: MirroringOptions['joinCapture'];
  #config!: ResolvedConfig;
  #routes = new Map<string, ResolvedRoute>();
  #pools = new Map<string, { key: string; pool: MirrorPool }>();
  readonly #counters = new Map<string, MirrorCounters>();
  readonly #active = new Set<ActiveCopy>();
  /** request-body bytes currently held for copies, across all requests */
  #buffered = 0;
  #closed = false;

  constructor(config: ResolvedConfig, opts: MirroringOptions) {
    this.#tap = opts.tap;
    this.#random = opts.random ?? Math.random;
    this.#wantsTrial = opts.wantsTrial;
    this.#joinCapture = opts.joinCapture;
    this.apply(config);
  }

  /** Swap in a new config: pools whose upstream did not change keep their warm connections. */
  apply(config: ResolvedConfig): void {
    const next = new Map<string, { key: string; pool: MirrorPool }>();
    const used = new Set<string>();
    for (const r of config.routes) for (const m of r.mirrors) used.add(m.upstream);
    for (const name of used) {
      const u = config.upstreams.get(name)!;
      const key = MirrorPool.key(u, config.mirroring.connectTimeoutMs);
      const old = this.#pools.get(name);
      next.set(name, old && old.key === key ? old : { key, pool: new MirrorPool(u, config.mirroring.connectTimeoutMs) });
    }
    const retired = [...this.#pools.entries()].filter(([name, p]) => next.get(name) !== p).map(([, p]) => p.pool);
    this.#pools = next;
    this.#config = config;
    this.#routes = new Map(config.routes.map((r) => [r.name, r]));
    // Copies already in flight on a retired pool finish within their timeout; close the pool after that.
    if (retired.length) {
      const wait = Math.max(...config.routes.flatMap((r) => r.mirrors.map((m) => m.timeoutMs)), 5_000) + 1_000;
      setTimeout(() => void Promise.all(retired.map((p) => p.close())), wait).unref();
    }
  }

  #countersFor(route: string, mirror: string): MirrorCounters {
    const key = `${route}\u0000${mirror}`;
    let c = this.#counters.get(key);
    if (!c) this.#counters.set(key, (c = { inFlight: 0 }));
    return c;
  }

  get inFlight(): number {
    let n = 0;
    for (const c of this.#counters.values()) n += c.inFlight;
    return n;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  #end(route: string, copy: Copy, outcome: Outcome, started: boolean, durationMs?: number, status?: number): void {
    if (started) copy.counters.inFlight--;
    copy.done = true;
    this.#tap.emit('copyEnd', {
      route,
      mirror: copy.mirror.name,
      outcome,
      started,
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(status !== undefined ? { status } : {}),
    });
  }

  observe(info: RequestInfo): RequestObserver | undefined {
    const route = this.#routes.get(info.route);
    if (!route || route.mirrors.length === 0) return undefined;
    const tap = this.#tap;
    const method = info.method;
    const headerOf = (name: string): string | undefined => {
      for (let i = 0; i < info.headers.length; i += 2) if (info.headers[i]!.toLowerCase() === name) return info.headers[i + 1];
      return undefined;
    };
    let query: URLSearchParams | undefined;
    const sampleInput = {
      header: headerOf,
      cookie: (n: string) => cookieValue(headerOf('cookie'), n),
      query: (n: string) => {
        query ??= new URLSearchParams(info.path.includes('?') ? info.path.slice(info.path.indexOf('?') + 1) : '');
        return query.get(n) ?? undefined;
      },
      source: info.source,
    };

    const copies: Copy[] = [];
    // Asked lazily: only a request with a copy going out can become a trial.
    let trial: boolean | undefined;
    const wantsTrial = (): boolean => (trial ??= this.#tap.has('trial') && (this.#wantsTrial?.(route.name) ?? true));
    for (const mirror of route.mirrors) {
      const counters = this.#countersFor(route.name, mirror.name);
      const copy: Copy = { mirror, counters, done: false };
      const upstream = this.#config.upstreams.get(mirror.upstream)!;
      if (this.#closed) {
        this.#end(route.name, copy, 'shutdown', false);
      } else if (mirror.role === 'secondary' && (copies.length === 0 || !wantsTrial())) {
        // The secondary learns noise on the requests the candidates saw, and only for trials compare takes:
        // otherwise its answer would be read for nothing.
        this.#end(route.name, copy, 'sampled_out', false);
      } else if (!mirror.methods.includes(method) || (!WRITE_SAFE.has(method) && !upstream.sandboxed)) {
        this.#end(route.name, copy, 'method_filtered', false);
      } else if (!shouldSample(mirror.percentage, sampleKey(mirror.sampleBy, sampleInput), this.#random)) {
        this.#end(route.name, copy, 'sampled_out', false);
      } else if (info.contentLength > mirror.maxBodyBytes) {
        this.#end(route.name, copy, 'body_too_large', false);
      } else if (counters.inFlight >= mirror.maxInFlight) {
        this.#end(route.name, copy, 'overloaded', false);
      } else {
        counters.inFlight++;
        tap.emit('copyStart', { route: route.name, mirror: mirror.name });
        copies.push(copy);
      }
    }
    if (copies.length === 0) return undefined;
    const join = route.capture && this.#joinCapture ? this.#joinCapture(info) : undefined;
    return this.#follow(route, info, copies, wantsTrial(), join);
  }

  #follow(route: ResolvedRoute, info: RequestInfo, copies: Copy[], wantsTrial: boolean, join?: (mirrors: readonly Exchange[]) => void): RequestObserver {
    const maxBuffered = this.#config.mirroring.maxBufferedBytes;
    let chunks: Buffer[] | undefined;
    let bytes = 0;
    let held = 0; // bytes charged to the global budget by this request
    let waiting = copies.length; // copies still buffering the body
    let primary: Exchange | undefined;
    let pending = copies.length; // copies whose exchange is not over
    let body: Buffer | undefined;
    const release = (): void => {
      this.#buffered -= held;
      held = 0;
      chunks = undefined;
    };
    const emitTrial = (): void => {
      if (!wantsTrial || !primary || pending > 0) return;
      this.#tap.emit('trial', {
        id: randomUUID(),
        route: route.name,
        at: info.at,
        request: { method: info.method, path: info.path, headers: info.headers, ...(body ? { body } : {}), bodyBytes: bytes },
        primary,
        mirrors: copies.flatMap((c) => (c.exchange ? [c.exchange] : [])),
      });
    };
    const settled = (): void => {
      pending--;
      if (pending === 0) join?.(copies.flatMap((c) => (c.exchange ? [c.exchange] : [])));
      emitTrial();
    };
    const dropAll = (outcome: Outcome): void => {
      for (const c of copies) {
        if (c.done) continue;
        this.#end(route.name, c, outcome, true);
        settled();
      }
      waiting = 0;
      release();
    };

    return {
      wantsPrimaryBody: wantsTrial,
      data: (chunk) => {
        if (waiting === 0) return;
        bytes += chunk.length;
        for (const c of copies) {
          if (!c.done && bytes > c.mirror.maxBodyBytes) {
            this.#end(route.name, c, 'body_too_large', true);
            waiting--;
            settled();
          }
        }
        if (waiting === 0) return release();
        if (this.#buffered + chunk.length > maxBuffered) return dropAll('overloaded');
        this.#buffered += chunk.length;
        held += chunk.length;
        (chunks ??= []).push(chunk);
      },
      end: () => {
        if (waiting === 0) return;
        waiting = 0;
        body = chunks ? (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)) : undefined;
        const sendBody = body;
        for (const c of copies) {
          if (c.done) continue;
          this.#send(route, info, c, sendBody, wantsTrial || join !== undefined, settled);
        }
        release();
      },
      abort: () => {
        if (waiting > 0) dropAll('client_aborted');
      },
      primaryDone: (exchange) => {
        primary = exchange;
        emitTrial();
      },
    };
  }

  #send(route: ResolvedRoute, info: RequestInfo, copy: Copy, body: Buffer | undefined, keep: boolean, settled: () => void): void {
    const { mirror } = copy;
    const entry = this.#pools.get(mirror.upstream);
    if (!entry) {
      this.#end(route.name, copy, 'shutdown', true);
      return settled();
    }
    const now = performance.now();
    if (entry.pool.breakerOpen(now)) {
      copy.exchange = { role: mirror.role === 'secondary' ? 'secondary' : 'mirror', upstream: mirror.upstream, bodyBytes: 0, truncated: false, timings: { startMs: now - info.t0, totalMs: 0 }, outcome: 'connect_error', error: 'connect_error' };
      this.#end(route.name, copy, 'connect_error', true, 0);
      return settled();
    }
    const { pool, host } = entry.pool.pick();
    const startMs = now - info.t0;
    const request = {
      method: info.method,
      path: info.path,
      headers: copyHeaders(info.headers, mirror, info.host, host),
      timeoutMs: mirror.timeoutMs,
      cap: this.#config.mirroring.maxResponseBytes,
      keep,
      ...(body ? { body } : {}),
    };
    const breaker = entry.pool;
    sendCopy(pool, request, this.#active, (r) => {
      const delivered = r.outcome === 'delivered';
      if (r.outcome === 'connect_error') breaker.connected(false, performance.now());
      else if (r.headersMs !== undefined) breaker.connected(true, 0);
      copy.exchange = {
        role: mirror.role === 'secondary' ? 'secondary' : 'mirror',
        upstream: mirror.upstream,
        ...(r.status !== undefined ? { status: r.status } : {}),
        ...(r.headers ? { headers: r.headers } : {}),
        ...(r.body ? { body: r.body } : {}),
        bodyBytes: r.bodyBytes,
        truncated: r.truncated,
        timings: { startMs, ...(r.headersMs !== undefined ? { headersMs: r.headersMs } : {}), totalMs: r.totalMs },
        outcome: r.outcome,
        ...(delivered ? {} : { error: r.outcome }),
      };
      this.#end(route.name, copy, r.outcome, true, r.totalMs, delivered ? r.status : undefined);
      settled();
    });
  }

  /**
   * Stop mirroring: new copies become `shutdown`; copies in flight get until the deadline, then are
   * aborted and counted as `shutdown`.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.#closed = true;
    const until = performance.now() + deadlineMs;
    while (this.#active.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    for (const c of [...this.#active]) c.cancel('shutdown');
    while (this.inFlight > 0 && performance.now() < until + 1000) await new Promise((r) => setTimeout(r, 10));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((p) => p.pool.close()));
  }
}
