// The shapes of traffic analysis: what one request looks like to the detectors, what a detector reports
// (a signal), and what people see (a finding, deduplicated, with a lifecycle and redacted evidence).
// Pure data; no I/O. Every detector is a pure function of the events and an injected clock.

/** One request as analysis sees it: after the primary answered, off the client's path. */
export interface RequestEvent {
  /** epoch ms when the request arrived */
  readonly at: number;
  readonly route: string;
  /** method + templated path (`GET /users/{id}`), bounded per route (overflow: `other`) */
  readonly endpoint: string;
  readonly method: string;
  /** the path as received, without the query (not decoded) */
  readonly path: string;
  /** the raw query string without `?` ('' when none) */
  readonly query: string;
  /** the client address (X-Forwarded-For only from trusted proxies) */
  readonly source: string;
  /** selected request headers, flat [lower-case name, value, ...]: user-agent, referer, content-type, origin, x-forwarded-for, cookie, authorization (values of the last two are only ever matched, never stored) */
  readonly headers: readonly string[];
  /** the first bytes of the request body (analysis.bodyBytes), when there was one */
  readonly body?: Buffer;
  /** total request body bytes */
  readonly bodyBytes: number;
  /** the primary upstream */
  readonly upstream: string;
  /** the primary's status; 0 when it did not answer (then `error` is set) */
  readonly status: number;
  /** TW_ERR_* when the primary failed */
  readonly error?: string;
  /** ms from arrival to the primary's last byte */
  readonly latencyMs: number;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** The detectors; the `detector` label of `tapwire_findings_total`. */
export type DetectorName = 'rate_spike' | 'flood' | 'scan' | 'credential_stuffing' | 'error_burst' | 'signature';

/** A request kept as evidence: redacted before it is built (secret headers, secret query values, body cut). */
export interface Evidence {
  readonly at: number;
  readonly method: string;
  /** path and query, secret query values replaced by [REDACTED], cut to 2 KiB */
  readonly target: string;
  readonly source: string;
  /** flat [name, value, ...]; Authorization, Cookie and other secrets as [REDACTED] */
  readonly headers: readonly string[];
  /** UTF-8 text of the body prefix, cut to 1 KiB, or a `<N bytes>` placeholder */
  readonly body?: string;
  readonly status: number;
  /** for signatures: which part matched and the matched text (cut to 200 characters) */
  readonly match?: { readonly part: 'path' | 'query' | 'header' | 'body' | 'method'; readonly name?: string; readonly text: string };
}

/**
 * What a detector reports. Signals with the same (detector, key) are one finding: the first opens it, later
 * ones keep it ongoing, and silence for the resolve delay resolves it.
 */
export interface Signal {
  readonly detector: DetectorName;
  /** dedupe key within the detector: `source:203.0.113.7`, `endpoint:api GET /login`, `rule:sqli-union|source:…` */
  readonly key: string;
  readonly severity: Severity;
  /** one line for people: "single-source flood from 203.0.113.7: 812 req/s (baseline 3 req/s)" */
  readonly title: string;
  /** numbers behind it (rates, baselines, counts, distinct paths, rule id, category); never raw secrets */
  readonly detail: Readonly<Record<string, string | number | boolean>>;
  readonly evidence?: Evidence;
  /** epoch ms */
  readonly at: number;
}

export type FindingState = 'open' | 'ongoing' | 'resolved';

export interface Finding {
  /** stable: a hash of (detector, key) and the first-seen time, so a recurrence after resolution is a new finding */
  readonly id: string;
  readonly detector: DetectorName;
  readonly key: string;
  /** the highest severity seen */
  readonly severity: Severity;
  readonly title: string;
  readonly state: FindingState;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** signals folded into it */
  readonly count: number;
  /** the latest signal's detail */
  readonly detail: Readonly<Record<string, string | number | boolean>>;
  /** up to 5 samples: the first ones */
  readonly evidence: readonly Evidence[];
  readonly resolvedAt?: number;
}
