// The reference request of collector mode: the copy a mesh sent, replayed to the route's primary (the version the
// real client was answered by) so the candidates have something to be compared with. Same machinery as a mirror
// copy (its own undici pools with a connect breaker, a deadline, a response cap, one outcome per request), with its
// own bounds: methods (writes only when listed and the primary is sandboxed), body cap, in flight.
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig, ResolvedMirror, ResolvedRoute } from '../config/types.ts';
import type { Exchange } from '../core/exchange.ts';
import type { RequestInfo } from '../core/hooks.ts';
import type { Outcome } from '../core/outcomes.ts';
import { copyHeaders } from '../mirror/copy.ts';
import { MirrorPool } from '../mirror/pools.ts';
import { sendCopy, type ActiveCopy } from '../mirror/send.ts';

/** A reference waits no longer than this by default: past it, it only holds a body and a socket. */
const REFERENCE_TIMEOUT_CAP_MS = 5000;

const WRITE_SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Told how every reference ended (metrics). Exactly one call per accepted copy. */
export type ReferenceSink = (route: string, outcome: Outcome) => void;

/** One reference in flight (counted from the moment it was admitted until its outcome). */
export interface Reference {
  /** the request body is complete: send it (with the body, if any) */
  send(info: RequestInfo, body: Buffer | undefined, done: (exchange: Exchange) => void): void;
  /** it will never be sent (the body grew past a cap, the mesh went away) */
  drop(outcome: Outcome): void;
  readonly maxBodyBytes: number;
}

export class References {
  #config!: ResolvedConfig;
  #pools = new Map<string, { key: string; pool: MirrorPool }>();
  /** the header policy of each route's reference: the Host as the mesh meant it, no header rules */
  #policies = new Map<string, ResolvedMirror>();
  readonly #inFlight = new Map<string, number>();
  readonly #active = new Set<ActiveCopy>();
  readonly #sink: ReferenceSink;
  #closed = false;

  constructor(config: ResolvedConfig, sink: ReferenceSink) {
    this.#sink = sink;
    this.apply(config);
  }

  /** Swap in a new config: pools whose upstream did not change keep their warm connections. */
  apply(config: ResolvedConfig): void {
    const next = new Map<string, { key: string; pool: MirrorPool }>();
    for (const name of new Set(config.routes.map((r) => r.primary))) {
      const u = config.upstreams.get(name)!;
      const key = MirrorPool.key(u, config.mirroring.connectTimeoutMs);
      const old = this.#pools.get(name);
      next.set(name, old && old.key === key ? old : { key, pool: new MirrorPool(u, config.mirroring.connectTimeoutMs) });
    }
    const retired = [...this.#pools.values()].filter((p) => ![...next.values()].includes(p)).map((p) => p.pool);
    this.#pools = next;
    this.#config = config;
    this.#policies = new Map(config.routes.map((r) => [r.name, policyOf(r, config)]));
    if (retired.length) {
      const wait = Math.max(...[...this.#policies.values()].map((p) => p.timeoutMs), REFERENCE_TIMEOUT_CAP_MS) + 1000;
      setTimeout(() => void Promise.all(retired.map((p) => p.close())), wait).unref();
    }
  }

  inFlight(route: string): number {
    return this.#inFlight.get(route) ?? 0;
  }

  get totalInFlight(): number {
    let n = 0;
    for (const v of this.#inFlight.values()) n += v;
    return n;
  }

  /**
   * Why no reference may go out for this request, or undefined when one may. Writes reach the reference only when
   * collector.reference.methods lists them and its upstream is sandboxed (checked again here: whatever hands the
   * data plane a config, production never gets a write by default).
   */
  refusal(route: ResolvedRoute, method: string, contentLength: number): Outcome | undefined {
    const policy = this.#policies.get(route.name);
    const upstream = this.#config.upstreams.get(route.primary);
    if (this.#closed || !policy || !upstream) return 'shutdown';
    if (!policy.methods.includes(method) || (!WRITE_SAFE.has(method) && !upstream.sandboxed)) return 'method_filtered';
    if (contentLength > policy.maxBodyBytes) return 'body_too_large';
    if (this.inFlight(route.name) >= policy.maxInFlight) return 'overloaded';
    return undefined;
  }

  /** No reference for this copy: counted with its reason. */
  skip(route: string, outcome: Outcome): void {
    this.#sink(route, outcome);
  }

  /** Admits a reference (call only after refusal() said none): it counts as in flight until its outcome. */
  begin(route: ResolvedRoute): Reference {
    const policy = this.#policies.get(route.name)!;
    this.#inFlight.set(route.name, this.inFlight(route.name) + 1);
    let over = false;
    const end = (outcome: Outcome): void => {
      if (over) return;
      over = true;
      this.#inFlight.set(route.name, this.inFlight(route.name) - 1);
      this.#sink(route.name, outcome);
    };
    return {
      maxBodyBytes: policy.maxBodyBytes,
      drop: end,
      send: (info, body, done) => {
        if (over) return;
        const entry = this.#pools.get(route.primary);
        if (!entry || this.#closed) return end('shutdown');
        const now = performance.now();
        if (entry.pool.breakerOpen(now)) return end('connect_error');
        const { pool, host } = entry.pool.pick();
        const startMs = now - info.t0;
        const request = {
          method: info.method,
          path: info.path,
          headers: copyHeaders(info.headers, policy, info.host, host),
          timeoutMs: policy.timeoutMs,
          cap: this.#config.mirroring.maxResponseBytes,
          keep: true,
          ...(body ? { body } : {}),
        };
        const breaker = entry.pool;
        sendCopy(pool, request, this.#active, (r) => {
          if (r.outcome === 'connect_error') breaker.connected(false, performance.now());
          else if (r.headersMs !== undefined) breaker.connected(true, 0);
          end(r.outcome);
          // Only an answer is a reference: a failure says nothing about the candidates, so that trial is not compared.
          if (r.outcome !== 'delivered' || r.status === undefined) return;
          done({
            role: 'primary',
            upstream: route.primary,
            status: r.status,
            ...(r.headers ? { headers: r.headers } : {}),
            ...(r.body ? { body: r.body } : {}),
            bodyBytes: r.bodyBytes,
            truncated: r.truncated,
            timings: { startMs, ...(r.headersMs !== undefined ? { headersMs: r.headersMs } : {}), totalMs: r.totalMs },
          });
        });
      },
    };
  }

  /** Stop: new references become `shutdown`; those in flight get until the deadline, then are cancelled. */
  async drain(deadlineMs: number): Promise<void> {
    this.#closed = true;
    const until = performance.now() + deadlineMs;
    while (this.#active.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    for (const c of [...this.#active]) c.cancel('shutdown');
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((p) => p.pool.close()));
  }
}

/** The reference's bounds as a mirror policy, so the copy's header rules (Host, marker, trace span) are the same. */
function policyOf(route: ResolvedRoute, config: ResolvedConfig): ResolvedMirror {
  const ref = config.collector.reference;
  const upstream = config.upstreams.get(route.primary);
  return {
    role: 'candidate',
    name: route.primary,
    upstream: route.primary,
    percentage: 100,
    sampleBy: { kind: 'random' },
    methods: ref.methods,
    maxBodyBytes: ref.maxBodyBytes,
    timeoutMs: ref.timeoutMs ?? Math.min(route.timeoutMs ?? upstream?.timeoutMs ?? REFERENCE_TIMEOUT_CAP_MS, REFERENCE_TIMEOUT_CAP_MS),
    maxInFlight: ref.maxInFlight,
    host: { kind: 'preserve' },
    setHeaders: [],
    removeHeaders: [],
  };
}
