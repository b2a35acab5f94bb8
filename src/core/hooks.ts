// The seam between the client-facing proxy and everything that watches it (mirroring today; capture and
// analysis later). The proxy calls these; it never imports their implementations (ARCHITECTURE.md).
import type { Exchange, RawHeaders } from './exchange.ts';

/** What the proxy knows about a matched request when its headers have arrived. */
export interface RequestInfo {
  /** the route's name */
  readonly route: string;
  /** epoch ms of arrival */
  readonly at: number;
  /** performance.now() at arrival: the origin of every timing */
  readonly t0: number;
  readonly method: string;
  /** origin-form path with query, as forwarded */
  readonly path: string;
  /** the headers as forwarded to the primary (hop-by-hop removed, X-Forwarded-* added) */
  readonly headers: RawHeaders;
  /** the client address after trusted-proxy resolution */
  readonly source: string;
  /** declared Content-Length, -1 when chunked, 0 when no body */
  readonly contentLength: number;
  /** the client's Host header value */
  readonly host: string;
}

/** Follows one request through the proxy. Every method must return at once: the client never waits. */
export interface RequestObserver {
  /** a chunk of the request body, as it streams to the primary */
  data(chunk: Buffer): void;
  /** the request body is complete (called at once for requests without a body) */
  end(): void;
  /** the client went away before its request was complete */
  abort(): void;
  /** the primary exchange is over (answered or failed); body kept only when wantsPrimaryBody */
  primaryDone(exchange: Exchange): void;
  /** keep the primary's response body (up to the cap) for primaryDone */
  readonly wantsPrimaryBody: boolean;
}

export interface ProxyHooks {
  /** called once per matched request; undefined means nobody needs to follow it */
  observe(info: RequestInfo): RequestObserver | undefined;
}

/** Several hooks as one: each request is offered to every hook; their observers are called in order. */
export function combineHooks(...all: readonly ProxyHooks[]): ProxyHooks {
  if (all.length === 1) return all[0]!;
  return {
    observe(info) {
      const observers: RequestObserver[] = [];
      for (const h of all) {
        const o = h.observe(info);
        if (o) observers.push(o);
      }
      if (observers.length <= 1) return observers[0];
      return {
        wantsPrimaryBody: observers.some((o) => o.wantsPrimaryBody),
        data: (chunk) => observers.forEach((o) => o.data(chunk)),
        end: () => observers.forEach((o) => o.end()),
        abort: () => observers.forEach((o) => o.abort()),
        primaryDone: (exchange) => observers.forEach((o) => o.primaryDone(exchange)),
      };
    },
  };
}
