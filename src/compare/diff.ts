// The JSON differ: walks two parsed JSON values side by side and lists FieldDiffs (`$.items[3].price`,
// field `$.items[*].price`). Ignore rules prune during the walk; arrays compare by index, as a multiset or by
// a key field; numbers within a tolerance are equal. Bounded: at most maxDiffs diffs (then `overflow`), at
// most maxNodes nodes (then skipped 'budget'), recursion never deeper than maxDepth.
// Output order is canonical (object keys sorted), so it does not depend on the key order of either input.
import type { FieldDiff } from './types.ts';
import { NO_MATCH, renderKey, renderLabel, type CompiledRules, type MatchState } from './rules.ts';

/** Numbers a and b are equal when |a − b| <= absolute or |a − b| <= relative × max(|a|, |b|). */
export interface Tolerance {
  readonly absolute: number;
  readonly relative: number;
}

export interface DiffOptions {
  readonly rules: CompiledRules;
  readonly tolerance: Tolerance;
  /** most diffs kept; one more sets `overflow` */
  readonly maxDiffs: number;
  /** most nodes visited (both sides together count once per pair of nodes) before giving up with 'budget' */
  readonly maxNodes: number;
  /** deepest container nesting walked; deeper input (only possible when not parsed by parseJson) is 'json_limit' */
  readonly maxDepth: number;
}

export interface JsonDiffResult {
  readonly diffs: FieldDiff[];
  readonly overflow: boolean;
  readonly skipped?: 'budget' | 'json_limit';
}

/** Strings in previews are cut to this many characters (plus '…'). */
export const PREVIEW_CHARS = 120;

/** A short stand-in for a value: primitives as they are, strings cut, objects `{…3 keys}`, arrays `[…5 items]`. */
export function preview(v: unknown): unknown {
  if (typeof v === 'string') return cut(v, PREVIEW_CHARS);
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[…${v.length} ${v.length === 1 ? 'item' : 'items'}]`;
  const n = Object.keys(v).length;
  return n === 0 ? '{}' : `{…${n} ${n === 1 ? 'key' : 'keys'}}`;
}

/** `s` cut to at most `max` UTF-16 units plus '…', never splitting a surrogate pair. */
export function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, end) + '…';
}

export function numbersEqual(a: number, b: number, tol: Tolerance): boolean {
  if (a === b) return true;
  const d = Math.abs(a - b);
  return d <= tol.absolute || d <= tol.relative * Math.max(Math.abs(a), Math.abs(b));
}

// value types
const T_NULL = 0;
const T_BOOL = 1;
const T_NUM = 2;
const T_STR = 3;
const T_ARR = 4;
const T_OBJ = 5;
const T_OTHER = 6;

function typeOf(v: unknown): number {
  if (v === null) return T_NULL;
  switch (typeof v) {
    case 'object':
      return Array.isArray(v) ? T_ARR : T_OBJ;
    case 'string':
      return T_STR;
    case 'number':
      return T_NUM;
    case 'boolean':
      return T_BOOL;
    default:
      return T_OTHER;
  }
}

type Obj = Record<string, unknown>;

/** An own property of a parsed JSON object, or undefined (never an inherited member such as `toString`). */
function own(o: Obj, k: string): unknown {
  const v = o[k];
  if (v === undefined || typeof v === 'function') return undefined;
  if (k === '__proto__' && !Object.hasOwn(o, k)) return undefined;
  return v;
}

type KeyValue = string | number | boolean;

function keyOf(el: unknown, field: string): KeyValue | undefined {
  if (el === null || typeof el !== 'object' || Array.isArray(el)) return undefined;
  const v = own(el as Obj, field);
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
}

/** The key values of every element, or undefined when one is missing or repeated (then: by index). */
function keysOf(a: readonly unknown[], field: string): KeyValue[] | undefined {
  const out = new Array<KeyValue>(a.length);
  for (let i = 0; i < a.length; i++) {
    const kv = keyOf(a[i], field);
    if (kv === undefined) return undefined;
    out[i] = kv;
  }
  if (a.length <= 16) {
    for (let i = 1; i < out.length; i++) for (let j = 0; j < i; j++) if (out[i] === out[j]) return undefined;
  } else if (new Set(out).size !== out.length) {
    return undefined;
  }
  return out;
}

function aligned(a: readonly KeyValue[], b: readonly KeyValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The canonical text of a container in a set array (a class, so it never equals a primitive key). */
class Canon {
  constructor(readonly text: string) {}
}
const IGNORED_ELEMENT = Symbol('ignored');

// path segment kinds
const K_KEY = 0;
const K_INDEX = 1;
const K_LABEL = 2;

// why a walk stopped
const H_NONE = 0;
const H_OVERFLOW = 1;
const H_BUDGET = 2;
const H_DEPTH = 3;

type Ord = string | number;

function compareOrd(a: readonly Ord[], b: readonly Ord[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * One walk. The current path lives in parallel arrays indexed by depth (kind, value, key field, sort
 * ordinal) and is rendered to a string only when a diff is emitted. With `sorted`, object keys are visited
 * in sorted order (the canonical order); otherwise in the left's order and the diffs are sorted afterwards.
 */
class Walker {
  readonly out: FieldDiff[] = [];
  /** per emitted diff, its path as sort ordinals (unsorted walks only) */
  readonly ords: Ord[][] = [];
  halt = H_NONE;
  private nodes = 0;
  private len = 0;
  private readonly kinds: number[] = [];
  private readonly vals: KeyValue[] = [];
  private readonly fields: string[] = [];
  private readonly ord: Ord[] = [];
  private readonly abs: number;
  private readonly rel: number;

  constructor(
    private readonly o: DiffOptions,
    private readonly sorted: boolean,
  ) {
    this.abs = o.tolerance.absolute;
    this.rel = o.tolerance.relative;
  }

  /** Counts n visited nodes; true (and halted) when over budget. */
  private charge(n: number): boolean {
    this.nodes += n;
    if (this.nodes > this.o.maxNodes) {
      this.halt = H_BUDGET;
      return true;
    }
    return false;
  }

  private emit(kind: FieldDiff['kind'], l: unknown, r: unknown): void {
    if (this.out.length >= this.o.maxDiffs) {
      this.halt = H_OVERFLOW;
      return;
    }
    let path = '$';
    let field = '$';
    for (let i = 0; i < this.len; i++) {
      const k = this.kinds[i];
      if (k === K_KEY) {
        const s = renderKey(this.vals[i] as string);
        path += s;
        field += s;
      } else if (k === K_INDEX) {
        path += `[${this.vals[i] as number}]`;
        field += '[*]';
      } else {
        path += `[${renderLabel(this.fields[i]!, this.vals[i]!)}]`;
        field += '[*]';
      }
    }
    const d: FieldDiff =
      kind === 'added'
        ? { path, field, kind, right: preview(r) }
        : kind === 'removed'
          ? { path, field, kind, left: preview(l) }
          : { path, field, kind, left: preview(l), right: preview(r) };
    this.out.push(d);
    if (!this.sorted) this.ords.push(this.ord.slice(0, this.len));
  }

  walk(l: unknown, r: unknown, st: MatchState): void {
    if (++this.nodes > this.o.maxNodes) {
      this.halt = H_BUDGET;
      return;
    }
    if (l === r) return;
    const tl = typeOf(l);
    const tr = typeOf(r);
    if (tl !== tr) {
      this.emit('type_changed', l, r);
      return;
    }
    switch (tl) {
      case T_NUM: {
        const a = l as number;
        const b = r as number;
        const diff = Math.abs(a - b);
        if (diff > this.abs && diff > this.rel * Math.max(Math.abs(a), Math.abs(b))) this.emit('changed', l, r);
        return;
      }
      case T_OBJ:
        if (this.len >= this.o.maxDepth) this.halt = H_DEPTH;
        else this.walkObject(l as Obj, r as Obj, st);
        return;
      case T_ARR:
        if (this.len >= this.o.maxDepth) this.halt = H_DEPTH;
        else this.walkArray(l as unknown[], r as unknown[], st);
        return;
      default:
        // strings, booleans (and anything non-JSON) that are not identical
        this.emit('changed', l, r);
    }
  }

  private walkObject(l: Obj, r: Obj, st: MatchState): void {
    const d = this.len++;
    this.kinds[d] = K_KEY;
    if (!this.sorted) {
      let shared = 0;
      for (const k in l) {
        const rv = own(r, k);
        if (rv !== undefined) shared++;
        const cs = st.key(k);
        if (cs.ignored) continue;
        this.vals[d] = k;
        this.ord[d] = k;
        if (rv === undefined) {
          if (this.charge(1)) break;
          this.emit('removed', l[k], undefined);
        } else {
          this.walk(l[k], rv, cs);
        }
        if (this.halt !== H_NONE) break;
      }
      // keys only the right has: none when every right key was seen from the left
      if (this.halt === H_NONE && Object.keys(r).length !== shared) {
        for (const k in r) {
          if (own(l, k) !== undefined || own(r, k) === undefined) continue;
          const cs = st.key(k);
          if (cs.ignored) continue;
          if (this.charge(1)) break;
          this.vals[d] = k;
          this.ord[d] = k;
          this.emit('added', undefined, r[k]);
          if (this.halt !== H_NONE) break;
        }
      }
    } else {
      const lk = Object.keys(l).sort();
      const rk = Object.keys(r).sort();
      let i = 0;
      let j = 0;
      while (i < lk.length || j < rk.length) {
        const a = lk[i];
        const b = rk[j];
        let k: string;
        let side: number; // -1 left only, 0 both, 1 right only
        if (b === undefined || (a !== undefined && a < b)) {
          k = a!;
          side = -1;
          i++;
        } else if (a === undefined || b < a) {
          k = b;
          side = 1;
          j++;
        } else {
          k = a;
          side = 0;
          i++;
          j++;
        }
        const cs = st.key(k);
        if (cs.ignored) continue;
        this.vals[d] = k;
        this.ord[d] = k;
        const lv = side <= 0 ? own(l, k) : undefined;
        const rv = side >= 0 ? own(r, k) : undefined;
        if (lv !== undefined && rv !== undefined) {
          this.walk(lv, rv, cs);
        } else if (lv !== undefined || rv !== undefined) {
          if (this.charge(1)) break;
          this.emit(lv === undefined ? 'added' : 'removed', lv, rv);
        }
        if (this.halt !== H_NONE) break;
      }
    }
    this.len--;
  }

  private walkArray(l: unknown[], r: unknown[], st: MatchState): void {
    const mode = st.arrayMode;
    if (mode === undefined || mode === 'index') this.byIndex(l, r, st);
    else if (mode === 'set') this.asSet(l, r, st);
    else this.byKey(l, r, st, mode.key);
  }

  private byIndex(l: unknown[], r: unknown[], st: MatchState): void {
    const n = Math.min(l.length, r.length);
    const d = this.len++;
    this.kinds[d] = K_INDEX;
    for (let i = 0; i < n; i++) {
      const cs = st.index(i);
      if (cs.ignored) continue;
      this.vals[d] = i;
      this.ord[d] = i;
      this.walk(l[i], r[i], cs);
      if (this.halt !== H_NONE) break;
    }
    // one side longer: the rest is removed (left longer) or added (right longer)
    const longer = l.length > n ? l : r;
    const kind = l.length > n ? 'removed' : 'added';
    for (let i = n; i < longer.length && this.halt === H_NONE; i++) {
      if (st.index(i).ignored) continue;
      if (this.charge(1)) break;
      this.vals[d] = i;
      this.ord[d] = i;
      this.emit(kind, longer[i], longer[i]);
    }
    this.len--;
  }

  /** The state of a keyed element; the label is rendered only when a rule names labels. */
  private labelState(st: MatchState, field: string, kv: KeyValue): MatchState {
    if (st.dead) return NO_MATCH;
    return st.hasLabels ? st.label(renderLabel(field, kv)) : st.anyLabel();
  }

  /** Elements matched by the value of `field`; falls back to by-index when a key is missing or repeated. */
  private byKey(l: unknown[], r: unknown[], st: MatchState, field: string): void {
    if (this.charge(l.length + r.length)) return;
    const lkeys = keysOf(l, field);
    const rkeys = lkeys === undefined ? undefined : keysOf(r, field);
    if (lkeys === undefined || rkeys === undefined) return this.byIndex(l, r, st);
    const d = this.len++;
    this.kinds[d] = K_LABEL;
    this.fields[d] = field;
    let ordinal = 0;
    if (aligned(lkeys, rkeys)) {
      // the common case: same keys in the same order, no lookups needed
      for (let i = 0; i < l.length; i++) {
        const kv = lkeys[i]!;
        const cs = this.labelState(st, field, kv);
        this.vals[d] = kv;
        this.ord[d] = i;
        if (cs.ignored) continue;
        this.walk(l[i], r[i], cs);
        if (this.halt !== H_NONE) break;
      }
      this.len--;
      return;
    }
    const rmap = new Map<KeyValue, number>();
    for (let j = 0; j < r.length; j++) rmap.set(rkeys[j]!, j);
    for (let i = 0; i < l.length; i++) {
      const kv = lkeys[i]!;
      const cs = this.labelState(st, field, kv);
      this.vals[d] = kv;
      this.ord[d] = ordinal++;
      if (cs.ignored) continue;
      const j = rmap.get(kv);
      if (j === undefined) {
        if (this.charge(1)) break;
        this.emit('removed', l[i], undefined);
      } else {
        this.walk(l[i], r[j], cs);
      }
      if (this.halt !== H_NONE) break;
    }
    if (this.halt === H_NONE) {
      const lset = new Set<KeyValue>(lkeys);
      for (let j = 0; j < r.length && this.halt === H_NONE; j++) {
        const kv = rkeys[j]!;
        if (lset.has(kv)) continue;
        const cs = this.labelState(st, field, kv);
        this.vals[d] = kv;
        this.ord[d] = ordinal++;
        if (cs.ignored) continue;
        if (this.charge(1)) break;
        this.emit('added', undefined, r[j]);
      }
    }
    this.len--;
  }

  /**
   * Order-insensitive: elements with equal canonical forms (sorted keys, ignored fields left out) match
   * one to one; the leftovers are paired in order and diffed (so tolerance and field-level changes still
   * show), and what remains is removed (left) or added (right, at its own index).
   */
  private asSet(l: unknown[], r: unknown[], st: MatchState): void {
    if (this.charge(l.length + r.length)) return;
    // the common case: the same primitives in the same order
    if (l.length === r.length) {
      let i = 0;
      while (i < l.length && l[i] === r[i] && (typeof l[i] !== 'object' || l[i] === null)) i++;
      if (i === l.length) return;
    }
    const depth = this.len + 1;
    // canonical forms: primitives are their own key, containers a canonical string (kept in another map)
    const lc = new Array<unknown>(l.length);
    for (let i = 0; i < l.length && this.halt === H_NONE; i++) {
      const cs = st.index(i);
      lc[i] = cs.ignored ? IGNORED_ELEMENT : this.canonKey(l[i], cs, depth);
    }
    const rc = new Array<unknown>(r.length);
    for (let j = 0; j < r.length && this.halt === H_NONE; j++) {
      const cs = st.index(j);
      rc[j] = cs.ignored ? IGNORED_ELEMENT : this.canonKey(r[j], cs, depth);
    }
    if (this.halt !== H_NONE) return;
    // queues of right indices per canonical form, smallest index last (so pop() takes it)
    const prims = new Map<unknown, number[]>();
    const conts = new Map<string, number[]>();
    for (let j = r.length - 1; j >= 0; j--) {
      const c = rc[j];
      if (c === IGNORED_ELEMENT) continue;
      const pool: Map<unknown, number[]> = c instanceof Canon ? conts : prims;
      const key = c instanceof Canon ? c.text : c;
      const q = pool.get(key);
      if (q === undefined) pool.set(key, [j]);
      else q.push(j);
    }
    const matched = new Uint8Array(r.length);
    const leftOver: number[] = [];
    for (let i = 0; i < l.length; i++) {
      const c = lc[i];
      if (c === IGNORED_ELEMENT) continue;
      const q = c instanceof Canon ? conts.get(c.text) : prims.get(c);
      if (q !== undefined && q.length > 0) matched[q.pop()!] = 1;
      else leftOver.push(i);
    }
    const rightOver: number[] = [];
    for (let j = 0; j < r.length; j++) if (rc[j] !== IGNORED_ELEMENT && matched[j] === 0) rightOver.push(j);
    const pairs = Math.min(leftOver.length, rightOver.length);
    const d = this.len++;
    this.kinds[d] = K_INDEX;
    let ordinal = 0;
    for (let k = 0; k < pairs; k++) {
      const i = leftOver[k]!;
      this.vals[d] = i;
      this.ord[d] = ordinal++;
      this.walk(l[i], r[rightOver[k]!], st.index(i));
      if (this.halt !== H_NONE) break;
    }
    for (let k = pairs; k < leftOver.length && this.halt === H_NONE; k++) {
      const i = leftOver[k]!;
      if (this.charge(1)) break;
      this.vals[d] = i;
      this.ord[d] = ordinal++;
      this.emit('removed', l[i], undefined);
    }
    for (let k = pairs; k < rightOver.length && this.halt === H_NONE; k++) {
      const j = rightOver[k]!;
      if (this.charge(1)) break;
      this.vals[d] = j;
      this.ord[d] = ordinal++;
      this.emit('added', undefined, r[j]);
    }
    this.len--;
  }

  /** A set element's matching key: a primitive itself, or a Canon of a container. */
  private canonKey(v: unknown, st: MatchState, depth: number): unknown {
    if (v === null || typeof v !== 'object') {
      if (++this.nodes > this.o.maxNodes) this.halt = H_BUDGET;
      return v;
    }
    return new Canon(this.canon(v, st, depth));
  }

  /** Canonical text of a value: keys sorted, ignored members left out, set/keyed arrays sorted. */
  private canon(v: unknown, st: MatchState, depth: number): string {
    if (++this.nodes > this.o.maxNodes) {
      this.halt = H_BUDGET;
      return '';
    }
    const t = typeOf(v);
    if (t === T_STR) return JSON.stringify(v);
    if (t !== T_ARR && t !== T_OBJ) return String(v);
    if (depth >= this.o.maxDepth) {
      this.halt = H_DEPTH;
      return '';
    }
    if (t === T_ARR) {
      const a = v as unknown[];
      const mode = st.arrayMode;
      const parts: string[] = [];
      for (let i = 0; i < a.length && this.halt === H_NONE; i++) {
        const cs = st.index(i);
        if (!cs.ignored) parts.push(this.canon(a[i], cs, depth + 1));
      }
      if (mode !== undefined && mode !== 'index') parts.sort();
      return `[${parts.join(',')}]`;
    }
    const o = v as Obj;
    const keys = Object.keys(o).sort();
    let s = '{';
    for (let i = 0; i < keys.length && this.halt === H_NONE; i++) {
      const k = keys[i]!;
      const cs = st.key(k);
      if (cs.ignored) continue;
      s += `${JSON.stringify(k)}:${this.canon(o[k], cs, depth + 1)},`;
    }
    return `${s}}`;
  }
}

/**
 * Diffs two parsed JSON values. The diffs come in canonical order (object keys sorted, arrays in element
 * order), so the result depends neither on the key order of the inputs nor on anything but the inputs.
 * The fast walk follows the left's key order and sorts the few diffs it found; if it overflows or runs out
 * of budget, a second walk in canonical order decides which diffs are kept.
 */
export function diffJson(left: unknown, right: unknown, opts: DiffOptions): JsonDiffResult {
  const root = opts.rules.root;
  if (root.ignored) return { diffs: [], overflow: false };
  const fast = new Walker(opts, false);
  fast.walk(left, right, root);
  if (fast.halt === H_NONE) {
    const out = fast.out;
    if (out.length <= 1) return { diffs: out, overflow: false };
    const idx = out.map((_, i) => i);
    idx.sort((a, b) => compareOrd(fast.ords[a]!, fast.ords[b]!));
    return { diffs: idx.map((i) => out[i]!), overflow: false };
  }
  const canonical = new Walker(opts, true);
  canonical.walk(left, right, root);
  const h = canonical.halt;
  if (h === H_BUDGET) return { diffs: canonical.out, overflow: false, skipped: 'budget' };
  if (h === H_DEPTH) return { diffs: canonical.out, overflow: false, skipped: 'json_limit' };
  return { diffs: canonical.out, overflow: h === H_OVERFLOW };
}
