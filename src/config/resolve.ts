// Validated data → the frozen ResolvedConfig every module reads: defaults that depend on other keys, file
// contents, Maps, lower-cased names. Also the whole pipeline for configs built in code (configFromObject).
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { crossCheck } from './checks.ts';
import { readConfigFiles, type ConfigFiles, type ReadText } from './files.ts';
import { dropExplained, formatPath, fromZodIssue, type LoadResult, type Path, type RawIssue } from './issues.ts';
import { configSchema, type ValidConfig } from './schema.ts';
import type { ResolvedCompare, ResolvedCompareGlobal, ResolvedConfig, ResolvedMatch, ResolvedMirror, ResolvedRoute, ResolvedThresholds, ResolvedUpstream } from './types.ts';

/** A copy that waits longer than this only holds buffers; the upstream's own timeout is the default below it. */
const MIRROR_TIMEOUT_CAP_MS = 5000;

export interface ResolveOptions {
  /** directory that relative file paths (TLS files, sqlite:PATH) are resolved against; default: the working directory */
  baseDir?: string;
  /** absolute path of the config file, kept as ResolvedConfig.source */
  source?: string;
  /** file reader, for tests */
  readFile?: ReadText;
  /** paths whose value is already known to be wrong (a failed ${VAR}): their schema issues are dropped, cross-checks skipped */
  blocked?: readonly Path[];
}

export type Checked = { ok: true; config: ResolvedConfig } | { ok: false; issues: RawIssue[] };

const startsWith = (path: Path, prefix: Path): boolean => prefix.every((seg, i) => String(path[i]) === String(seg));

/** schema → cross-checks and files → resolve. Every error of a phase is reported; a failed phase stops the next. */
export function checkAndResolve(raw: unknown, opts: ResolveOptions = {}): Checked {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, issues: [{ path: [], message: 'the configuration must be a mapping of keys (listen, upstreams, routes, …)' }] };
  }
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  const blocked = opts.blocked ?? [];
  if (!parsed.success) {
    const issues = dropExplained(parsed.error.issues.flatMap((i) => fromZodIssue(i, configSchema)));
    return { ok: false, issues: issues.filter((i) => !blocked.some((b) => startsWith(i.path, b))) };
  }
  if (blocked.length) return { ok: false, issues: [] };
  const { files, issues: fileIssues } = readConfigFiles(parsed.data, opts.baseDir, opts.readFile);
  const issues = [...crossCheck(parsed.data), ...fileIssues];
  if (issues.length) return { ok: false, issues };
  return { ok: true, config: resolveConfig(parsed.data, files, opts) };
}

/** The pipeline for a config given as a JS object (tests, the demo): issues carry paths but no line numbers. */
export function configFromObject(raw: unknown, opts: ResolveOptions = {}): LoadResult {
  const checked = checkAndResolve(raw, opts);
  if (checked.ok) return checked;
  return { ok: false, issues: checked.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
}

export function resolveConfig(v: ValidConfig, files: ConfigFiles, opts: ResolveOptions = {}): ResolvedConfig {
  const upstreams = new Map<string, ResolvedUpstream>();
  for (const [name, u] of Object.entries(v.upstreams)) {
    const ca = files.ca.get(name);
    upstreams.set(name, {
      name,
      urls: u.url ? [u.url] : (u.urls ?? []),
      timeoutMs: u.timeout,
      connectTimeoutMs: u.connectTimeout,
      sandboxed: u.sandboxed,
      maxConnections: u.maxConnections,
      ...(ca !== undefined ? { ca } : {}),
      ...(u.tls?.servername !== undefined ? { servername: u.tls.servername } : {}),
    });
  }
  const config: ResolvedConfig = {
    ...(opts.source !== undefined ? { source: opts.source } : {}),
    mode: v.mode,
    collector: {
      respondStatus: v.collector.respond.status,
      stripHostSuffix: v.collector.stripHostSuffix,
      reference: {
        methods: unique(v.collector.reference.methods),
        ...(v.collector.reference.timeout !== undefined ? { timeoutMs: v.collector.reference.timeout } : {}),
        maxInFlight: v.collector.reference.maxInFlight,
        maxBodyBytes: v.collector.reference.maxBodyBytes,
      },
    },
    listen: { host: v.listen.host, port: v.listen.port, ...(files.listenTls ? { tls: files.listenTls } : {}) },
    admin: { host: v.admin.listen.host, port: v.admin.listen.port, ...(v.admin.token !== undefined ? { token: v.admin.token } : {}) },
    storage: resolveStorage(v.storage, opts.baseDir),
    trustedProxies: v.trustedProxies,
    limits: {
      maxHeaderBytes: v.limits.maxHeaderBytes,
      maxHeaders: v.limits.maxHeaders,
      maxRequestLineBytes: v.limits.maxRequestLineBytes,
      headersTimeoutMs: v.limits.headersTimeout,
      requestTimeoutMs: v.limits.requestTimeout,
      keepAliveTimeoutMs: v.limits.keepAliveTimeout,
      maxBodyBytes: v.limits.maxBodyBytes,
    },
    mirroring: {
      maxBufferedBytes: v.mirroring.maxBufferedBytes,
      maxResponseBytes: v.mirroring.maxResponseBytes,
      connectTimeoutMs: v.mirroring.connectTimeout,
    },
    compare: resolveCompareGlobal(v),
    analysis: {
      bodyBytes: v.analysis.bodyBytes,
      queue: v.analysis.queue,
      resolveAfterMs: v.analysis.resolveAfter,
      detectors: { ...v.analysis.detectors },
      signatures: {
        enabled: v.analysis.signatures.enabled,
        disable: v.analysis.signatures.disable,
        rules: v.analysis.signatures.rules.map((r) => ({ ...r })),
      },
      alerts: v.analysis.alerts.map((a) => ({ ...a })),
    },
    capture: resolveCapture(v, opts.baseDir),
    shutdown: { drainTimeoutMs: v.shutdown.drainTimeout, delayMs: v.shutdown.delay },
    log: { level: v.log.level, access: v.log.access },
    upstreams,
    routes: v.routes.map((r) => resolveRoute(r, v, upstreams)),
  };
  return deepFreeze(config);
}

/** sqlite:PATH is relative to the config file, like every other path in it. */
function resolveStorage(storage: string, baseDir: string | undefined): string {
  if (!storage.startsWith('sqlite:') || baseDir === undefined) return storage;
  const file = storage.slice('sqlite:'.length);
  return isAbsolute(file) ? storage : `sqlite:${resolvePath(baseDir, file)}`;
}

type Route = ValidConfig['routes'][number];

function resolveRoute(r: Route, v: ValidConfig, upstreams: ReadonlyMap<string, ResolvedUpstream>): ResolvedRoute {
  const seen = new Map<string, number>();
  const mirrors = r.mirrors.map((m): ResolvedMirror => {
    const n = (seen.get(m.upstream) ?? 0) + 1;
    seen.set(m.upstream, n);
    return {
      role: 'candidate',
      name: n === 1 ? m.upstream : `${m.upstream}#${n}`,
      upstream: m.upstream,
      percentage: m.percentage,
      sampleBy: m.sampleBy,
      methods: unique(m.methods),
      maxBodyBytes: m.maxBodyBytes,
      timeoutMs: m.timeout ?? Math.min(upstreams.get(m.upstream)!.timeoutMs, MIRROR_TIMEOUT_CAP_MS),
      maxInFlight: m.maxInFlight,
      host: m.host,
      setHeaders: Object.entries(m.headers.set).map(([k, val]) => [k.toLowerCase(), val] as const),
      removeHeaders: unique(m.headers.remove.map((h) => h.toLowerCase())),
    };
  });
  // The secondary gets a copy like a mirror, only to learn noise: it goes out whenever a candidate's copy does,
  // with the candidates' most permissive limits, so both sides see the same requests.
  if (r.secondary !== undefined && mirrors.length > 0) {
    const first = mirrors[0]!;
    mirrors.push({
      ...first,
      role: 'secondary',
      name: r.secondary,
      upstream: r.secondary,
      percentage: 100,
      sampleBy: { kind: 'random' },
      methods: unique(mirrors.flatMap((m) => m.methods)),
      maxBodyBytes: Math.max(...mirrors.map((m) => m.maxBodyBytes)),
      timeoutMs: Math.max(...mirrors.map((m) => m.timeoutMs)),
      maxInFlight: Math.max(...mirrors.map((m) => m.maxInFlight)),
    });
  }
  const compare = r.compare !== undefined || r.secondary !== undefined ? resolveCompare(r.compare, v) : undefined;
  return {
    name: r.name,
    match: resolveMatch(r.match),
    primary: r.primary,
    ...(r.secondary !== undefined ? { secondary: r.secondary } : {}),
    mirrors,
    maxBodyBytes: r.maxBodyBytes ?? v.limits.maxBodyBytes,
    ...(r.timeout !== undefined ? { timeoutMs: r.timeout } : {}),
    ...(compare ? { compare } : {}),
    analyze: r.analyze,
    ...(r.capture ? { capture: { percentage: r.capture.percentage, sampleBy: r.capture.sampleBy, maxBodyBytes: r.capture.maxBodyBytes } } : {}),
  };
}

/** capture.file is relative to the config file, like sqlite:PATH; a trailing slash (a directory) is kept. */
function resolveCapture(v: ValidConfig, baseDir: string | undefined): ResolvedConfig['capture'] {
  const c = v.capture;
  const file = c.file === undefined ? undefined : resolvePath(baseDir ?? '.', c.file) + (/[/\\]$/.test(c.file) ? '/' : '');
  return {
    ...(file !== undefined ? { file } : {}),
    rotate: { maxBytes: c.rotate.maxBytes, maxAgeMs: c.rotate.maxAge },
    gzip: c.gzip,
    queue: c.queue,
    flushIntervalMs: c.flushInterval,
    redact: {
      headers: unique(c.redact.headers.map((h) => h.toLowerCase())),
      query: unique(c.redact.query),
      cookies: unique(c.redact.cookies),
      json: unique(c.redact.json),
      ...(c.redact.key !== undefined ? { key: c.redact.key } : {}),
    },
  };
}

const DEFAULT_THRESHOLDS: ResolvedThresholds = {
  relative: 0.2,
  absolute: 0.0003,
  minSamples: 100,
  latencyRatio: 1.2,
  latencyPercentile: 'p99',
  latencyMinDeltaMs: 1,
  errorRateDelta: 0.01,
};

type ThresholdInput = ValidConfig['compare']['thresholds'];

function thresholdsOver(base: ResolvedThresholds, t: ThresholdInput): ResolvedThresholds {
  return {
    relative: t.relative ?? base.relative,
    absolute: t.absolute ?? base.absolute,
    minSamples: t.minSamples ?? base.minSamples,
    latencyRatio: t.latencyRatio ?? base.latencyRatio,
    latencyPercentile: t.latencyPercentile ?? base.latencyPercentile,
    latencyMinDeltaMs: t.latencyMinDelta ?? base.latencyMinDeltaMs,
    errorRateDelta: t.errorRateDelta ?? base.errorRateDelta,
  };
}

function resolveCompareGlobal(v: ValidConfig): ResolvedCompareGlobal {
  const c = v.compare;
  return {
    queue: c.queue,
    maxPerSecond: c.maxPerSecond,
    flushIntervalMs: c.flushInterval,
    worker: c.worker,
    thresholds: thresholdsOver(DEFAULT_THRESHOLDS, c.thresholds),
    limits: { ...c.limits },
    examples: { ...c.examples },
    retention: { maxAgeMs: c.retention.maxAge, maxExamples: c.retention.maxExamples },
    redact: { headers: unique(c.redact.headers.map((h) => h.toLowerCase())), jsonPaths: c.redact.jsonPaths },
  };
}

function resolveCompare(c: Route['compare'], v: ValidConfig): ResolvedCompare {
  const base = thresholdsOver(DEFAULT_THRESHOLDS, v.compare.thresholds);
  return {
    ignoreHeaders: unique((c?.ignoreHeaders ?? []).map((h) => h.toLowerCase())),
    ignore: c?.ignore ?? [],
    noise: c?.noise ?? [],
    arrays: c?.arrays ?? {},
    tolerance: c?.tolerance ?? { absolute: 0, relative: 0 },
    headers: c?.headers ?? true,
    endpoints: c?.endpoints ?? [],
    maxEndpoints: c?.maxEndpoints ?? 200,
    thresholds: c ? thresholdsOver(base, c.thresholds) : base,
  };
}

function resolveMatch(m: Route['match']): ResolvedMatch {
  const out: { -readonly [K in keyof ResolvedMatch]: ResolvedMatch[K] } = {};
  if (m.host !== undefined) {
    const host = m.host.toLowerCase().replace(/\.$/, '');
    out.host = host.startsWith('*.') ? { suffix: host.slice(1) } : { exact: host };
  }
  if (m.path) out.path = m.path;
  if (m.methods) out.methods = unique(m.methods);
  if (m.headers) out.headers = Object.entries(m.headers).map(([k, val]) => [k.toLowerCase(), val] as const);
  if (m.query) out.query = Object.entries(m.query);
  if (m.sources) out.sources = m.sources;
  return out;
}

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

/** Maps cannot be frozen by Object.freeze: their mutators are replaced so a stray set() throws. */
function lockMap(map: Map<unknown, unknown>): void {
  const refuse = (): never => {
    throw new TypeError('the resolved configuration is read-only');
  };
  for (const method of ['set', 'delete', 'clear'] as const) Object.defineProperty(map, method, { value: refuse });
}

export function deepFreeze<T>(value: T): T {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function') || Object.isFrozen(value)) return value;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k);
      deepFreeze(v);
    }
    lockMap(value);
  } else if (typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}
