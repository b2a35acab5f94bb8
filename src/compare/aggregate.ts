// The aggregator: folds compared trials into additive per-(route, endpoint, upstream, role) deltas and a
// bounded, redacted sample of examples, handed out by flush() as a CompareBatch for a Store to sum.
// Pure and bounded: clock and random are injected; rows, fields per row, example keys and pending
// examples all have caps, and past a cap things are counted, never queued.
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { RawHeaders } from '../core/exchange.ts';
import { REDACTED, SECRET_NAME_PATTERN, isSecretHeader, redactHeaders } from '../core/redact.ts';
import { LatencyCounts } from './latency.ts';
import type { CompareBatch, DiffExample, EndpointDelta, ExampleMessage, FieldDiff, PairResult, Role } from './types.ts';

/** One side of a trial as compare saw it. */
export interface SideResult {
  readonly upstream: string;
  readonly status?: number;
  readonly headers?: RawHeaders;
  /** decoded or raw, as given */
  readonly body?: Buffer;
  readonly truncated: boolean;
  readonly totalMs?: number;
  /** no answer (a failed outcome for a copy, a TW_ERR_* for the primary) */
  readonly failed: boolean;
}

export interface OtherSide extends SideResult {
  readonly role: 'candidate' | 'secondary';
  /** the comparison against the primary; absent when the pair was not compared (a side did not answer) */
  readonly result?: PairResult;
}

/** A trial after compare: the primary, every candidate and secondary, and each pair's result. */
export interface ComparedTrial {
  readonly trialId: string;
  readonly route: string;
  /** from an EndpointNamer */
  readonly endpoint: string;
  /** epoch ms */
  readonly at: number;
  readonly request: { readonly method: string; readonly path: string; readonly headers: RawHeaders; readonly body?: Buffer };
  readonly primary: SideResult;
  readonly others: readonly OtherSide[];
}

export interface AggregatorOptions {
  readonly now: () => number;
  /** in [0, 1), as Math.random */
  readonly random: () => number;
  /** first examples kept per (route, endpoint, upstream, field) (default 5) */
  readonly firstN?: number;
  /** reservoir slots after the first ones (default 20) */
  readonly reservoir?: number;
  /** distinct fields per row; later ones are counted under `other` (default 200) */
  readonly maxFieldsPerEndpoint?: number;
  /** examples queued between flushes; later ones are dropped and counted (default 200) */
  readonly maxExamplesPerFlush?: number;
  /** (route, endpoint, upstream, field) keys that keep sampling state; new keys past it are not sampled (default 10,000) */
  readonly maxExampleKeys?: number;
  /** rows held; a trial whose rows would pass it is counted under endpoint `other` (default 10,000; `other` rows may exceed it) */
  readonly maxRows?: number;
  /** header names to redact besides the built-in ones (src/core/redact.ts) */
  readonly secretHeaders?: readonly string[];
  /**
   * JSON values to replace with "[REDACTED]" in example bodies and diffs. Simple paths only: `$.a.b`,
   * `$.a[*].b` or `$.a.*.b` (`*` = any key or element), `$..password` (a key at any depth). Arrays are
   * transparent: `$.items.token` also covers `$.items[3].token`. A body that does not parse as JSON but
   * looks like JSON (a truncated capture) is withheld when any path is configured, since it cannot be
   * redacted reliably.
   */
  readonly redactJsonPaths?: readonly string[];
}

export interface AggregatorStats {
  /** rows held (one per route, endpoint, upstream, role seen) */
  readonly rows: number;
  readonly examplesPending: number;
  /** examples dropped because the pending queue was full, since start */
  readonly examplesDropped: number;
  /** field occurrences counted under `other` because a row had too many distinct fields, since start */
  readonly fieldsDropped: number;
  /** (route, endpoint, upstream, field) keys with sampling state */
  readonly exampleKeys: number;
  /** examples not sampled because the key table was full, since start */
  readonly exampleKeysDropped: number;
  /** trials whose endpoint was counted as `other` because the row table was full, since start */
  readonly rowsOverflowed: number;
}

export interface Aggregator {
  add(t: ComparedTrial): void;
  /** the deltas and examples since the last flush, then reset; undefined when nothing happened */
  flush(): CompareBatch | undefined;
  stats(): AggregatorStats;
}

/** The field that collects a row's differences past maxFieldsPerEndpoint (and the endpoint past maxRows). */
export const OTHER_FIELD = 'other';
/** example bodies are cut to this many bytes of UTF-8 */
export const EXAMPLE_BODY_BYTES = 16 * 1024;
/** request paths in examples are cut to this many characters */
const EXAMPLE_PATH_CHARS = 4096;
/** differences carried by one example */
const EXAMPLE_DIFFS = 50;
/** field names longer than this are cut (JSON keys are client data) */
const MAX_FIELD_CHARS = 512;
/** JSON bodies larger than this are not parsed for redaction (they are withheld when paths are configured) */
const MAX_JSON_REDACT_BYTES = 1024 * 1024;

interface Row {
  readonly route: string;
  readonly endpoint: string;
  readonly upstream: string;
  readonly role: Role;
  exchanges: number;
  compared: number;
  differing: number;
  errors5xx: number;
  failed: number;
  /** this window's counts */
  fields: Map<string, number>;
  /** every distinct field admitted so far (kept across flushes so the Store's row stays bounded too) */
  readonly known: Set<string>;
  /** this window's latency (sparse; cleared on flush) */
  readonly latency: LatencyCounts;
  touched: boolean;
}

export function createAggregator(opts: AggregatorOptions): Aggregator {
  const firstN = nonNegInt(opts.firstN, 5);
  const reservoir = nonNegInt(opts.reservoir, 20);
  const maxFields = nonNegInt(opts.maxFieldsPerEndpoint, 200);
  const maxPending = nonNegInt(opts.maxExamplesPerFlush, 200);
  const maxKeys = nonNegInt(opts.maxExampleKeys, 10_000);
  const maxRows = nonNegInt(opts.maxRows, 10_000);
  const extraSecrets = opts.secretHeaders;
  const jsonPaths = (opts.redactJsonPaths ?? []).map(parseRedactPath).filter((p): p is RedactPath => p !== undefined);

  const rows = new Map<string, Row>();
  /** examples seen per (route, endpoint, upstream, field) */
  const seen = new Map<string, number>();
  /** pending examples by (key, slot): a slot written twice in one window keeps the later example */
  let pending = new Map<string, DiffExample>();
  let examplesDropped = 0;
  let fieldsDropped = 0;
  let exampleKeysDropped = 0;
  let rowsOverflowed = 0;

  function rowKey(route: string, endpoint: string, upstream: string, role: Role): string {
    return `${route}\u0000${endpoint}\u0000${upstream}\u0000${role}`;
  }

  /**
   * The endpoint name this trial is counted under: its own, or `other` when its rows are new and the
   * row table has no room for all of them (decided once, so every side of a trial shares one name).
   */
  function endpointFor(t: ComparedTrial): string {
    if (t.endpoint === OTHER_FIELD) return t.endpoint;
    let missing = rows.has(rowKey(t.route, t.endpoint, t.primary.upstream, 'primary')) ? 0 : 1;
    for (const o of t.others) if (!rows.has(rowKey(t.route, t.endpoint, o.upstream, o.role))) missing++;
    if (missing === 0 || rows.size + missing <= maxRows) return t.endpoint;
    rowsOverflowed++;
    return OTHER_FIELD;
  }

  function rowFor(route: string, endpoint: string, upstream: string, role: Role): Row {
    const key = rowKey(route, endpoint, upstream, role);
    let r = rows.get(key);
    if (r !== undefined) return r;
    r = {
      route,
      endpoint,
      upstream,
      role,
      exchanges: 0,
      compared: 0,
      differing: 0,
      errors5xx: 0,
      failed: 0,
      fields: new Map(),
      known: new Set(),
      latency: new LatencyCounts(),
      touched: false,
    };
    rows.set(key, r);
    return r;
  }

  function countSide(r: Row, s: SideResult): void {
    r.touched = true;
    r.exchanges++;
    if (s.failed) r.failed++;
    else if (s.status !== undefined && s.status >= 500) r.errors5xx++;
  }

  function recordLatency(r: Row, ms: number | undefined): void {
    if (ms !== undefined) r.latency.record(ms);
  }

  /** The row's name for a field: itself while the row has room, `other` past the bound. */
  function admitField(r: Row, field: string): string {
    if (r.known.has(field)) return field;
    if (r.known.size < maxFields) {
      r.known.add(field);
      return field;
    }
    fieldsDropped++;
    return OTHER_FIELD;
  }

  /** The slot this example takes, or undefined when the sampler skips it. */
  function sampleSlot(key: string): number | undefined {
    let n = seen.get(key);
    if (n === undefined) {
      if (seen.size >= maxKeys) {
        exampleKeysDropped++;
        return undefined;
      }
      n = 0;
    }
    n++;
    seen.set(key, n);
    if (n <= firstN) return n - 1;
    // Algorithm R over the examples after the first N: the i-th of them is kept with probability reservoir / i.
    const i = n - firstN;
    if (i <= reservoir) return firstN + i - 1;
    const j = Math.floor(opts.random() * i);
    return j < reservoir ? firstN + j : undefined;
  }

  return {
    add(t) {
      const endpoint = endpointFor(t);
      const primaryRow = rowFor(t.route, endpoint, t.primary.upstream, 'primary');
      countSide(primaryRow, t.primary);
      // Latency over the same requests on both sides: the primary's only when a candidate was compared.
      if (t.others.some((o) => o.role === 'candidate' && o.result !== undefined)) recordLatency(primaryRow, t.primary.totalMs);

      let shown: { request: DiffExample['request']; left: DiffExample['left'] } | undefined;
      for (const o of t.others) {
        const r = rowFor(t.route, endpoint, o.upstream, o.role);
        countSide(r, o);
        const res = o.result;
        if (res === undefined) continue;
        r.compared++;
        recordLatency(r, o.totalMs);
        if (res.diffs.length === 0) continue;
        r.differing++;
        const fields = new Set<string>();
        for (const d of res.diffs) fields.add(admitField(r, cutField(d.field)));
        let right: DiffExample['right'] | undefined;
        let diffs: readonly FieldDiff[] | undefined;
        for (const f of fields) {
          r.fields.set(f, (r.fields.get(f) ?? 0) + 1);
          const key = `${t.route}\u0000${endpoint}\u0000${o.upstream}\u0000${f}`;
          const slot = sampleSlot(key);
          if (slot === undefined) continue;
          const pendingKey = `${key}\u0000${slot}`;
          // Checked before redacting anything: a full queue costs a counter, not the work of an example.
          if (!pending.has(pendingKey) && pending.size >= maxPending) {
            examplesDropped++;
            continue;
          }
          // Redacted once per pair (and the request and primary once per trial), shared by its examples.
          shown ??= {
            request: { method: t.request.method, path: redactPath(t.request.path), ...message(t.request.headers, t.request.body, false) },
            left: { ...statusOf(t.primary), ...message(t.primary.headers, t.primary.body, t.primary.truncated) },
          };
          right ??= { ...statusOf(o), ...message(o.headers, o.body, o.truncated) };
          diffs ??= res.diffs.slice(0, EXAMPLE_DIFFS).map(redactDiff);
          pending.set(pendingKey, {
            route: t.route,
            endpoint,
            upstream: o.upstream,
            role: o.role,
            field: f,
            slot,
            trialId: t.trialId,
            at: t.at,
            request: shown.request,
            left: shown.left,
            right,
            diffs,
          });
        }
      }
    },

    flush() {
      const deltas: EndpointDelta[] = [];
      for (const r of rows.values()) {
        if (!r.touched) continue;
        deltas.push({
          route: r.route,
          endpoint: r.endpoint,
          upstream: r.upstream,
          role: r.role,
          exchanges: r.exchanges,
          compared: r.compared,
          differing: r.differing,
          errors5xx: r.errors5xx,
          failed: r.failed,
          fields: Object.fromEntries([...r.fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
          latency: r.latency.encode(),
        });
        r.exchanges = r.compared = r.differing = r.errors5xx = r.failed = 0;
        r.fields = new Map();
        r.latency.clear();
        r.touched = false;
      }
      if (deltas.length === 0 && pending.size === 0) return undefined;
      deltas.sort(
        (a, b) => cmp(a.route, b.route) || cmp(a.endpoint, b.endpoint) || cmp(a.upstream, b.upstream) || cmp(a.role, b.role),
      );
      const examples = [...pending.values()];
      pending = new Map();
      return { at: opts.now(), deltas, examples };
    },

    stats() {
      return {
        rows: rows.size,
        examplesPending: pending.size,
        examplesDropped,
        fieldsDropped,
        exampleKeys: seen.size,
        exampleKeysDropped,
        rowsOverflowed,
      };
    },
  };

  function message(headers: RawHeaders | undefined, body: Buffer | undefined, truncated: boolean): ExampleMessage {
    const b = showBody(body, jsonPaths);
    return { headers: redactHeaders(headers ?? [], extraSecrets), body: b.text, truncated: truncated || b.cut };
  }

  function redactDiff(d: FieldDiff): FieldDiff {
    const out: { -readonly [K in keyof FieldDiff]: FieldDiff[K] } = { ...d };
    const side = (f: (v: unknown) => unknown): FieldDiff => {
      if ('left' in d) out.left = f(d.left);
      if ('right' in d) out.right = f(d.right);
      return out;
    };
    if (d.path.startsWith('header.')) return isSecretHeader(d.path.slice('header.'.length), extraSecrets) ? side(() => REDACTED) : d;
    if (jsonPaths.length === 0 || !d.path.startsWith('$')) return d;
    const steps = parseDiffPath(d.path);
    if (steps === undefined) return side(() => REDACTED); // unreadable: assume the worst
    const reach = reachOf(steps, jsonPaths);
    if (reach === 'whole') return side(() => REDACTED);
    if (reach === 'none') return d;
    // The diff is an ancestor of a redacted path: redact inside object values; a preview string of an
    // object or array cannot be redacted reliably and is withheld.
    return side((v) => {
      if (v !== null && typeof v === 'object') return unwrap(steps, redactValue(wrap(steps, v), jsonPaths, { changed: false }));
      if (typeof v === 'string' && /^\s*[[{]/.test(v)) return REDACTED;
      return v;
    });
  }
}

function statusOf(s: SideResult): { status?: number } {
  return s.status === undefined ? {} : { status: s.status };
}

function nonNegInt(v: number | undefined, dflt: number): number {
  if (v === undefined || !Number.isFinite(v)) return dflt;
  return Math.max(0, Math.floor(v));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cutField(f: string): string {
  return f.length > MAX_FIELD_CHARS ? `${f.slice(0, MAX_FIELD_CHARS)}…` : f;
}

// ---------------------------------------------------------------------------------------------------
// Redaction of examples

/** The path with the values of secret-looking query parameters (token, secret, session, password, api key) replaced. */
export function redactPath(path: string): string {
  const p = path.length > EXAMPLE_PATH_CHARS ? path.slice(0, EXAMPLE_PATH_CHARS) : path;
  const q = p.indexOf('?');
  if (q < 0) return p;
  const hashAt = p.indexOf('#', q);
  const query = hashAt < 0 ? p.slice(q + 1) : p.slice(q + 1, hashAt);
  const parts = query.split('&').map((kv) => {
    const eq = kv.indexOf('=');
    const rawName = eq < 0 ? kv : kv.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      // a malformed escape: judge the raw name
    }
    return SECRET_NAME_PATTERN.test(name) && eq >= 0 ? `${rawName}=${REDACTED}` : kv;
  });
  // A fragment is never forwarded; drop whatever follows `#` rather than judge it.
  return `${p.slice(0, q)}?${parts.join('&')}`;
}

/** Body text for an example: UTF-8 cut to 16 KiB at a character boundary, or a placeholder for binary. */
function showBody(body: Buffer | undefined, paths: readonly RedactPath[]): { text: string; cut: boolean } {
  if (body === undefined || body.length === 0) return { text: '', cut: false };
  const head = body.subarray(0, utf8Boundary(body, EXAMPLE_BODY_BYTES));
  if (!isUtf8(head) || head.includes(0)) return { text: binaryPlaceholder(body), cut: false };
  if (paths.length > 0 && looksLikeJson(head)) {
    const redacted = body.length <= MAX_JSON_REDACT_BYTES && isUtf8(body) ? redactJsonText(body.toString('utf8'), paths) : undefined;
    if (redacted === undefined) {
      return { text: `<${body.length} bytes of JSON withheld: it does not parse, and redactJsonPaths is set>`, cut: false };
    }
    const buf = Buffer.from(redacted, 'utf8');
    const end = utf8Boundary(buf, EXAMPLE_BODY_BYTES);
    return { text: buf.subarray(0, end).toString('utf8'), cut: end < buf.length };
  }
  return { text: head.toString('utf8'), cut: head.length < body.length };
}

function binaryPlaceholder(body: Buffer): string {
  return `<${body.length} bytes, sha256 ${createHash('sha256').update(body).digest('hex').slice(0, 16)}…>`;
}

/** The largest end <= max that does not split a UTF-8 sequence (a complete sequence at the very end stays). */
function utf8Boundary(buf: Buffer, max: number): number {
  let end = Math.min(buf.length, max);
  // Step back over continuation bytes to the lead byte of the last sequence, and keep it only if complete.
  let i = end - 1;
  let cont = 0;
  while (i >= 0 && cont < 3 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    cont++;
  }
  if (i < 0) return end;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
  if (need > cont) end = i;
  return end;
}

function looksLikeJson(head: Buffer): boolean {
  for (const b of head) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b || b === 0x5b; // { or [
  }
  return false;
}

type RedactStep = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'any' } | { readonly kind: 'deep'; readonly name: string };
type RedactPath = readonly RedactStep[];

/** `$.a.b`, `$.a[*].b`, `$.a.*`, `$..name`; undefined for anything else (ignored). */
export function parseRedactPath(p: string): RedactPath | undefined {
  if (!p.startsWith('$')) return undefined;
  const steps: RedactStep[] = [];
  const re = /\.\.([^.[\]]+)|\.([^.[\]]+)|\[\*\]|\[(\d+)\]/y;
  let at = 1;
  while (at < p.length) {
    re.lastIndex = at;
    const m = re.exec(p);
    if (m === null) return undefined;
    at = re.lastIndex;
    if (m[1] !== undefined) {
      if (m[1] === '*') return undefined;
      steps.push({ kind: 'deep', name: m[1] });
    } else if (m[2] !== undefined) steps.push(m[2] === '*' ? { kind: 'any' } : { kind: 'name', name: m[2] });
    // `[*]` or an index adds no step: arrays are transparent
  }
  return steps.length > 0 ? steps : undefined;
}

/** The JSON text with every matched value replaced, or undefined when it does not parse. Unchanged text is returned as is. */
function redactJsonText(text: string, paths: readonly RedactPath[]): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const state = { changed: false };
  const out = redactValue(doc, paths, state);
  return state.changed ? JSON.stringify(out) : text;
}

function redactValue(doc: unknown, paths: readonly RedactPath[], state: { changed: boolean }): unknown {
  let cur = doc;
  for (const p of paths) cur = apply(cur, p, 0, state);
  return cur;
}

/** Applies one path from step i to value v; returns the (possibly new) value. Arrays are transparent. */
function apply(v: unknown, path: RedactPath, i: number, state: { changed: boolean }): unknown {
  if (i >= path.length) {
    state.changed = true;
    return REDACTED;
  }
  if (Array.isArray(v)) return v.map((e: unknown) => apply(e, path, i, state));
  if (v === null || typeof v !== 'object') return v;
  const step = path[i]!;
  const obj = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(obj)) {
    let nv = val;
    if (step.kind === 'any' || (step.kind === 'name' && k === step.name)) nv = apply(val, path, i + 1, state);
    else if (step.kind === 'deep') {
      if (k === step.name) nv = apply(val, path, i + 1, state);
      else nv = apply(val, path, i, state); // keep looking deeper
    }
    Object.defineProperty(out, k, { value: nv, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

type DiffStep = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'elem' };

/** `$.a[3].b`, `$.a[id=7].b`, `$["odd key"]` into steps; undefined when it cannot be read. */
function parseDiffPath(p: string): DiffStep[] | undefined {
  if (!p.startsWith('$')) return undefined;
  const steps: DiffStep[] = [];
  const re = /\.([^.[\]]+)|\[("(?:[^"\\]|\\.)*")\]|\[([^\]]*)\]/y;
  let at = 1;
  while (at < p.length) {
    re.lastIndex = at;
    const m = re.exec(p);
    if (m === null) return undefined;
    at = re.lastIndex;
    if (m[1] !== undefined) steps.push({ kind: 'name', name: m[1] });
    else if (m[2] !== undefined) {
      try {
        steps.push({ kind: 'name', name: String(JSON.parse(m[2])) });
      } catch {
        return undefined;
      }
    } else steps.push({ kind: 'elem' });
  }
  return steps;
}

/** Wraps a diff's value at its path, so the body redaction applies to it unchanged. */
function wrap(steps: readonly DiffStep[], value: unknown): unknown {
  let v = value;
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    if (s.kind === 'elem') v = [v];
    else {
      const o: Record<string, unknown> = {};
      Object.defineProperty(o, s.name, { value: v, enumerable: true, writable: true, configurable: true });
      v = o;
    }
  }
  return v;
}

function unwrap(steps: readonly DiffStep[], wrapped: unknown): unknown {
  let v = wrapped;
  for (const s of steps) {
    if (v === null || typeof v !== 'object') return v;
    if (s.kind === 'elem') v = (v as unknown[])[0];
    else v = (v as Record<string, unknown>)[s.name];
  }
  return v;
}

/**
 * How the redaction paths meet a diff's path: `whole` when one matches the path or an ancestor of it (the
 * value is redacted), `inside` when one may match below it (redact inside the value), else `none`.
 */
function reachOf(steps: readonly DiffStep[], paths: readonly RedactPath[]): 'whole' | 'inside' | 'none' {
  let inside = false;
  for (const p of paths) {
    // The set of positions in p reached so far (a deep step may stay and advance at once).
    let at = new Set<number>([0]);
    for (const s of steps) {
      if (s.kind === 'elem') continue; // arrays are transparent
      const next = new Set<number>();
      for (const i of at) {
        const step = p[i]!;
        if (step.kind === 'any' || step.name === s.name) next.add(i + 1);
        if (step.kind === 'deep') next.add(i);
      }
      if (next.has(p.length)) return 'whole';
      at = next;
      if (at.size === 0) break;
    }
    if (at.size > 0) inside = true;
  }
  return inside ? 'inside' : 'none';
}
