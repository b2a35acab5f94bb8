// The shapes compare works in: one pair's differences, the additive deltas an aggregator flushes to a
// Store, the examples kept for people to look at, and the verdict. Pure data; no I/O.
// Everything here is additive on purpose: several processes (workers, replicas) each flush deltas and
// the Store sums them, so one verdict computed from the Store is the same whoever computes it.

/** How one field differs between the primary (left) and another side (right). */
export type DiffKind = 'added' | 'removed' | 'changed' | 'type_changed';

export interface FieldDiff {
  /**
   * The concrete place: `status`, `header.content-type`, `$.items[3].price`, `$.items[id=7].price`
   * (arrays keyed by a field), `body` (non-JSON bodies compared by length and hash), `text` (text
   * bodies compared by lines; `text:12` names the first differing line).
   */
  readonly path: string;
  /**
   * The aggregation key: `path` with array positions replaced by `[*]` (`$.items[*].price`), so
   * counts per field stay bounded whatever the array lengths.
   */
  readonly field: string;
  readonly kind: DiffKind;
  /** the primary's value (absent for `added`); strings cut to a short preview */
  readonly left?: unknown;
  /** the other side's value (absent for `removed`) */
  readonly right?: unknown;
}

/** The result of comparing two exchanges of one trial (primary vs candidate, or primary vs secondary). */
export interface PairResult {
  readonly diffs: readonly FieldDiff[];
  /** more differences existed than the per-pair cap; `diffs` holds the first ones */
  readonly overflow: boolean;
  /**
   * Why the bodies were not compared field by field, when they were not: `truncated` (over the
   * capture cap: compared by length and hash), `decode_error`, `decode_limit` (decompressed bytes or
   * expansion ratio), `json_limit` (size or depth), `budget` (diff time or node budget).
   */
  readonly bodyMode: 'json' | 'text' | 'binary' | 'empty';
  readonly skipped?: 'truncated' | 'decode_error' | 'decode_limit' | 'json_limit' | 'budget';
}

/** Which side an aggregate row describes. */
export type Role = 'primary' | 'candidate' | 'secondary';

/**
 * One additive delta for (route, endpoint, upstream, role). The primary's row carries its latency over
 * the requests that were compared, a candidate's row its raw differences against the primary, the
 * secondary's row the noise (its differences against the primary).
 */
export interface EndpointDelta {
  readonly route: string;
  /** method + templated path, `GET /users/{id}`, or `other` past the per-route bound */
  readonly endpoint: string;
  readonly upstream: string;
  readonly role: Role;
  /** exchanges seen for this side (including failed ones) */
  readonly exchanges: number;
  /** pairs compared against the primary (both sides answered); 0 for the primary's row */
  readonly compared: number;
  /** compared pairs with at least one difference */
  readonly differing: number;
  /** 5xx answers */
  readonly errors5xx: number;
  /** exchanges that got no answer (a failed outcome for copies, a TW_ERR_* for the primary) */
  readonly failed: number;
  /** field → number of compared pairs in which that field differed */
  readonly fields: Readonly<Record<string, number>>;
  /** HDR histogram (hdr-histogram-js, base64 encoded) of time to last byte in microseconds; '' when empty */
  readonly latency: string;
}

/** A kept example of a difference, redacted before it leaves the aggregator. */
export interface DiffExample {
  readonly route: string;
  readonly endpoint: string;
  readonly upstream: string;
  readonly role: Exclude<Role, 'primary'>;
  readonly field: string;
  /**
   * Slot within the (route, endpoint, upstream, field) set: 0..firstN-1 are the first examples seen,
   * firstN.. a reservoir sample. Writing a slot replaces what was there.
   */
  readonly slot: number;
  readonly trialId: string;
  /** epoch ms */
  readonly at: number;
  readonly request: ExampleMessage & { readonly method: string; readonly path: string };
  readonly left: ExampleMessage & { readonly status?: number };
  readonly right: ExampleMessage & { readonly status?: number };
  /** all differences of this pair (capped) */
  readonly diffs: readonly FieldDiff[];
}

export interface ExampleMessage {
  /** flat [name, value, ...], secrets already replaced */
  readonly headers: readonly string[];
  /** decoded body as text (UTF-8, bounded), or a `<N bytes, sha256 …>` placeholder for binary */
  readonly body: string;
  readonly truncated: boolean;
}

/** What a Store receives on each flush. */
export interface CompareBatch {
  /** epoch ms of the flush */
  readonly at: number;
  readonly deltas: readonly EndpointDelta[];
  readonly examples: readonly DiffExample[];
}

/** A row as the Store returns it: the sum of every delta flushed for its key. */
export interface EndpointAggregate extends Omit<EndpointDelta, 'latency'> {
  /** merged HDR histogram (base64), '' when empty */
  readonly latency: string;
  /** epoch ms of the first and the last delta */
  readonly firstAt: number;
  readonly lastAt: number;
}

/** A field marked as noise by hand (admin API or config); `field` matches itself and what it prefixes. */
export interface NoiseMark {
  readonly route: string;
  /** an endpoint, or '*' for all of the route's endpoints */
  readonly endpoint: string;
  readonly field: string;
  readonly at: number;
  /** 'config' or 'api' */
  readonly source: 'config' | 'api';
}

export type Verdict = 'pass' | 'fail' | 'insufficient_data';

export interface Thresholds {
  /** Diffy's relative threshold: |raw − noise| / (raw + noise) must exceed it (default 0.2) */
  readonly relative: number;
  /** Diffy's absolute threshold: |raw − noise| / total must exceed it (default 0.0003, i.e. 0.03%) */
  readonly absolute: number;
  /** fewer compared pairs than this for an endpoint: insufficient_data (default 100) */
  readonly minSamples: number;
  /** candidate / primary latency at `latencyPercentile` above this fails the endpoint (default 1.2) */
  readonly latencyRatio: number;
  /** which percentile the latency ratio compares (default p99) */
  readonly latencyPercentile: LatencyPercentile;
  /** a latency difference below this many ms never fails an endpoint, whatever the ratio (default 1) */
  readonly latencyMinDeltaMs: number;
  /** candidate error rate minus primary error rate above this fails the endpoint (default 0.01) */
  readonly errorRateDelta: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  relative: 0.2,
  absolute: 0.0003,
  minSamples: 100,
  latencyRatio: 1.2,
  latencyPercentile: 'p99',
  latencyMinDeltaMs: 1,
  errorRateDelta: 0.01,
};

export type LatencyPercentile = 'p50' | 'p90' | 'p99';
