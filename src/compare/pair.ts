// Compares two exchanges of one trial (primary = left, candidate or secondary = right): status, headers,
// then the body: by length and hash when either was truncated, otherwise decoded per Content-Encoding and
// compared as JSON (both JSON), text (both text) or bytes. Also turns config-ish input into compiled,
// validated options with defaults. Pure; no I/O.
import { isUtf8 } from 'node:buffer';
import type { FieldDiff, PairResult } from './types.ts';
import { decodeBody, type DecodeFailure } from './decode.ts';
import { PREVIEW_CHARS, cut, diffJson, type Tolerance } from './diff.ts';
import { compileHeaderRules, diffHeaders, headerMap, type HeaderRules } from './headers.ts';
import { isJsonContentType, looksLikeJson, mediaType, parseJson } from './json.ts';
import { CompiledRules, RuleError, isList, parseArrayMode, parsePath, type ArrayModeInput } from './rules.ts';
import { describeBytes, diffText } from './text.ts';

/** One side of a pair, as an Exchange carries it. */
export interface Side {
  readonly status?: number;
  /** flat [name, value, ...] */
  readonly headers?: readonly string[];
  /** body bytes as received (still content-encoded), up to the capture cap */
  readonly body?: Buffer;
  /** total body bytes seen (may exceed body.length) */
  readonly bodyBytes: number;
  readonly truncated: boolean;
  /**
   * A cache for a side compared more than once (the primary against each candidate and the secondary): its
   * decoded body and parsed JSON are computed on the first pair and reused. Give each side its own object.
   */
  readonly memo?: SideMemo;
}

export interface SideMemo {
  decoded?: ReturnType<typeof decodeBody>;
  json?: ReturnType<typeof parseJson>;
}

export interface PairLimits {
  /** most bytes a body may decode to (decode_limit) */
  readonly maxDecodedBytes: number;
  /** most decoded bytes per encoded byte, past 64 KiB decoded (decode_limit) */
  readonly maxExpansionRatio: number;
  /** largest body parsed as JSON (json_limit) */
  readonly maxJsonBytes: number;
  /** deepest JSON nesting (json_limit); at most MAX_DEPTH_CAP */
  readonly maxDepth: number;
  /** most diffs kept per pair, status and headers included (overflow) */
  readonly maxDiffs: number;
  /** most JSON nodes visited per pair (budget) */
  readonly maxNodes: number;
}

export const DEFAULT_LIMITS: PairLimits = Object.freeze({
  maxDecodedBytes: 8 * 1024 * 1024,
  maxExpansionRatio: 100,
  maxJsonBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxDiffs: 100,
  maxNodes: 200_000,
});

export const DEFAULT_TOLERANCE: Tolerance = Object.freeze({ absolute: 0, relative: 0 });

/** maxDepth bounds the differ's recursion; this keeps it far from the stack's limit. */
export const MAX_DEPTH_CAP = 1000;

/** What the config holds for comparing (all optional). */
export interface PairOptionsInput {
  /** header names never compared, on top of DEFAULT_IGNORED_HEADERS */
  readonly ignoreHeaders?: readonly string[];
  /** JSON paths never compared: `$.meta.generatedAt`, `$.items[*].updatedAt`, `$..requestId`, `$.a.*` */
  readonly ignore?: readonly string[];
  /** JSON array path → 'index' (default) | 'set' | 'key:<field>'; the first matching pattern wins */
  readonly arrays?: Readonly<Record<string, ArrayModeInput>>;
  readonly tolerance?: { readonly absolute?: number; readonly relative?: number };
  readonly limits?: Partial<PairLimits>;
}

/** Compiled options: build once per config (compilePairOptions), use for every pair. */
export interface PairOptions {
  readonly rules: CompiledRules;
  readonly headers: HeaderRules;
  readonly tolerance: Tolerance;
  readonly limits: PairLimits;
}

/** A bad compare option; `key` is where it is, relative to the compare config (`ignore[2]`, `limits.maxDepth`). */
export class CompareOptionsError extends Error {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${key}: ${detail}`);
    this.name = 'CompareOptionsError';
  }
}

function integerIn(key: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new CompareOptionsError(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function nonNegative(key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new CompareOptionsError(key, `must be a finite number >= 0, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Validates and compiles compare options, filling defaults. Throws CompareOptionsError naming the bad
 * entry (`ignore[1]: rule "$.a[": unterminated "[" at position 3`).
 */
export function compilePairOptions(input: PairOptionsInput = {}): PairOptions {
  const ignore: readonly string[] = input.ignore ?? [];
  if (!isList(ignore)) throw new CompareOptionsError('ignore', 'must be a list of JSON paths');
  ignore.forEach((rule, i) => {
    try {
      parsePath(rule);
    } catch (e) {
      throw new CompareOptionsError(`ignore[${i}]`, e instanceof Error ? e.message : String(e));
    }
  });
  const arrays = input.arrays ?? {};
  if (typeof arrays !== 'object' || arrays === null || Array.isArray(arrays)) throw new CompareOptionsError('arrays', 'must be a map of JSON path → index | set | key:<field>');
  for (const [path, mode] of Object.entries(arrays)) {
    try {
      parsePath(path);
      parseArrayMode(path, mode);
    } catch (e) {
      throw new CompareOptionsError(`arrays[${JSON.stringify(path)}]`, e instanceof Error ? e.message : String(e));
    }
  }
  let rules: CompiledRules;
  try {
    rules = new CompiledRules({ ignore, arrays });
  } catch (e) {
    if (e instanceof RuleError) throw new CompareOptionsError('ignore', e.message);
    throw e;
  }
  let headers: HeaderRules;
  try {
    headers = compileHeaderRules(input.ignoreHeaders ?? []);
  } catch (e) {
    throw new CompareOptionsError('ignoreHeaders', e instanceof Error ? e.message : String(e));
  }
  const t = input.tolerance ?? {};
  const tolerance: Tolerance = Object.freeze({
    absolute: nonNegative('tolerance.absolute', t.absolute ?? DEFAULT_TOLERANCE.absolute),
    relative: nonNegative('tolerance.relative', t.relative ?? DEFAULT_TOLERANCE.relative),
  });
  const l = input.limits ?? {};
  const big = Number.MAX_SAFE_INTEGER;
  const limits: PairLimits = Object.freeze({
    maxDecodedBytes: integerIn('limits.maxDecodedBytes', l.maxDecodedBytes ?? DEFAULT_LIMITS.maxDecodedBytes, 1, 0x7fffffff),
    maxExpansionRatio: (() => {
      const v = l.maxExpansionRatio ?? DEFAULT_LIMITS.maxExpansionRatio;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) throw new CompareOptionsError('limits.maxExpansionRatio', `must be a number >= 1, got ${JSON.stringify(v)}`);
      return v;
    })(),
    maxJsonBytes: integerIn('limits.maxJsonBytes', l.maxJsonBytes ?? DEFAULT_LIMITS.maxJsonBytes, 1, 0x7fffffff),
    maxDepth: integerIn('limits.maxDepth', l.maxDepth ?? DEFAULT_LIMITS.maxDepth, 1, MAX_DEPTH_CAP),
    maxDiffs: integerIn('limits.maxDiffs', l.maxDiffs ?? DEFAULT_LIMITS.maxDiffs, 0, big),
    maxNodes: integerIn('limits.maxNodes', l.maxNodes ?? DEFAULT_LIMITS.maxNodes, 1, big),
  });
  return Object.freeze({ rules, headers, tolerance, limits });
}

const EMPTY = Buffer.alloc(0);

type BodyMode = PairResult['bodyMode'];
type Skipped = NonNullable<PairResult['skipped']>;

interface BodyResult {
  readonly diffs: readonly FieldDiff[];
  readonly overflow: boolean;
  readonly bodyMode: BodyMode;
  readonly skipped?: Skipped;
}

/** How many bytes are sampled for the "mostly printable" test. */
const SNIFF_BYTES = 4096;

/**
 * Text by content type (text/*, a charset parameter, XML, JavaScript, form data) or, for anything else,
 * valid UTF-8 with no NUL and at most 1 control byte in 32 of the first 4 KiB.
 */
export function isTextual(contentType: string | undefined, body: Buffer): boolean {
  const m = mediaType(contentType);
  if (m.startsWith('text/') || /;\s*charset=/i.test(contentType ?? '')) return true;
  if (m.endsWith('+xml') || m === 'application/xml' || m === 'application/javascript' || m === 'application/x-www-form-urlencoded') return true;
  if (!isUtf8(body)) return false;
  const n = Math.min(body.length, SNIFF_BYTES);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = body[i]!;
    if (b === 0) return false;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f) control++;
  }
  return control * 32 <= n;
}

/** A body as shown in a diff: the start of its text, or `<N bytes, sha256 …>` for bytes. */
function bodyPreview(body: Buffer, contentType: string | undefined): string {
  if (body.length === 0) return '';
  if (!isTextual(contentType, body)) return describeBytes(body);
  return cut(body.toString('utf8', 0, Math.min(body.length, PREVIEW_CHARS * 4)), PREVIEW_CHARS);
}

function bodyDiff(kind: FieldDiff['kind'], left: string, right: string): FieldDiff {
  if (kind === 'added') return { path: 'body', field: 'body', kind, right };
  if (kind === 'removed') return { path: 'body', field: 'body', kind, left };
  return { path: 'body', field: 'body', kind, left, right };
}

/** Mode of one decoded side without parsing it (used when both bodies are equal). */
function cheapMode(body: Buffer, contentType: string | undefined): BodyMode {
  if (body.length === 0) return 'empty';
  if (isJsonContentType(contentType) || looksLikeJson(body)) return 'json';
  return isTextual(contentType, body) ? 'text' : 'binary';
}

/** Mode by content type alone (for an encoded body that is not decoded). */
function modeByType(contentType: string | undefined): BodyMode {
  if (isJsonContentType(contentType)) return 'json';
  return mediaType(contentType).startsWith('text/') || /;\s*charset=/i.test(contentType ?? '') ? 'text' : 'binary';
}

function compareBodies(l: Side, r: Side, lh: Map<string, string>, rh: Map<string, string>, opts: PairOptions, room: number): BodyResult {
  const lb = l.body ?? EMPTY;
  const rb = r.body ?? EMPTY;
  // a body that was not (wholly) kept is compared by its length and the hash of what was kept
  const lTrunc = l.truncated || lb.length < l.bodyBytes;
  const rTrunc = r.truncated || rb.length < r.bodyBytes;
  if (lTrunc || rTrunc) {
    const n = Math.min(lb.length, rb.length);
    const same = l.bodyBytes === r.bodyBytes && lb.compare(rb, 0, n, 0, n) === 0;
    if (same) return { diffs: [], overflow: false, bodyMode: 'binary', skipped: 'truncated' };
    return limited([bodyDiff('changed', describeBytes(lb, l.bodyBytes), describeBytes(rb, r.bodyBytes))], room, 'binary', 'truncated');
  }
  const lEnc = lh.get('content-encoding');
  const rEnc = rh.get('content-encoding');
  const lType = lh.get('content-type');
  const rType = rh.get('content-type');
  if (lb.length === 0 && rb.length === 0) return { diffs: [], overflow: false, bodyMode: 'empty' };
  // identical bytes under the same coding: nothing to decode or parse
  if (lEnc === rEnc && lb.equals(rb)) {
    return { diffs: [], overflow: false, bodyMode: lEnc === undefined ? cheapMode(lb, lType) : modeByType(lType) };
  }
  const { limits } = opts;
  const ld = l.memo ? (l.memo.decoded ??= decodeBody(lb, lEnc, limits)) : decodeBody(lb, lEnc, limits);
  const rd = r.memo ? (r.memo.decoded ??= decodeBody(rb, rEnc, limits)) : decodeBody(rb, rEnc, limits);
  if (!ld.ok || !rd.ok) {
    const reason: DecodeFailure = !ld.ok ? ld.reason : (rd as { reason: DecodeFailure }).reason;
    const skipped: Skipped = reason === 'decode_limit' ? 'decode_limit' : 'decode_error';
    // the encoded bytes differ (checked above unless the codings differ)
    const diffs = lb.equals(rb) ? [] : [bodyDiff('changed', describeBytes(lb), describeBytes(rb))];
    return limited(diffs, room, 'binary', skipped);
  }
  const lbody = ld.body;
  const rbody = rd.body;
  if (lbody.equals(rbody)) return { diffs: [], overflow: false, bodyMode: cheapMode(lbody, lType) };
  if (lbody.length === 0) return limited([bodyDiff('added', '', bodyPreview(rbody, rType))], room, cheapMode(rbody, rType));
  if (rbody.length === 0) return limited([bodyDiff('removed', bodyPreview(lbody, lType), '')], room, cheapMode(lbody, lType));

  // JSON when both are (by content type, or sniffed and parseable)
  const lJsonish = isJsonContentType(lType) || looksLikeJson(lbody);
  const rJsonish = isJsonContentType(rType) || looksLikeJson(rbody);
  const lj = lJsonish ? (l.memo ? (l.memo.json ??= parseJson(lbody, limits)) : parseJson(lbody, limits)) : undefined;
  const rj = rJsonish ? (r.memo ? (r.memo.json ??= parseJson(rbody, limits)) : parseJson(rbody, limits)) : undefined;
  if ((lj !== undefined && !lj.ok && lj.reason === 'json_limit') || (rj !== undefined && !rj.ok && rj.reason === 'json_limit')) {
    return limited([bodyDiff('changed', describeBytes(lbody), describeBytes(rbody))], room, 'json', 'json_limit');
  }
  const lIsJson = lj !== undefined && lj.ok;
  const rIsJson = rj !== undefined && rj.ok;
  if (lIsJson && rIsJson) {
    const res = diffJson(lj.value, rj.value, {
      rules: opts.rules,
      tolerance: opts.tolerance,
      maxDiffs: room,
      maxNodes: limits.maxNodes,
      maxDepth: limits.maxDepth,
    });
    return res.skipped === undefined
      ? { diffs: res.diffs, overflow: res.overflow, bodyMode: 'json' }
      : { diffs: res.diffs, overflow: res.overflow, bodyMode: 'json', skipped: res.skipped };
  }
  const lText = lIsJson || isTextual(lType, lbody);
  const rText = rIsJson || isTextual(rType, rbody);
  const lMode: BodyMode = lIsJson ? 'json' : lText ? 'text' : 'binary';
  const rMode: BodyMode = rIsJson ? 'json' : rText ? 'text' : 'binary';
  if (lMode !== rMode) {
    // JSON on one side only (an HTML error page instead of JSON), or text against bytes
    return limited([bodyDiff('type_changed', bodyPreview(lbody, lType), bodyPreview(rbody, rType))], room, lMode);
  }
  if (lMode === 'text') return limited(diffText(lbody, rbody), room, 'text');
  return limited([bodyDiff('changed', describeBytes(lbody), describeBytes(rbody))], room, 'binary');
}

function limited(diffs: readonly FieldDiff[], room: number, bodyMode: BodyMode, skipped?: Skipped): BodyResult {
  const overflow = diffs.length > room;
  const kept = overflow ? diffs.slice(0, room) : diffs;
  return skipped === undefined ? { diffs: kept, overflow, bodyMode } : { diffs: kept, overflow, bodyMode, skipped };
}

/**
 * Compares two sides of a trial: `status`, then `header.<name>` (sorted by name), then the body. At most
 * opts.limits.maxDiffs diffs in all; `overflow` says more existed. See PairResult for `bodyMode`/`skipped`.
 */
export function comparePair(left: Side, right: Side, opts: PairOptions): PairResult {
  const max = opts.limits.maxDiffs;
  const diffs: FieldDiff[] = [];
  let overflow = false;
  if (left.status !== right.status) {
    const d: FieldDiff =
      left.status === undefined
        ? { path: 'status', field: 'status', kind: 'added', right: right.status }
        : right.status === undefined
          ? { path: 'status', field: 'status', kind: 'removed', left: left.status }
          : { path: 'status', field: 'status', kind: 'changed', left: left.status, right: right.status };
    if (max > 0) diffs.push(d);
    else overflow = true;
  }
  const lh = headerMap(left.headers);
  const rh = headerMap(right.headers);
  for (const d of diffHeaders(lh, rh, opts.headers)) {
    if (diffs.length < max) diffs.push(d);
    else overflow = true;
  }
  const body = compareBodies(left, right, lh, rh, opts, Math.max(0, max - diffs.length));
  for (const d of body.diffs) diffs.push(d);
  overflow ||= body.overflow;
  return body.skipped === undefined
    ? { diffs, overflow, bodyMode: body.bodyMode }
    : { diffs, overflow, bodyMode: body.bodyMode, skipped: body.skipped };
}
