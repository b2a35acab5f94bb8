// The nouns of a request's life: exchange (one round trip to one upstream) and trial (all of one request's exchanges).
// Kept independent of the wire protocol so HTTP/2, gRPC and WebSocket can produce the same shapes later.
import type { Outcome } from './outcomes.ts';

/** Headers as received: a flat [name, value, name, value, ...] list, order and case preserved. */
export type RawHeaders = readonly string[];

export interface RequestSnapshot {
  readonly method: string;
  /** Path and query exactly as forwarded (origin-form). */
  readonly path: string;
  readonly headers: RawHeaders;
  /** The body up to the copy cap; undefined when there is none or it was not kept. */
  readonly body?: Buffer;
  readonly bodyBytes: number;
}

export interface Timings {
  /** ms since the client request arrived at which the exchange started */
  readonly startMs: number;
  /** ms from exchange start to response headers; undefined without a response */
  readonly headersMs?: number;
  /** ms from exchange start to the last body byte (or the end of the exchange) */
  readonly totalMs: number;
}

export interface Exchange {
  readonly role: 'primary' | 'mirror' | 'secondary';
  /** upstream name from the config */
  readonly upstream: string;
  readonly status?: number;
  readonly headers?: RawHeaders;
  /** response body up to the capture cap */
  readonly body?: Buffer;
  /** total response body bytes seen (may exceed body.length) */
  readonly bodyBytes: number;
  readonly truncated: boolean;
  readonly timings: Timings;
  /** error code of the exchange when it failed (TW_ERR_* for the primary; an outcome for copies) */
  readonly error?: string;
  /** for copies: the outcome */
  readonly outcome?: Outcome;
}

export interface Trial {
  readonly id: string;
  readonly route: string;
  /** epoch ms when the client request arrived */
  readonly at: number;
  readonly request: RequestSnapshot;
  readonly primary: Exchange;
  /** one per mirror policy that sent a copy (delivered or failed after dispatch) */
  readonly mirrors: readonly Exchange[];
}
