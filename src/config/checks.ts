// Cross-checks: rules that relate one part of a schema-valid config to another (references, safety, conflicts).
import { checkTemplate } from '../compare/endpoint.ts';
import { checkRule, parseArrayMode } from '../compare/rules.ts';
import { DEFAULT_DETECTOR_OPTIONS } from '../analysis/detectors.ts';
import { parseRedactPath } from '../compare/aggregate.ts';
import { compileSignatures, SignatureRuleError } from '../analysis/signatures.ts';
import type { Path, RawIssue } from './issues.ts';
import { isLoopback, isWildcard } from './net.ts';
import type { ValidConfig } from './schema.ts';
import { didYouMean } from './suggest.ts';

type Route = ValidConfig['routes'][number];
type Mirror = Route['mirrors'][number];

/** Methods that never change state (RFC 9110 §9.2.1); anything else is a write and needs a sandboxed upstream. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Headers tapwire sets itself on a copy: framing (a wrong content-length desynchronises the connection),
 * hop-by-hop headers, Host (chosen by `host:`) and the mirror marker, which upstreams rely on.
 */
const MANAGED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'x-tapwire-mirror']);

const fmtMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** Detector thresholds must be known names with sane values; user signature rules compile with re2js. */
function checkAnalysis(a: ValidConfig['analysis'], add: (path: Path, message: string) => void): void {
  const known = Object.keys(DEFAULT_DETECTOR_OPTIONS);
  for (const [key, value] of Object.entries(a.detectors)) {
    if (!known.includes(key)) {
      add(['analysis', 'detectors', key], `unknown detector setting "${key}"${didYouMean(key, known)}`);
      continue;
    }
    if (!Number.isFinite(value) || value < 0) add(['analysis', 'detectors', key], 'must be a number >= 0');
  }
  if (a.signatures.rules.length === 0 && a.signatures.disable.length === 0) return;
  try {
    compileSignatures({ rules: a.signatures.rules.map((r) => ({ ...r, parts: [...r.parts] })), disable: [...a.signatures.disable] });
  } catch (e) {
    if (e instanceof SignatureRuleError) {
      // the key is relative to signatures (`rules[2].pattern`, `disable[0]`)
      const path: Path = ['analysis', 'signatures', ...e.key.split(/[.[\]]+/).filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
      add(path, e.reason);
    } else add(['analysis', 'signatures'], e instanceof Error ? e.message : String(e));
  }
}

/** Capture writes files only (the store is a later version); redaction paths use the compare examples' syntax. */
function checkCapture(config: ValidConfig, add: (path: Path, message: string) => void): void {
  const c = config.capture;
  if (c.file === 'store') add(['capture', 'file'], 'capturing into the store is not supported in this version; give a directory (ending in /) or a file prefix');
  c.redact.json.forEach((p, i) => {
    if (parseRedactPath(p) === undefined) add(['capture', 'redact', 'json', i], `"${p}" must be a JSON path like $.password, $.user.token, $.items[*].secret or $..password`);
  });
  if (c.file !== undefined) return;
  config.routes.forEach((r, i) => {
    if (r.capture) add(['routes', i, 'capture'], 'needs capture.file (a directory or a file prefix) to write to');
  });
}

/**
 * Collector mode: the reference is usually production, so a write reaches it only when listed in
 * collector.reference.methods AND every primary it may go to is sandboxed (the same rule as a mirror's).
 */
function checkCollector(config: ValidConfig, add: (path: Path, message: string) => void): void {
  if (config.mode !== 'collector') return;
  const writes = config.collector.reference.methods.filter((x) => !SAFE_METHODS.has(x));
  if (writes.length > 0) {
    const open = [...new Set(config.routes.map((r) => r.primary))].filter((u) => Object.hasOwn(config.upstreams, u) && !config.upstreams[u]!.sandboxed);
    if (open.length > 0) {
      add(['collector', 'reference', 'methods'], `${writes.join(', ')} change state: the reference gets writes only when its upstream has sandboxed: true (not sandboxed: ${open.join(', ')})`);
    }
  }
  config.routes.forEach((r, i) => {
    if (r.analyze) add(['routes', i, 'analyze'], 'traffic analysis is not available in collector mode yet; run it in proxy mode');
  });
}

/** Compare rules are compiled by the differ itself, so what validates here is exactly what runs. */
function checkCompare(c: NonNullable<Route['compare']>, at: Path, add: (path: Path, message: string) => void): void {
  const rule = (path: Path, r: string): void => {
    const problem = checkRule(r);
    if (problem) add(path, problem);
  };
  c.ignore.forEach((r, i) => rule([...at, 'ignore', i], r));
  c.noise.forEach((r, i) => {
    if (r.startsWith('$')) rule([...at, 'noise', i], r);
  });
  for (const [path, mode] of Object.entries(c.arrays)) {
    const problem = checkRule(path);
    if (problem) {
      add([...at, 'arrays', path], problem);
      continue;
    }
    try {
      parseArrayMode(path, mode);
    } catch (e) {
      add([...at, 'arrays', path], e instanceof Error ? e.message : String(e));
    }
  }
  c.endpoints.forEach((t, i) => {
    const problem = checkTemplate(t);
    if (problem) add([...at, 'endpoints', i], problem);
  });
}

export function crossCheck(config: ValidConfig): RawIssue[] {
  const issues: RawIssue[] = [];
  const add = (path: Path, message: string): void => void issues.push({ path, message });
  const upstreamNames = Object.keys(config.upstreams);

  const checkUpstream = (path: Path, nameOf: string): boolean => {
    if (Object.hasOwn(config.upstreams, nameOf)) return true;
    add(path, `unknown upstream "${nameOf}"${didYouMean(nameOf, upstreamNames)}; defined: ${upstreamNames.join(', ')}`);
    return false;
  };

  // The admin API shows traffic, diffs and the running config: off loopback it must not answer whoever connects.
  if (!isLoopback(config.admin.listen.host) && config.admin.token === undefined) {
    add(['admin', 'token'], 'required when admin.listen is not loopback');
  }
  const { listen, admin } = config;
  if (listen.port !== 0 && listen.port === admin.listen.port && (listen.host === admin.listen.host || isWildcard(listen.host) || isWildcard(admin.listen.host))) {
    add(['admin', 'listen'], `uses the same address as listen (${listen.host}:${listen.port})`);
  }
  // Node refuses to create the server otherwise (ERR_OUT_OF_RANGE).
  if (config.limits.headersTimeout > config.limits.requestTimeout) {
    add(['limits', 'headersTimeout'], `must not be longer than limits.requestTimeout (${fmtMs(config.limits.requestTimeout)})`);
  }

  checkAnalysis(config.analysis, add);
  checkCapture(config, add);
  checkCollector(config, add);

  const firstByName = new Map<string, number>();
  config.routes.forEach((route, r) => {
    const at = (...rest: Path): Path => ['routes', r, ...rest];
    const earlier = firstByName.get(route.name);
    if (earlier !== undefined) add(at('name'), `duplicate route name "${route.name}" (also routes[${earlier}])`);
    else firstByName.set(route.name, r);

    checkUpstream(at('primary'), route.primary);
    if (route.secondary !== undefined && checkUpstream(at('secondary'), route.secondary) && route.secondary === route.primary) {
      add(at('secondary'), 'must differ from primary: the secondary is a second instance used to learn noise');
    }
    route.mirrors.forEach((m, i) => checkMirror(config, m, at('mirrors', i), route, add, checkUpstream));
    if (route.secondary !== undefined && route.mirrors.some((m) => m.upstream === route.secondary)) {
      add(at('secondary'), `"${route.secondary}" is also a mirror of this route: the secondary must run the primary's version, the mirrors the candidate's`);
    }
    if (route.compare) checkCompare(route.compare, at('compare'), add);
    checkHeaderNames(route.match.headers, at('match', 'headers'), add, 'condition');

    // First match wins, so a route without conditions hides every route after it.
    if (Object.keys(route.match).length === 0 && r < config.routes.length - 1) {
      add(at('match'), 'has no conditions, so it matches every request and the routes after it can never match; move it last');
    }
  });
  return issues;
}

function checkMirror(config: ValidConfig, m: Mirror, path: Path, route: Route, add: (p: Path, msg: string) => void, checkUpstream: (p: Path, n: string) => boolean): void {
  if (checkUpstream([...path, 'upstream'], m.upstream)) {
    if (m.upstream === route.primary) add([...path, 'upstream'], `"${m.upstream}" is this route's primary; a mirror must be another upstream`);
    const writes = m.methods.filter((x) => !SAFE_METHODS.has(x));
    if (writes.length > 0 && !config.upstreams[m.upstream]!.sandboxed) {
      add([...path, 'methods'], `${writes.join(', ')} change state: mirror writes only to an upstream with sandboxed: true ("${m.upstream}" is not sandboxed)`);
    }
  }
  if (m.maxBodyBytes > config.mirroring.maxBufferedBytes) {
    add([...path, 'maxBodyBytes'], `is larger than mirroring.maxBufferedBytes (${config.mirroring.maxBufferedBytes} bytes), so such a body could never be copied`);
  }
  checkHeaderNames(m.headers.set, [...path, 'headers', 'set'], add, 'header');
  for (const n of Object.keys(m.headers.set)) {
    if (MANAGED_HEADERS.has(n.toLowerCase())) add([...path, 'headers', 'set', n], managedMessage(n));
  }
  m.headers.remove.forEach((n, i) => {
    if (MANAGED_HEADERS.has(n.toLowerCase())) add([...path, 'headers', 'remove', i], managedMessage(n));
  });
}

function managedMessage(header: string): string {
  const lower = header.toLowerCase();
  if (lower === 'host') return '"host" is chosen by the mirror\'s host: setting (preserve, upstream, suffix:X or literal:NAME)';
  if (lower === 'x-tapwire-mirror') return '"x-tapwire-mirror" is the marker every copy carries; it cannot be set or removed';
  return `"${header}" is managed by tapwire (framing and hop-by-hop headers are recomputed for each copy)`;
}

/** Header names are case-insensitive, so `X-Env` and `x-env` in one mapping are the same header twice. */
function checkHeaderNames(names: Record<string, unknown> | undefined, path: Path, add: (p: Path, msg: string) => void, what: string): void {
  const seen = new Map<string, string>();
  for (const n of Object.keys(names ?? {})) {
    const lower = n.toLowerCase();
    const prior = seen.get(lower);
    if (prior !== undefined) add([...path, n], `duplicate ${what} for "${lower}" (also "${prior}"; header names are case-insensitive)`);
    else seen.set(lower, n);
  }
}
