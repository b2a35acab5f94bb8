// The capture side of the proxy hooks: for each request of a captured route the sampler admits, keep the request
// body (up to capture.maxBodyBytes) and the primary's answer, wait for the mirrors' answers when copies went out
// (Mirroring hands them over through join()), then publish one `capture` trial on the Tap. Nothing here waits or
// grows: bodies are capped per request, and the writer behind the Tap event has its own bounded queue.
import { randomUUID } from 'node:crypto';
import type { ResolvedRoute, ResolvedRouteCapture } from '../config/types.ts';
import type { Tap } from '../core/events.ts';
import type { Exchange } from '../core/exchange.ts';
import type { ProxyHooks, RequestInfo, RequestObserver } from '../core/hooks.ts';

/** Whether a request is sampled by a policy: injected by app.ts (the mirrors' sticky sampling, src/mirror/sample.ts). */
export type CaptureSampler = (policy: ResolvedRouteCapture, info: RequestInfo) => boolean;

export interface CaptureHooksOptions {
  readonly tap: Tap;
  readonly routes: readonly ResolvedRoute[];
  readonly sample: CaptureSampler;
  /** a request of a captured route the sampler left out */
  readonly sampledOut: (route: string) => void;
}

/** Hands a request's copies' exchanges to its capture, once every copy is over. */
export type CaptureJoin = (mirrors: readonly Exchange[]) => void;

/** What join() and the request's observer share. */
interface Following {
  /** copies went out and are not all over yet */
  waiting: boolean;
  mirrors?: readonly Exchange[];
  /** the observer's check, run again when the copies are over */
  ready?: () => void;
}

export class CaptureHooks implements ProxyHooks {
  readonly #tap: Tap;
  readonly #sample: CaptureSampler;
  readonly #sampledOut: (route: string) => void;
  #routes = new Map<string, ResolvedRouteCapture>();
  /** requests being captured, for join(): keyed by the RequestInfo every hook of the request shares */
  readonly #following = new WeakMap<RequestInfo, Following>();

  constructor(opts: CaptureHooksOptions) {
    this.#tap = opts.tap;
    this.#sample = opts.sample;
    this.#sampledOut = opts.sampledOut;
    this.apply(opts.routes);
  }

  apply(routes: readonly ResolvedRoute[]): void {
    this.#routes = new Map(routes.flatMap((r) => (r.capture ? [[r.name, r.capture] as const] : [])));
  }

  /**
   * Called by Mirroring when copies of a request go out: if this request is being captured, the copies' answers are
   * kept and handed over here once all are over. Must be offered the request after observe() saw it.
   */
  join(info: RequestInfo): CaptureJoin | undefined {
    const f = this.#following.get(info);
    if (!f) return undefined;
    f.waiting = true;
    return (mirrors) => {
      f.mirrors = mirrors;
      f.waiting = false;
      f.ready?.();
    };
  }

  observe(info: RequestInfo): RequestObserver | undefined {
    const policy = this.#routes.get(info.route);
    if (!policy) return undefined;
    if (!this.#sample(policy, info)) {
      this.#sampledOut(info.route);
      return undefined;
    }
    return this.#follow(info, policy.maxBodyBytes);
  }

  #follow(info: RequestInfo, max: number): RequestObserver {
    const tap = this.#tap;
    const following: Following = { waiting: false };
    this.#following.set(info, following);
    let chunks: Buffer[] | undefined;
    let kept = 0;
    let bodyBytes = 0;
    let bodyOver = false;
    let primary: Exchange | undefined;
    let emitted = false;
    const ready = (): void => {
      // Copies went out (Mirroring joined): the trial waits for the last of them.
      if (emitted || !bodyOver || !primary || following.waiting) return;
      emitted = true;
      const mirrors = following.mirrors ?? [];
      this.#following.delete(info);
      const body = chunks ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) : undefined;
      tap.emit('capture', {
        id: randomUUID(),
        route: info.route,
        at: info.at,
        request: { method: info.method, path: info.path, headers: info.headers, ...(body ? { body } : {}), bodyBytes },
        primary: cut(primary, max),
        mirrors: mirrors.map((m) => cut(m, max)),
      });
    };
    following.ready = ready;
    return {
      wantsPrimaryBody: true,
      data(chunk) {
        bodyBytes += chunk.length;
        if (kept >= max) return;
        const part = kept + chunk.length <= max ? chunk : chunk.subarray(0, max - kept);
        (chunks ??= []).push(part);
        kept += part.length;
      },
      end() {
        bodyOver = true;
        ready();
      },
      // An aborted request is captured all the same (the primary's exchange says how it ended): nothing lost silently.
      abort() {
        bodyOver = true;
        ready();
      },
      primaryDone(exchange) {
        primary = exchange;
        ready();
      },
    };
  }
}

/** The exchange with its body cut to the capture cap (a view, not a copy). */
function cut(e: Exchange, max: number): Exchange {
  if (e.body === undefined || e.body.length <= max) return e;
  return { ...e, body: e.body.subarray(0, max), truncated: true };
}
