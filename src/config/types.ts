// The resolved configuration: what every other module reads. Produced once by config/resolve.ts from the
// validated YAML (schema.ts), with every default applied, every duration in ms and size in bytes, frozen.
// No other module reads process.env or applies a default of its own.

export type HostMode =
  | { readonly kind: 'preserve' }
  | { readonly kind: 'upstream' }
  | { readonly kind: 'suffix'; readonly suffix: string }
  | { readonly kind: 'literal'; readonly value: string };

export type SampleBy =
  | { readonly kind: 'random' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string }
  | { readonly kind: 'query'; readonly name: string }
  | { readonly kind: 'source' };

/** A compiled string matcher: exact, prefix or a linear-time (re2js) regex. */
export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly source: string; readonly test: (s: string) => boolean };

/** Header and query conditions: a string matcher, or presence/absence. */
export type ValueMatch = StringMatch | { readonly kind: 'present' } | { readonly kind: 'absent' };

export interface Cidr {
  readonly text: string;
  /** true when the address (IPv4, IPv6 or IPv4-mapped) is inside the range */
  readonly contains: (address: string) => boolean;
}

export interface ResolvedMatch {
  /** exact host (lower-case, no port) or a `*.suffix` pattern stored as { suffix: '.example.com' } */
  readonly host?: { readonly exact: string } | { readonly suffix: string };
  readonly path?: StringMatch;
  /** upper-case */
  readonly methods?: readonly string[];
  /** header names lower-case */
  readonly headers?: ReadonlyArray<readonly [string, ValueMatch]>;
  readonly query?: ReadonlyArray<readonly [string, ValueMatch]>;
  readonly sources?: readonly Cidr[];
}

export interface ResolvedUpstream {
  readonly name: string;
  readonly urls: readonly URL[];
  /** total time to the response headers for the primary; the default copy timeout for mirrors */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly sandboxed: boolean;
  /** keep-alive connections per URL */
  readonly maxConnections: number;
  /** PEM contents of extra CA certificates (https upstreams) */
  readonly ca?: string;
  /** SNI / certificate name override */
  readonly servername?: string;
}

export interface ResolvedMirror {
  /** `candidate` for the route's mirrors; `secondary` for the copy that learns noise (it goes out when a candidate's does) */
  readonly role: 'candidate' | 'secondary';
  /** stable name for metrics and stats: the upstream name (suffixed #2, #3 if a route mirrors it twice) */
  readonly name: string;
  readonly upstream: string;
  /** 0..100 */
  readonly percentage: number;
  readonly sampleBy: SampleBy;
  /** upper-case */
  readonly methods: readonly string[];
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly host: HostMode;
  /** header names lower-case */
  readonly setHeaders: ReadonlyArray<readonly [string, string]>;
  readonly removeHeaders: readonly string[];
}

export interface ResolvedThresholds {
  readonly relative: number;
  readonly absolute: number;
  readonly minSamples: number;
  readonly latencyRatio: number;
  readonly latencyPercentile: 'p50' | 'p90' | 'p99';
  readonly latencyMinDeltaMs: number;
  readonly errorRateDelta: number;
}

/** A route's comparison settings (docs/compare.md). Present when the route has `compare` or a `secondary`. */
export interface ResolvedCompare {
  /** lower-case, on top of the default ignore list */
  readonly ignoreHeaders: readonly string[];
  readonly ignore: readonly string[];
  readonly noise: readonly string[];
  readonly arrays: Readonly<Record<string, string>>;
  readonly tolerance: { readonly absolute: number; readonly relative: number };
  readonly headers: boolean;
  readonly endpoints: readonly string[];
  readonly maxEndpoints: number;
  /** the global thresholds with the route's own on top */
  readonly thresholds: ResolvedThresholds;
}

export interface ResolvedCompareGlobal {
  readonly queue: number;
  readonly maxPerSecond: number;
  readonly flushIntervalMs: number;
  readonly worker: boolean;
  readonly thresholds: ResolvedThresholds;
  readonly limits: {
    readonly maxDecodedBytes: number;
    readonly maxExpansionRatio: number;
    readonly maxJsonBytes: number;
    readonly maxDepth: number;
    readonly maxDiffs: number;
    readonly maxNodes: number;
  };
  readonly examples: { readonly first: number; readonly reservoir: number };
  readonly retention: { readonly maxAgeMs: number; readonly maxExamples: number };
  readonly redact: { readonly headers: readonly string[]; readonly jsonPaths: readonly string[] };
}

export interface ResolvedRoute {
  readonly name: string;
  readonly match: ResolvedMatch;
  readonly primary: string;
  readonly secondary?: string;
  readonly mirrors: readonly ResolvedMirror[];
  /** request body cap towards the primary: larger gets 413 */
  readonly maxBodyBytes: number;
  /** overrides the primary upstream's timeout on this route */
  readonly timeoutMs?: number;
  readonly compare?: ResolvedCompare;
  /** requests go to traffic analysis */
  readonly analyze: boolean;
  /** this route's trials are captured (docs/capture.md) */
  readonly capture?: ResolvedRouteCapture;
}

export interface ResolvedRouteCapture {
  /** 0..100 */
  readonly percentage: number;
  readonly sampleBy: SampleBy;
  readonly maxBodyBytes: number;
}

export interface ResolvedCapture {
  /** absolute: a directory, or a file prefix in a directory; undefined when nothing captures */
  readonly file?: string;
  readonly rotate: { readonly maxBytes: number; readonly maxAgeMs: number };
  readonly gzip: boolean;
  readonly queue: number;
  readonly flushIntervalMs: number;
  readonly redact: {
    /** lower-case, on top of the always-secret ones */
    readonly headers: readonly string[];
    readonly query: readonly string[];
    readonly cookies: readonly string[];
    readonly json: readonly string[];
    /** the HMAC key; undefined: a random key per process */
    readonly key?: string;
  };
}

export interface ResolvedSignatureRule {
  readonly id: string;
  readonly category?: string;
  readonly severity?: 'info' | 'low' | 'medium' | 'high' | 'critical';
  readonly parts: readonly string[];
  readonly pattern: string;
  readonly description?: string;
}

export interface ResolvedAlertSink {
  readonly type: 'webhook' | 'slack';
  readonly url: string;
  readonly name?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly minSeverity: 'info' | 'low' | 'medium' | 'high' | 'critical';
}

export interface ResolvedAnalysis {
  readonly bodyBytes: number;
  readonly queue: number;
  readonly resolveAfterMs: number;
  readonly detectors: Readonly<Record<string, number>>;
  readonly signatures: { readonly enabled: boolean; readonly disable: readonly string[]; readonly rules: readonly ResolvedSignatureRule[] };
  readonly alerts: readonly ResolvedAlertSink[];
}

export interface ResolvedTls {
  readonly cert: string;
  readonly key: string;
  /** the files they came from, for messages and reload */
  readonly certPath: string;
  readonly keyPath: string;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ResolvedLimits {
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly maxRequestLineBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** default per-route body cap */
  readonly maxBodyBytes: number;
}

export interface ResolvedMirroring {
  /** global budget of request-body bytes held for copies at once */
  readonly maxBufferedBytes: number;
  /** cap on each exchange's response body kept for the trial */
  readonly maxResponseBytes: number;
  /** connect timeout of mirror pools */
  readonly connectTimeoutMs: number;
}

/** Collector mode (docs/collector.md): the answer to the mesh, the Host suffix to strip, the reference's bounds. */
export interface ResolvedCollector {
  readonly respondStatus: 200 | 202 | 204;
  /** '' keeps the Host as received */
  readonly stripHostSuffix: string;
  readonly reference: {
    /** upper-case; writes only when listed and the primary is sandboxed (checked at load) */
    readonly methods: readonly string[];
    /** undefined: the route's or primary upstream's timeout, at most 5 s */
    readonly timeoutMs?: number;
    readonly maxInFlight: number;
    readonly maxBodyBytes: number;
  };
}

export interface ResolvedConfig {
  /** absolute path of the file, when loaded from one */
  readonly source?: string;
  /** proxy (inline) or collector (the mirror target of a mesh) */
  readonly mode: 'proxy' | 'collector';
  readonly collector: ResolvedCollector;
  readonly listen: HostPort & { readonly tls?: ResolvedTls };
  readonly admin: HostPort & { readonly token?: string };
  readonly storage: string;
  readonly trustedProxies: readonly Cidr[];
  readonly limits: ResolvedLimits;
  readonly mirroring: ResolvedMirroring;
  readonly compare: ResolvedCompareGlobal;
  readonly analysis: ResolvedAnalysis;
  readonly capture: ResolvedCapture;
  readonly shutdown: { readonly drainTimeoutMs: number; readonly delayMs: number };
  readonly log: { readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; readonly access: boolean };
  readonly upstreams: ReadonlyMap<string, ResolvedUpstream>;
  readonly routes: readonly ResolvedRoute[];
}
