// HDR histogram merging and the batch preparation every store shares: validate a CompareBatch up front,
// sum the deltas of one key, decode and range-check their histograms, serialise examples. Nothing here
// touches a store, so an invalid batch is rejected before anything is written.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { JsHistogram, build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { CompareBatch, DiffExample, EndpointDelta, Role } from '../compare/types.ts';
import { StoreError } from './types.ts';

/** Microseconds, 1 µs to 60 s at 3 significant digits: the shape every tapwire histogram has (src/admin/latency.ts). */
export const HDR_LOWEST = 1;
export const HDR_HIGHEST = 60_000_000;
export const HDR_DIGITS = 3;

/** An empty histogram of the standard shape; 64-bit float counts never overflow in a long-lived aggregate. */
export function newHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: HDR_LOWEST,
    highestTrackableValue: HDR_HIGHEST,
    numberOfSignificantValueDigits: HDR_DIGITS,
    bitBucketSize: 64,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** '' for an empty histogram, as in EndpointDelta.latency. */
export function encodeHistogram(h: Histogram): string {
  return h.totalCount === 0 ? '' : encodeIntoCompressedBase64(h);
}

/**
 * The histogram of an encoded string (64-bit float counts), null for ''. Throws on anything that is not a
 * V2 compressed histogram. (32-bit counts would halve the allocation but wrap silently past 2^31 in a bucket.)
 */
export function decodeHistogram(encoded: string): Histogram | null {
  if (encoded === '') return null;
  return decodeFromCompressedBase64(encoded, 64, false);
}

function isStandard(h: Histogram): boolean {
  return h instanceof JsHistogram && h.lowestDiscernibleValue === HDR_LOWEST && h.highestTrackableValue === HDR_HIGHEST && h.numberOfSignificantValueDigits === HDR_DIGITS;
}

/** Merges histograms given encoded ('' = empty) into one encoded string. */
export function mergeEncoded(...encoded: readonly string[]): string {
  const h = newHistogram();
  for (const e of encoded) {
    const d = decodeHistogram(e);
    if (d) h.add(d);
  }
  return encodeHistogram(h);
}

/** `stored` (a string this store wrote, '' = empty) plus a prepared delta's histogram, encoded. */
export function mergeInto(stored: string, delta: PreparedDelta): string {
  if (!delta.latency) return stored;
  if (stored === '') return delta.encoded ?? encodeHistogram(delta.latency);
  const h = decodeHistogram(stored)!;
  h.add(delta.latency);
  return encodeHistogram(h);
}

/**
 * Spends at most `budgetMs` of synchronous work per event-loop turn: call `tick()` between units of work.
 * A flush of 1,000 keys costs ~0.5 s of histogram merging; sliced, the data plane keeps being served.
 */
export class Slicer {
  readonly #budgetMs: number;
  #since = performance.now();
  constructor(budgetMs: number) {
    this.#budgetMs = budgetMs;
  }
  async tick(): Promise<void> {
    if (performance.now() - this.#since < this.#budgetMs) return;
    await nextTurn();
    this.#since = performance.now();
  }
}

export interface PreparedDelta {
  /** JSON of [route, endpoint, upstream, role] */
  readonly key: string;
  readonly route: string;
  readonly endpoint: string;
  readonly upstream: string;
  readonly role: Role;
  exchanges: number;
  compared: number;
  differing: number;
  errors5xx: number;
  failed: number;
  readonly fields: Map<string, number>;
  /** the sum of the key's delta histograms, standard shape; null when none carried samples */
  latency: Histogram | null;
  /** `latency` encoded, when known without encoding (one delta of the standard shape): a new row stores it as is */
  encoded: string | null;
}

export interface PreparedExample {
  /** JSON of [route, endpoint, upstream, field, slot] */
  readonly key: string;
  readonly route: string;
  readonly endpoint: string;
  readonly upstream: string;
  readonly field: string;
  readonly slot: number;
  readonly role: DiffExample['role'];
  readonly trialId: string;
  readonly at: number;
  /** JSON texts */
  readonly request: string;
  readonly left: string;
  readonly right: string;
  readonly diffs: string;
}

export interface PreparedBatch {
  readonly at: number;
  /** one per key, in order of first appearance */
  readonly deltas: readonly PreparedDelta[];
  /** in batch order; a later example for the same key replaces an earlier one */
  readonly examples: readonly PreparedExample[];
}

const ROLES: ReadonlySet<string> = new Set(['primary', 'candidate', 'secondary']);
const COUNTERS = ['exchanges', 'compared', 'differing', 'errors5xx', 'failed'] as const;

function invalid(where: string, what: string, cause?: unknown): StoreError {
  return new StoreError('invalid_batch', `invalid batch: ${where} ${what}`, cause === undefined ? undefined : { cause });
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isEpoch(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isArray(v: unknown): boolean {
  return Array.isArray(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown, where: string, nonEmpty = true): string {
  if (typeof v !== 'string' || (nonEmpty && v === '')) throw invalid(where, nonEmpty ? 'must be a non-empty string' : 'must be a string');
  return v;
}

function json(v: unknown, where: string): string {
  let out: string | undefined;
  try {
    out = JSON.stringify(v);
  } catch (err) {
    throw invalid(where, `cannot be serialised as JSON (${(err as Error).message})`, err);
  }
  if (typeof out !== 'string') throw invalid(where, 'cannot be serialised as JSON');
  return out;
}

/** Validates the whole batch and pre-merges it; throws a StoreError (`invalid_batch`) naming the first bad value. */
export async function prepareBatch(batch: CompareBatch, slicer: Slicer): Promise<PreparedBatch> {
  if (!isObject(batch)) throw invalid('batch', 'must be an object');
  if (!isEpoch(batch.at)) throw invalid('at', 'must be an epoch in integer milliseconds');
  // not Array.isArray's guard: it would narrow the typed arrays to any[]
  if (!isArray(batch.deltas)) throw invalid('deltas', 'must be an array');
  if (!isArray(batch.examples)) throw invalid('examples', 'must be an array');

  const byKey = new Map<string, PreparedDelta>();
  for (let i = 0; i < batch.deltas.length; i++) {
    await slicer.tick();
    const d: EndpointDelta | undefined = batch.deltas[i];
    const at = `deltas[${i}]`;
    if (!isObject(d)) throw invalid(at, 'must be an object');
    const route = text(d.route, `${at}.route`);
    const endpoint = text(d.endpoint, `${at}.endpoint`);
    const upstream = text(d.upstream, `${at}.upstream`);
    if (!ROLES.has(d.role)) throw invalid(`${at}.role`, "must be 'primary', 'candidate' or 'secondary'");
    for (const c of COUNTERS) if (!isCount(d[c])) throw invalid(`${at}.${c}`, 'must be a non-negative safe integer');
    if (!isObject(d.fields)) throw invalid(`${at}.fields`, 'must be an object');
    const fields = Object.entries(d.fields);
    for (const [f, n] of fields) if (!isCount(n)) throw invalid(`${at}.fields[${JSON.stringify(f)}]`, 'must be a non-negative safe integer');
    if (typeof d.latency !== 'string') throw invalid(`${at}.latency`, 'must be a string');
    let latency: Histogram | null;
    try {
      latency = decodeHistogram(d.latency);
    } catch (err) {
      throw invalid(`${at}.latency`, `is not an HDR histogram (${(err as Error).message})`, err);
    }
    if (latency && latency.totalCount === 0) latency = null;
    if (latency && latency.maxValue > HDR_HIGHEST) throw invalid(`${at}.latency`, 'holds values beyond 60 s');

    const key = JSON.stringify([route, endpoint, upstream, d.role]);
    let p = byKey.get(key);
    if (!p) {
      p = { key, route, endpoint, upstream, role: d.role, exchanges: 0, compared: 0, differing: 0, errors5xx: 0, failed: 0, fields: new Map(), latency: null, encoded: null };
      byKey.set(key, p);
    }
    for (const c of COUNTERS) p[c] += d[c];
    for (const [f, n] of fields) p.fields.set(f, (p.fields.get(f) ?? 0) + n);
    if (latency) {
      if (!p.latency && isStandard(latency)) {
        // the common case, one delta per key: no copy, and a new row keeps the string it came in
        p.latency = latency;
        p.encoded = d.latency;
      } else {
        // several deltas for the key, or another shape: sum into a standard histogram
        const sum = p.latency && p.encoded === null ? p.latency : newHistogram();
        try {
          if (p.latency && sum !== p.latency) sum.add(p.latency);
          sum.add(latency);
        } catch (err) {
          throw invalid(`${at}.latency`, `does not fit 1 µs..60 s (${(err as Error).message})`, err);
        }
        p.latency = sum;
        p.encoded = null;
      }
    }
  }
  for (const p of byKey.values()) {
    for (const c of COUNTERS) if (!Number.isSafeInteger(p[c])) throw invalid(`deltas for ${p.key}`, `sum to more than 2^53 ${c}`);
  }

  const examples: PreparedExample[] = [];
  for (let i = 0; i < batch.examples.length; i++) {
    await slicer.tick();
    const e: DiffExample | undefined = batch.examples[i];
    const at = `examples[${i}]`;
    if (!isObject(e)) throw invalid(at, 'must be an object');
    const route = text(e.route, `${at}.route`);
    const endpoint = text(e.endpoint, `${at}.endpoint`);
    const upstream = text(e.upstream, `${at}.upstream`);
    const field = text(e.field, `${at}.field`, false);
    if (e.role !== 'candidate' && e.role !== 'secondary') throw invalid(`${at}.role`, "must be 'candidate' or 'secondary'");
    if (!isCount(e.slot)) throw invalid(`${at}.slot`, 'must be a non-negative safe integer');
    const trialId = text(e.trialId, `${at}.trialId`, false);
    if (!isEpoch(e.at)) throw invalid(`${at}.at`, 'must be an epoch in integer milliseconds');
    if (!isObject(e.request) || typeof e.request.method !== 'string' || typeof e.request.path !== 'string') {
      throw invalid(`${at}.request`, 'must be an object with a method and a path');
    }
    if (!isObject(e.left)) throw invalid(`${at}.left`, 'must be an object');
    if (!isObject(e.right)) throw invalid(`${at}.right`, 'must be an object');
    if (!isArray(e.diffs)) throw invalid(`${at}.diffs`, 'must be an array');
    examples.push({
      key: JSON.stringify([route, endpoint, upstream, field, e.slot]),
      route,
      endpoint,
      upstream,
      field,
      slot: e.slot,
      role: e.role,
      trialId,
      at: e.at,
      request: json(e.request, `${at}.request`),
      left: json(e.left, `${at}.left`),
      right: json(e.right, `${at}.right`),
      diffs: json(e.diffs, `${at}.diffs`),
    });
  }
  return { at: batch.at, deltas: [...byKey.values()], examples };
}

/** An example as stores return it: the JSON texts parsed back. */
export function exampleFromRow(r: Omit<PreparedExample, 'key'>): DiffExample {
  return {
    route: r.route,
    endpoint: r.endpoint,
    upstream: r.upstream,
    role: r.role,
    field: r.field,
    slot: r.slot,
    trialId: r.trialId,
    at: r.at,
    request: JSON.parse(r.request) as DiffExample['request'],
    left: JSON.parse(r.left) as DiffExample['left'],
    right: JSON.parse(r.right) as DiffExample['right'],
    diffs: JSON.parse(r.diffs) as DiffExample['diffs'],
  };
}

/** Runs mutations one after another in call order, whatever each awaits inside. */
export class MutationQueue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const p = this.#tail.then(fn);
    this.#tail = p.catch(() => undefined);
    return p;
  }
  /** resolves once everything queued so far has settled */
  idle(): Promise<unknown> {
    return this.#tail;
  }
}
