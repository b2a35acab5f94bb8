// The YAML contract of PRODUCT.md as one zod schema: the single source of truth for keys, types and defaults.
// Objects are strict (an unknown key is an error); leaves parse into their resolved form (ms, bytes, matchers).
import { z } from 'zod';
import { cidr, duration, headerName, headerValue, hostMode, hostPort, method, name, pathMatch, sampleBy, size, valueMatch } from './fields.ts';
import { isHostname } from './net.ts';
import type { HostPort } from './types.ts';

const between = (lo: number, hi: number) => z.number().min(lo, { error: `must be between ${lo} and ${hi}` }).max(hi, { error: `must be between ${lo} and ${hi}` });
const atLeast = (lo: number) => z.int({ error: 'must be a whole number' }).min(lo, { error: `must be at least ${lo}` });
const nonEmpty = (what: string) => z.string().min(1, { error: `${what} must not be empty` });
const list = <T extends z.ZodType>(item: T, what: string) => z.array(item).min(1, { error: `must list at least one ${what}` });

const tls = z.strictObject({ cert: nonEmpty('the certificate path'), key: nonEmpty('the key path') });

/** `HOST:PORT`, or `{address: HOST:PORT, tls: {cert, key}}` for HTTPS; normalised to {host, port, tls?}. */
const listen = z
  .union([hostPort, z.strictObject({ address: hostPort, tls: tls.optional() })], { error: 'must be "HOST:PORT" or a mapping {address, tls: {cert, key}}' })
  .transform((v): HostPort & { tls?: { cert: string; key: string } } => ('address' in v ? { ...v.address, ...(v.tls ? { tls: v.tls } : {}) } : v));

const admin = z.strictObject({
  listen: hostPort.prefault('127.0.0.1:9901'),
  // A bearer token: short tokens can be guessed, whitespace would be cut by the Authorization header.
  token: z
    .string()
    .min(16, { error: 'must be at least 16 characters' })
    .refine((t) => /^[\x21-\x7e]*$/.test(t), { error: 'must be printable ASCII without spaces' })
    .optional(),
});

/** A URL as it may be quoted in an error: any userinfo (a password) replaced, never echoed to logs. */
export function withoutCredentials(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1[REDACTED]@');
}

function storageProblem(s: string): string | undefined {
  if (s === 'memory') return undefined;
  if (s.startsWith('sqlite:')) return s.length > 'sqlite:'.length ? undefined : 'sqlite: needs a file path, like "sqlite:./tapwire.db"';
  if (/^postgres(ql)?:\/\//.test(s)) return URL.canParse(s) && new URL(s).hostname !== '' ? undefined : `"${withoutCredentials(s)}" is not a valid postgres:// URL`;
  return 'must be memory, sqlite:PATH or postgres://USER@HOST/DB';
}
const storage = z.string().superRefine((s, ctx) => {
  const problem = storageProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const limits = z.strictObject({
  maxHeaderBytes: size({ min: 1 }).prefault('16KiB'),
  maxHeaders: atLeast(1).default(100),
  maxRequestLineBytes: size({ min: 1 }).prefault('8KiB'),
  headersTimeout: duration().prefault('10s'),
  requestTimeout: duration().prefault('30s'),
  keepAliveTimeout: duration().prefault('5s'),
  maxBodyBytes: size().prefault('10MiB'),
});

const mirroring = z.strictObject({
  maxBufferedBytes: size().prefault('128MiB'),
  maxResponseBytes: size().prefault('256KiB'),
  connectTimeout: duration().prefault('1s'),
});

const shutdown = z.strictObject({
  drainTimeout: duration({ min: 0 }).prefault('20s'),
  delay: duration({ min: 0 }).prefault('0s'),
});

const log = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  access: z.boolean().default(false),
});

/**
 * An upstream URL is scheme://host[:port] and nothing else: tapwire forwards the client's path unchanged,
 * so a path here would be silently ignored or doubled; credentials in it would end up in logs.
 */
export const upstreamUrl = z.string().transform((text, ctx) => {
  const problem = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (!URL.canParse(text)) return problem(`"${withoutCredentials(text)}" is not a URL; write it like "http://127.0.0.1:3001"`);
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return problem(`must use http:// or https://, not ${url.protocol}//`);
  if (url.username || url.password) return problem('must not contain credentials (user:password@): they would leak into logs and metrics');
  if (url.pathname !== '/') {
    return problem(`must not have a path ("${url.pathname}"): an upstream is scheme://host:port only and receives the client's path unchanged; select paths with routes[].match.path`);
  }
  if (url.search || url.hash) return problem('must not have a query or fragment: an upstream is scheme://host:port only');
  return url;
});

const upstream = z
  .strictObject({
    url: upstreamUrl.optional(),
    urls: list(upstreamUrl, 'URL').optional(),
    timeout: duration().prefault('30s'),
    connectTimeout: duration().prefault('2s'),
    sandboxed: z.boolean().default(false),
    maxConnections: atLeast(1).default(128),
    tls: z
      .strictObject({
        ca: nonEmpty('the CA file path').optional(),
        servername: z.string().refine(isHostname, { error: 'must be a host name' }).optional(),
      })
      .optional(),
  })
  .superRefine((u, ctx) => {
    if (u.url === undefined && u.urls === undefined) ctx.addIssue({ code: 'custom', message: 'needs url (one URL) or urls (a list)' });
    if (u.url !== undefined && u.urls !== undefined) ctx.addIssue({ code: 'custom', message: 'give url or urls, not both' });
    const seen = new Set<string>();
    u.urls?.forEach((url, i) => {
      if (seen.has(url.href)) ctx.addIssue({ code: 'custom', path: ['urls', i], message: `duplicate URL ${url.href}` });
      seen.add(url.href);
    });
  });

/** `api.example.com` or `*.example.com`; a port is not part of a host rule. */
const hostRule = z.string().superRefine((h, ctx) => {
  const bare = h.startsWith('*.') ? h.slice(2) : h;
  if (!isHostname(bare)) {
    const why = h.includes(':') ? 'without a port' : 'or *.domain';
    ctx.addIssue({ code: 'custom', message: `"${h}" must be a host name ${why}, like "api.example.com" or "*.example.com"` });
  }
});

const match = z.strictObject({
  host: hostRule.optional(),
  path: pathMatch.optional(),
  methods: list(method, 'method').optional(),
  headers: z.record(headerName, valueMatch).optional(),
  query: z.record(nonEmpty('a query parameter name'), valueMatch).optional(),
  sources: list(cidr, 'CIDR range').optional(),
});

const mirror = z.strictObject({
  upstream: nonEmpty('the upstream name'),
  percentage: between(0, 100).default(100),
  sampleBy: sampleBy.prefault('random'),
  methods: list(method, 'method').prefault(['GET', 'HEAD', 'OPTIONS']),
  maxBodyBytes: size().prefault('1MiB'),
  timeout: duration().optional(),
  maxInFlight: atLeast(1).default(100),
  host: hostMode.prefault('preserve'),
  headers: z
    .strictObject({
      set: z.record(headerName, headerValue).default({}),
      remove: z.array(headerName).default([]),
    })
    .prefault({}),
});

const ratio = (lo: number, hi: number) => between(lo, hi);

/** Diffy's thresholds plus the latency and error bars of the verdict (docs/compare.md). */
const thresholds = z.strictObject({
  relative: ratio(0, 1).optional(),
  absolute: ratio(0, 1).optional(),
  minSamples: atLeast(1).optional(),
  latencyRatio: z.number().min(1, { error: 'must be at least 1 (candidate / primary latency)' }).optional(),
  latencyPercentile: z.enum(['p50', 'p90', 'p99']).optional(),
  latencyMinDelta: duration({ min: 0 }).optional(),
  errorRateDelta: ratio(0, 1).optional(),
});

const jsonPath = z.string().startsWith('$', { error: 'must be a JSON path starting with "$", like "$.meta.generatedAt"' });

const arrayMode = z.string().refine((m) => m === 'index' || m === 'set' || /^key:[^\s]+$/.test(m), {
  error: 'must be "index", "set" or "key:FIELD" (match elements by a field, like "key:id")',
});

const compare = z.strictObject({
  /** headers never compared, on top of the defaults (date, server, request ids, ...) */
  ignoreHeaders: z.array(headerName).default([]),
  /** JSON paths never compared: `$.meta.generatedAt`, `$.items[*].updatedAt`, `$..requestId` */
  ignore: z.array(jsonPath).default([]),
  /** fields counted as noise whatever the secondary says (a path covers what it prefixes) */
  noise: z
    .array(
      z.string().refine((f) => f.startsWith('$') || /^(status|body|text|header\.[a-z0-9!#$%&'*+.^_`|~-]+)$/i.test(f), {
        error: 'must be a field: a JSON path ($.meta.generatedAt), status, body, text or header.NAME',
      }),
    )
    .default([]),
  /** how arrays at these paths are compared: by position (default), as sets, or keyed by a field */
  arrays: z.record(jsonPath, arrayMode).default({}),
  /** numbers closer than this are equal */
  tolerance: z.strictObject({ absolute: z.number().min(0).default(0), relative: z.number().min(0).default(0) }).prefault({}),
  /** compare headers at all (status and bodies always are) */
  headers: z.boolean().default(true),
  /** endpoint templates that win over the automatic ones: `/users/{id}`, `GET /orders/{orderId}/items` */
  endpoints: z.array(nonEmpty('an endpoint template')).default([]),
  /** distinct endpoints per route; more become `other` */
  maxEndpoints: atLeast(1).default(200),
  thresholds: thresholds.prefault({}),
});

/** Process-wide compare settings: the queue to the compare worker, limits of the differ, what is kept. */
const compareGlobal = z.strictObject({
  /** trials waiting for the compare worker; past it they are dropped and counted */
  queue: atLeast(1).default(10_000),
  /** requests per second made into trials at most (copies still go out; 0: every request) */
  maxPerSecond: atLeast(0).default(500),
  /** how often aggregates are written to the store */
  flushInterval: duration().prefault('1s'),
  /** run comparison on a worker thread (true) or on the main thread after the response (false) */
  worker: z.boolean().default(true),
  thresholds: thresholds.prefault({}),
  limits: z
    .strictObject({
      maxDecodedBytes: size({ min: 1 }).prefault('8MiB'),
      maxExpansionRatio: atLeast(1).default(100),
      maxJsonBytes: size({ min: 1 }).prefault('4MiB'),
      maxDepth: atLeast(1).default(64),
      maxDiffs: atLeast(1).default(100),
      maxNodes: atLeast(1).default(200_000),
    })
    .prefault({}),
  examples: z.strictObject({ first: atLeast(0).default(5), reservoir: atLeast(0).default(20) }).prefault({}),
  retention: z.strictObject({ maxAge: duration({ max: 365 * 86_400_000 }).prefault('7d'), maxExamples: atLeast(1).default(100_000) }).prefault({}),
  /** extra secrets redacted from stored examples, on top of Authorization, Cookie, Set-Cookie, ... */
  redact: z.strictObject({ headers: z.array(headerName).default([]), jsonPaths: z.array(jsonPath).default([]) }).prefault({}),
});

const severity = z.enum(['info', 'low', 'medium', 'high', 'critical']);

/** A user signature rule (docs/signatures.md): compiled with re2js, so matching stays linear in the input. */
const signatureRule = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, { error: 'must be a lower-case id of letters, digits, ".", "_" and "-" (at most 64)' }),
  category: nonEmpty('the category').optional(),
  severity: severity.optional(),
  parts: z.array(z.string().regex(/^(path|query|body|method|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$/, { error: 'must be path, query, body, method or header:NAME' })).min(1, { error: 'must list at least one part' }),
  pattern: nonEmpty('the pattern'),
  description: z.string().optional(),
});

const alertSink = z.strictObject({
  type: z.enum(['webhook', 'slack']),
  url: z.string().refine((u) => /^https?:\/\//.test(u) && URL.canParse(u), { error: 'must be an http:// or https:// URL' }),
  name: name('alert sink').optional(),
  headers: z.record(headerName, headerValue).default({}),
  minSeverity: severity.default('low'),
});

/** Traffic analysis: detectors, signatures, findings and alerts (docs/analysis.md). */
const analysis = z.strictObject({
  /** request body bytes kept per request for signatures */
  bodyBytes: size().prefault('8KiB'),
  /** requests waiting for analysis; past it they are skipped and counted */
  queue: atLeast(1).default(20_000),
  /** a finding without a new signal for this long resolves */
  resolveAfter: duration().prefault('60s'),
  /** overrides of the detectors' thresholds (docs/analysis.md lists them) */
  detectors: z.record(z.string(), z.number()).default({}),
  signatures: z
    .strictObject({
      enabled: z.boolean().default(true),
      disable: z.array(nonEmpty('a rule id')).default([]),
      rules: z.array(signatureRule).default([]),
    })
    .prefault({}),
  alerts: z.array(alertSink).default([]),
});

/** A route's capture policy (docs/capture.md): which requests are written, and how much of each body. */
const routeCapture = z.strictObject({
  percentage: between(0, 100).default(100),
  sampleBy: sampleBy.prefault('random'),
  /** request and response bodies are kept up to this (the response also up to mirroring.maxResponseBytes) */
  maxBodyBytes: size().prefault('64KiB'),
});

/** Where and how captured trials are written (docs/capture.md). */
const captureGlobal = z.strictObject({
  /** a directory (files named capture-TIME-SEQ.ndjson) or a file prefix (PREFIX-TIME-SEQ.ndjson) */
  file: nonEmpty('the capture path').optional(),
  rotate: z.strictObject({ maxBytes: size({ min: 1 }).prefault('64MiB'), maxAge: duration().prefault('1h') }).prefault({}),
  gzip: z.boolean().default(false),
  /** trials waiting to be written; past it they are dropped and counted */
  queue: atLeast(1).default(10_000),
  /** how long a written line may wait before it reaches the file */
  flushInterval: duration().prefault('1s'),
  redact: z
    .strictObject({
      /** on top of Authorization, Cookie, Set-Cookie, Proxy-Authorization and secret-looking names */
      headers: z.array(headerName).default([]),
      query: z.array(nonEmpty('a query parameter name')).default([]),
      cookies: z.array(nonEmpty('a cookie name')).default([]),
      json: z.array(jsonPath).default([]),
      /** the HMAC key of the hashes; without it, a random key per process (hashes then correlate within one run only) */
      key: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
    })
    .prefault({}),
});

/** Collector mode (docs/collector.md): tapwire is the mirror target of a mesh; it answers the mesh at once. */
const collector = z.strictObject({
  /** what the mesh gets back (it discards it): this status with an empty body */
  respond: z
    .strictObject({ status: z.literal([200, 202, 204]).default(202) })
    .prefault({}),
  /** removed from the end of the Host's name when present (Envoy and Istio append -shadow); "" keeps the Host as received */
  stripHostSuffix: z.string().regex(/^[A-Za-z0-9._-]{0,63}$/, { error: 'must be a host-name fragment like "-shadow", or "" to keep the Host' }).default('-shadow'),
  /** the request to the route's primary (the reference the candidates are compared with) */
  reference: z
    .strictObject({
      /** writes reach the reference only when listed here AND its upstream is sandboxed: it is usually production */
      methods: list(method, 'method').prefault(['GET', 'HEAD', 'OPTIONS']),
      /** default: the primary upstream's timeout (or the route's), at most 5s */
      timeout: duration().optional(),
      maxInFlight: atLeast(1).default(100),
      /** larger request bodies get no reference (the copies still go out; the trial is not compared) */
      maxBodyBytes: size().prefault('1MiB'),
    })
    .prefault({}),
});

const route = z.strictObject({
  name: name('route'),
  match: match.prefault({}),
  primary: nonEmpty('the upstream name'),
  secondary: nonEmpty('the upstream name').optional(),
  mirrors: z.array(mirror).default([]),
  maxBodyBytes: size().optional(),
  timeout: duration().optional(),
  compare: compare.optional(),
  /** send this route's requests to traffic analysis (with or without mirrors) */
  analyze: z.boolean().default(false),
  /** write this route's trials to the capture files (with or without mirrors) */
  capture: routeCapture.optional(),
});

export const configSchema = z.strictObject({
  listen,
  /** proxy: clients talk to tapwire; collector: a mesh mirrors to tapwire (docs/collector.md) */
  mode: z.enum(['proxy', 'collector']).default('proxy'),
  collector: collector.prefault({}),
  admin: admin.prefault({}),
  storage: storage.default('memory'),
  trustedProxies: z.array(cidr).default([]),
  limits: limits.prefault({}),
  mirroring: mirroring.prefault({}),
  compare: compareGlobal.prefault({}),
  analysis: analysis.prefault({}),
  capture: captureGlobal.prefault({}),
  shutdown: shutdown.prefault({}),
  log: log.prefault({}),
  upstreams: z.record(name('upstream'), upstream).refine((u) => Object.keys(u).length > 0, { error: 'must define at least one upstream' }),
  routes: list(route, 'route'),
});

/** The config as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The config after validation: defaults applied, units converted, matchers compiled; not yet cross-checked. */
export type ValidConfig = z.output<typeof configSchema>;
