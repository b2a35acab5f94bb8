// Signature matching: the built-in rules (rules.ts) plus rules from the config, run over the normalized parts of
// one request (normalize.ts). Pure and bounded: RE2 patterns (linear time), a literal prefilter so the common
// request runs no pattern at all, at most one hit per rule per request, and a cap on the bytes patterns read.
import { RE2JS } from 're2js';
import { buildEvidence } from './evidence.ts';
import { DEFAULT_MAX_PART_BYTES, SegmentList, bodyAsText, bodySegments, normalize, pairSegments, viewOf, wholeText, type MatchPart, type Segment } from './normalize.ts';
import { BUILTIN_RULES, CATEGORIES, CATEGORY_LABELS, type Category, type Needle, type PartSelector, type View } from './rules.ts';
import { SEVERITIES, type RequestEvent, type Severity, type Signal } from './types.ts';

/** A rule as it runs: built-in or from the config. */
export interface SignatureRule {
  readonly id: string;
  readonly category: Category;
  readonly severity: Severity;
  readonly parts: readonly PartSelector[];
  readonly pattern: string;
  readonly description: string;
  readonly reference: string;
  readonly builtin: boolean;
}

/** One rule matching one request: where, and what it matched (normalized text, at most 200 characters). */
export interface Hit {
  readonly rule: SignatureRule;
  readonly part: MatchPart;
  /** the header name, or the query parameter / body field name when known */
  readonly name?: string;
  readonly text: string;
}

/** A rule from the config; strings are checked here, so a config loader can pass its values through. */
export interface UserRule {
  readonly id: string;
  /** default `custom` */
  readonly category?: string;
  /** default `medium` */
  readonly severity?: string;
  /** `path`, `query`, `body`, `method`, `header:NAME`, `header:*` */
  readonly parts: readonly string[];
  /** RE2 syntax, case-insensitive, unanchored */
  readonly pattern: string;
  readonly description?: string;
}

export interface SignatureOptions {
  readonly rules?: readonly UserRule[];
  /** ids of built-in rules to turn off */
  readonly disable?: readonly string[];
  /** characters inspected per part (path, query, each header, body prefix); default 8 KiB */
  readonly maxPartBytes?: number;
  /** @internal tests only: false runs every pattern on every segment (no literal prefilter) */
  readonly prefilter?: boolean;
}

export interface Signatures {
  /** the active rules: built-in ones not disabled, then the config's */
  readonly rules: readonly SignatureRule[];
  readonly maxPartBytes: number;
  /** The rules one request matches, at most one hit per rule (the first part that matches, in the order method, path, query, headers, body). */
  match(e: RequestEvent): Hit[];
}

/** An invalid user rule or option; `key` is its path in the options (`rules[2].pattern`), `index` the list position (-1 for scalars). */
export class SignatureRuleError extends Error {
  override readonly name = 'SignatureRuleError';
  constructor(
    readonly index: number,
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason}`);
  }
}

const MAX_TEXT = 200;
const WINDOW = 512;
const WINDOW_OVERLAP = 128;
const MAX_USER_PATTERN = 4096;
/** pattern input per request, in multiples of maxPartBytes */
const BUDGET_PARTS = 16;
const COMMON_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * What a literal scan found: the indexes, in the order found, and marks: literal i was found when
 * `marks[i] === stamp` (marks are reused from scan to scan, so nothing is cleared or allocated).
 */
interface Found {
  readonly marks: Int32Array;
  readonly stamp: number;
  readonly ids: readonly number[];
}

/** A needle with its literals replaced by their index in the literal table. */
type IndexedNeedle = number | { readonly all: readonly (number | readonly number[])[] };

interface Compiled {
  readonly idx: number;
  readonly rule: SignatureRule;
  readonly re: RE2JS;
  readonly view: View;
  /** undefined: the pattern always runs */
  readonly needles: readonly IndexedNeedle[] | undefined;
  readonly targets: Targets;
}

interface Targets {
  readonly path: boolean;
  readonly query: boolean;
  readonly body: boolean;
  readonly method: boolean;
  readonly allHeaders: boolean;
  readonly headers: ReadonlySet<string>;
}

interface Group {
  readonly rules: readonly Compiled[];
  /** the views its rules read */
  readonly views: readonly View[];
  /**
   * The first literal of every needle of its rules: nothing matches unless the text or one of its views has
   * one. Undefined when a rule has no needles (config rules): then every segment is inspected.
   */
  readonly gate: LiteralTable | undefined;
  /** per view: literal index → the rules reading that view whose needles can start with it (with a gate) */
  readonly byFirst: Partial<Record<View, ReadonlyMap<number, readonly Compiled[]>>> | undefined;
  /** only built-in method rules: common methods are skipped without building a segment */
  readonly onlyBuiltinMethods: boolean;
}

interface State {
  readonly hits: Hit[];
  /** which rules already hit (a shared all-zero array until the first hit) */
  done: Uint8Array;
  budget: number;
}

/**
 * A set of ASCII literals found in one linear pass, a few table lookups per character: one-character
 * literals, two-character literals, and for longer ones their first three characters (hashed) before a
 * startsWith. As a gate it stops at the first needle literal; as a scanner it reports all of them, so needles
 * are then checked with array lookups. (A native regex alternation of a few hundred literals is twice as slow.)
 */
class LiteralTable {
  readonly list: string[] = [];
  private readonly ids = new Map<string, number>();
  /** per literal: 0 for a needle literal, else the bits of the views it can make differ from the base */
  private readonly triggers: number[] = [];
  private readonly single = new Int16Array(128).fill(-1);
  private readonly pair = new Int16Array(1 << 14).fill(-1);
  private readonly longer = new Uint8Array(1 << 14);
  private readonly triple = new Int32Array(1 << 16).fill(-1);
  private readonly pending = new Map<number, number[]>();
  /** literals of length 3+ by the hash of their first three characters: ids[starts[b]] .. ids[starts[b + 1]] */
  private starts = new Int32Array(1);
  private bucketIds = new Int16Array(0);
  private triggerBits = new Int32Array(0);
  private readonly slots: Int32Array[] = [];
  private stamp = 0;

  /**
   * The index of a literal, added if new. `viewBits` > 0 adds it as a trigger: a literal that can make those
   * views differ from the base (`\\` for std, `'` for shell, …); a needle literal stays a needle literal.
   */
  id(literal: string, viewBits = 0): number {
    let id = this.ids.get(literal);
    if (id !== undefined) {
      const t = this.triggers[id]!;
      this.triggers[id] = viewBits === 0 || t === 0 ? 0 : t | viewBits;
      return id;
    }
    if (!/^[ -~\t\n\r]+$/.test(literal)) throw new Error(`needle literals are ASCII: ${JSON.stringify(literal)}`);
    id = this.list.length;
    this.list.push(literal);
    this.triggers.push(viewBits);
    this.ids.set(literal, id);
    const c0 = literal.charCodeAt(0);
    if (literal.length === 1) this.single[c0] = id;
    else {
      const p = (c0 << 7) | literal.charCodeAt(1);
      if (literal.length === 2) this.pair[p] = id;
      else {
        this.longer[p] = 1;
        const h = ((p << 7) | literal.charCodeAt(2)) & 0xffff;
        const bucket = this.pending.get(h) ?? [];
        bucket.push(id);
        this.pending.set(h, bucket);
      }
    }
    return id;
  }

  /** Builds the flat tables; call once every literal is in. */
  seal(): this {
    const starts = [0];
    const ids: number[] = [];
    for (const [h, bucket] of this.pending) {
      this.triple[h] = starts.length - 1;
      ids.push(...bucket);
      starts.push(ids.length);
    }
    this.starts = Int32Array.from(starts);
    this.bucketIds = Int16Array.from(ids);
    this.triggerBits = Int32Array.from(this.triggers);
    return this;
  }

  /** -1 when `text` contains a needle literal, else the view bits of the triggers it contains (0: none). */
  gate(text: string): number {
    const { single, pair, longer, triple, starts, bucketIds, list, triggerBits } = this;
    const n = text.length;
    let views = 0;
    let c = n > 0 ? text.charCodeAt(0) : 0;
    for (let i = 0; i < n; i++) {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 128;
      if (c < 128) {
        const s = single[c]!;
        if (s >= 0) {
          if (triggerBits[s] === 0) return -1;
          views |= triggerBits[s]!;
        }
        if (d < 128) {
          const p = (c << 7) | d;
          const q = pair[p]!;
          if (q >= 0) {
            if (triggerBits[q] === 0) return -1;
            views |= triggerBits[q]!;
          }
          if (longer[p] === 1 && i + 2 < n) {
            const b = triple[((p << 7) | text.charCodeAt(i + 2)) & 0xffff]!;
            if (b >= 0) {
              for (let j = starts[b]!, end = starts[b + 1]!; j < end; j++) {
                const id = bucketIds[j]!;
                if (text.startsWith(list[id]!, i)) {
                  if (triggerBits[id] === 0) return -1;
                  views |= triggerBits[id]!;
                }
              }
            }
          }
        }
      }
      c = d;
    }
    return views;
  }

  /**
   * The literals `text` contains, or null when none. `slot` picks the mark array: the results of different
   * slots can be used side by side; a later find in the same slot replaces the earlier one.
   */
  find(text: string, slot: number): Found | null {
    const { single, pair, longer, triple, starts, bucketIds, list } = this;
    while (this.slots.length <= slot) this.slots.push(new Int32Array(list.length));
    const marks = this.slots[slot]!;
    // wrapping around only risks a stale mark: a rule looked at needlessly, never a missed one
    const stamp = (this.stamp = (this.stamp + 1) | 0 || 1);
    const ids: number[] = [];
    const n = text.length;
    let c = n > 0 ? text.charCodeAt(0) : 0;
    for (let i = 0; i < n; i++) {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 128;
      if (c < 128) {
        const s = single[c]!;
        if (s >= 0 && marks[s] !== stamp) {
          marks[s] = stamp;
          ids.push(s);
        }
        if (d < 128) {
          const p = (c << 7) | d;
          const q = pair[p]!;
          if (q >= 0 && marks[q] !== stamp) {
            marks[q] = stamp;
            ids.push(q);
          }
          if (longer[p] === 1 && i + 2 < n) {
            const b = triple[((p << 7) | text.charCodeAt(i + 2)) & 0xffff]!;
            if (b >= 0) {
              for (let j = starts[b]!, end = starts[b + 1]!; j < end; j++) {
                const id = bucketIds[j]!;
                if (marks[id] !== stamp && text.startsWith(list[id]!, i)) {
                  marks[id] = stamp;
                  ids.push(id);
                }
              }
            }
          }
        }
      }
      c = d;
    }
    return ids.length === 0 ? null : { marks, stamp, ids };
  }
}

function holds(f: Found, needles: readonly IndexedNeedle[]): boolean {
  const { marks, stamp } = f;
  outer: for (const n of needles) {
    if (typeof n === 'number') {
      if (marks[n] === stamp) return true;
      continue;
    }
    for (const x of n.all) {
      if (typeof x === 'number') {
        if (marks[x] !== stamp) continue outer;
      } else if (!x.some((id) => marks[id] === stamp)) continue outer;
    }
    return true;
  }
  return false;
}

/** One text under inspection: its views and the literals each contains, computed when first needed. */
class Inspection {
  private readonly views: Partial<Record<View, string>> = {};
  private readonly viewLiterals: Partial<Record<View, Found | null>> = {};
  private baseLiterals: Found | null | undefined;
  constructor(
    readonly base: string,
    private readonly table: LiteralTable,
  ) {}
  view(view: View): string {
    return (this.views[view] ??= viewOf(view, this.base));
  }
  /**
   * The quick test: whether the group's gate finds a needle literal in the base or a view that differs from it.
   * `r` is the gate's answer for the base when already known.
   */
  passes(g: Group, r = g.gate?.gate(this.base) ?? -1): boolean {
    if (g.gate === undefined || r < 0) return true;
    if (r === 0) return false;
    for (const v of g.views) {
      if ((r & VIEW_BITS[v]) === 0) continue;
      const t = this.view(v);
      if (t !== this.base && g.gate.gate(t) < 0) return true;
    }
    return false;
  }
  /** the needle literals in a view's text */
  literals(view: View): Found | null {
    const t = this.view(view);
    if (t === this.base) return this.baseLiterals !== undefined ? this.baseLiterals : (this.baseLiterals = this.table.find(t, 0));
    const cached = this.viewLiterals[view];
    return cached !== undefined ? cached : (this.viewLiterals[view] = this.table.find(t, VIEW_SLOTS[view]));
  }
  /** whether a rule's needles hold in the view it reads */
  candidate(c: Compiled): boolean {
    if (c.needles === undefined) return true;
    const f = this.literals(c.view);
    return f !== null && holds(f, c.needles);
  }
  /** The rules of a group whose needles hold, in rule order: only rules whose first literal was found are looked at. */
  candidates(g: Group, done: Uint8Array): Compiled[] {
    if (g.byFirst === undefined) return g.rules.filter((c) => done[c.idx] === 0 && this.candidate(c));
    const out: Compiled[] = [];
    for (const v of g.views) {
      const f = this.literals(v);
      if (f === null) continue;
      const index = g.byFirst[v]!;
      for (const id of f.ids) {
        for (const c of index.get(id) ?? []) if (done[c.idx] === 0 && !out.includes(c) && holds(f, c.needles!)) out.push(c);
      }
    }
    return out.length > 1 ? out.sort((a, b) => a.idx - b.idx) : out;
  }
}

function parsePart(p: unknown): PartSelector | undefined {
  if (typeof p !== 'string') return undefined;
  if (p === 'path' || p === 'query' || p === 'body' || p === 'method' || p === 'header:*') return p;
  if (p.startsWith('header:') && HEADER_NAME.test(p.slice(7))) return `header:${p.slice(7).toLowerCase()}`;
  return undefined;
}

function targetsOf(parts: readonly PartSelector[]): Targets {
  const headers = new Set<string>();
  let allHeaders = false;
  for (const p of parts) {
    if (p === 'header:*') allHeaders = true;
    else if (p.startsWith('header:')) headers.add(p.slice(7));
  }
  return {
    path: parts.includes('path'),
    query: parts.includes('query'),
    body: parts.includes('body'),
    method: parts.includes('method'),
    allHeaders,
    headers,
  };
}

const VIEW_BITS: Readonly<Record<View, number>> = { std: 1, sql: 2, shell: 4, lookup: 8 };
/** the mark arrays of a literal scan: 0 for the base text, one per view that differs from it */
const VIEW_SLOTS: Readonly<Record<View, number>> = { std: 1, sql: 2, shell: 3, lookup: 4 };
/** what can make a view differ from the base text (normalize.ts, the views) */
const VIEW_TRIGGERS: Readonly<Record<View, readonly string[]>> = { std: ['\\', '/./'], sql: ['/*'], shell: ["'", '"', '\\', '$@'], lookup: ['${'] };

function makeGroup(rules: readonly Compiled[], table: LiteralTable): Group {
  const views = [...new Set(rules.map((c) => c.view))];
  const onlyBuiltinMethods = rules.length > 0 && rules.every((c) => c.rule.builtin && c.rule.category === 'method');
  if (rules.some((c) => c.needles === undefined)) return { rules, views, gate: undefined, byFirst: undefined, onlyBuiltinMethods };
  // a needle holds only if its first literal (or one of its first alternatives) is there
  const gate = new LiteralTable();
  const byFirst: Partial<Record<View, Map<number, Compiled[]>>> = {};
  for (const c of rules) {
    const index = (byFirst[c.view] ??= new Map<number, Compiled[]>());
    for (const n of c.needles!) {
      const first = typeof n === 'number' ? n : n.all[0]!;
      for (const id of typeof first === 'number' ? [first] : first) {
        gate.id(table.list[id]!);
        const list = index.get(id) ?? [];
        if (!list.includes(c)) list.push(c);
        index.set(id, list);
      }
    }
  }
  for (const v of views) for (const t of VIEW_TRIGGERS[v]) gate.id(t, VIEW_BITS[v]);
  return { rules, views, gate: gate.seal(), byFirst, onlyBuiltinMethods };
}

function find(re: RE2JS, s: string): string | undefined {
  const m = re.matcher(s);
  return m.find() ? (m.group() ?? '') : undefined;
}

/** The matched text. Submatch search is slow on long inputs, so it runs on the first window the pattern matches. */
function matchedText(re: RE2JS, t: string): string {
  let found: string | undefined;
  if (t.length <= WINDOW) found = find(re, t);
  else {
    for (let s = 0; found === undefined; s += WINDOW - WINDOW_OVERLAP) {
      const w = t.slice(s, s + WINDOW);
      if (re.test(w)) found = find(re, w);
      if (s + WINDOW >= t.length) break;
    }
  }
  const text = found ?? t;
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
}

function compileUserRule(u: UserRule, i: number, taken: ReadonlySet<string>): { rule: SignatureRule; re: RE2JS } {
  const key = `rules[${i}]`;
  const fail = (field: string, reason: string): never => {
    throw new SignatureRuleError(i, `${key}${field}`, reason);
  };
  if (typeof u !== 'object' || u === null) fail('', 'must be a mapping with id, parts and pattern');
  if (typeof u.id !== 'string' || !RULE_ID.test(u.id)) fail('.id', 'must be 1..64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit');
  if (taken.has(u.id))
    fail('.id', `duplicate rule id "${u.id}"${BUILTIN_RULES.some((b) => b.id === u.id) ? ' (a built-in rule has it: disable the built-in rule to replace it)' : ''}`);
  const category = u.category ?? 'custom';
  if (!(CATEGORIES as readonly string[]).includes(category)) fail('.category', `must be one of ${CATEGORIES.join(', ')}, not "${String(category)}"`);
  const severity = u.severity ?? 'medium';
  if (!(SEVERITIES as readonly string[]).includes(severity)) fail('.severity', `must be one of ${SEVERITIES.join(', ')}, not "${String(severity)}"`);
  if (!Array.isArray(u.parts) || u.parts.length === 0) fail('.parts', 'must be a non-empty list of path, query, body, method, header:NAME or header:*');
  const parts: PartSelector[] = [];
  u.parts.forEach((p, j) => {
    const part = parsePart(p);
    if (part === undefined) fail(`.parts[${j}]`, `unknown part "${String(p)}": use path, query, body, method, header:NAME or header:*`);
    else if (!parts.includes(part)) parts.push(part);
  });
  if (typeof u.pattern !== 'string' || u.pattern === '') fail('.pattern', 'must be a non-empty regular expression');
  if (u.pattern.length > MAX_USER_PATTERN) fail('.pattern', `is longer than ${MAX_USER_PATTERN} characters`);
  let re: RE2JS | undefined;
  try {
    re = RE2JS.compile(u.pattern, RE2JS.CASE_INSENSITIVE);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
    fail('.pattern', `invalid regular expression (RE2 syntax, no lookaround or backreferences): ${why}`);
  }
  if (u.description !== undefined && typeof u.description !== 'string') fail('.description', 'must be a string');
  return {
    rule: { id: u.id, category: category as Category, severity: severity as Severity, parts, pattern: u.pattern, description: u.description ?? '', reference: 'config', builtin: false },
    re: re!,
  };
}

/** A bounded set of texts found clean; past its bound it starts over (forgetting costs only time). */
class CleanSet {
  static readonly MAX_TEXT = 512;
  readonly #max: number;
  #set = new Set<string>();
  constructor(max = 4096) {
    this.#max = max;
  }
  has(text: string): boolean {
    return this.#set.has(text);
  }
  add(text: string): void {
    if (text.length > CleanSet.MAX_TEXT) return;
    if (this.#set.size >= this.#max) this.#set.clear();
    this.#set.add(text);
  }
}

/** Header names whose clean values are remembered, and values per name (≤ 16 × 512 × 512 B of text). */
const CLEAN_HEADER_NAMES = 16;
const CLEAN_HEADER_VALUES = 512;

/** Compiles the built-in rules (minus `disable`) and the config's rules; throws SignatureRuleError for a bad one. */
export function compileSignatures(opts: SignatureOptions = {}): Signatures {
  const max = opts.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
  if (!Number.isSafeInteger(max) || max < 256 || max > 1 << 20) throw new SignatureRuleError(-1, 'maxPartBytes', 'must be an integer from 256 to 1048576');
  const disabled = new Set<string>();
  (opts.disable ?? []).forEach((id, j) => {
    if (!BUILTIN_RULES.some((b) => b.id === id)) throw new SignatureRuleError(j, `disable[${j}]`, `"${String(id)}" is not a built-in rule id`);
    disabled.add(id);
  });
  const prefilter = opts.prefilter ?? true;
  const table = new LiteralTable();
  const index = (n: Needle): IndexedNeedle =>
    typeof n === 'string' ? table.id(n) : { all: n.all.map((x) => (typeof x === 'string' ? table.id(x) : x.map((l) => table.id(l)))) };
  const compiled: Compiled[] = [];
  const add = (rule: SignatureRule, re: RE2JS, view: View, needles: readonly Needle[] | undefined): void => {
    const indexed = prefilter && needles !== undefined ? needles.map(index) : undefined;
    compiled.push({ idx: compiled.length, rule, re, view, needles: indexed, targets: targetsOf(rule.parts) });
  };
  for (const b of BUILTIN_RULES) {
    if (disabled.has(b.id)) continue;
    const { needles, view, ...rest } = b;
    // the text is lower-cased, so built-in patterns are written in lower case and need no case folding
    add({ ...rest, builtin: true }, RE2JS.compile(b.pattern), view, needles.length > 0 ? needles : undefined);
  }
  const taken = new Set(compiled.map((c) => c.rule.id));
  (opts.rules ?? []).forEach((u, i) => {
    const { rule, re } = compileUserRule(u, i, taken);
    taken.add(rule.id);
    add(rule, re, 'std', undefined);
  });

  table.seal();
  const group = (pick: (c: Compiled) => boolean): Group => makeGroup(compiled.filter(pick), table);
  const method = group((c) => c.targets.method);
  const path = group((c) => c.targets.path);
  // built-in rules read the query and the body field by field; config rules read them whole
  const query = group((c) => c.rule.builtin && c.targets.query);
  const body = group((c) => c.rule.builtin && c.targets.body);
  const userQuery = group((c) => !c.rule.builtin && c.targets.query);
  const userBody = group((c) => !c.rule.builtin && c.targets.body);
  const headerGroups = new Map<string, Group>();
  const headerGroup = (name: string): Group => {
    let g = headerGroups.get(name);
    if (g === undefined) {
      g = group((c) => c.targets.allHeaders || c.targets.headers.has(name));
      if (headerGroups.size < 256) headerGroups.set(name, g);
    }
    return g;
  };

  const NONE_DONE = new Uint8Array(compiled.length);
  const inspect = (seg: Segment, g: Group, st: State): void => {
    if (seg.text === '') return;
    // the common case: no literal any rule needs first, nothing that changes a view: no pattern runs
    const r = g.gate !== undefined ? g.gate.gate(seg.text) : -1;
    if (r === 0) return;
    const x = new Inspection(seg.text, table);
    if (!x.passes(g, r)) return;
    for (const c of x.candidates(g, st.done)) {
      const t = x.view(c.view);
      if (st.budget <= 0) return;
      st.budget -= t.length;
      if (!c.re.test(t)) continue;
      // the shared all-zero array until the first hit: a clean request allocates none
      if (st.done === NONE_DONE) st.done = new Uint8Array(compiled.length);
      st.done[c.idx] = 1;
      const text = matchedText(c.re, t);
      st.hits.push(seg.name === undefined ? { rule: c.rule, part: seg.part, text } : { rule: c.rule, part: seg.part, name: seg.name, text });
    }
  };

  /** false when no rule's needles hold in a whole query string or form body: then it is not split at all */
  const mayMatch = (g: Group, whole: string | undefined): boolean => {
    if (whole === undefined || g.gate === undefined) return true;
    const x = new Inspection(whole, table);
    return x.passes(g) && x.candidates(g, NONE_DONE).length > 0;
  };

  // Parts already found clean: traffic repeats its paths, queries and user agents, and a clean part stays clean
  // (the rules are fixed for this compiled set). A part is remembered only when it was inspected whole (budget
  // left) with every rule live (no hit yet in this request, so none was skipped as done): no input can hide a hit.
  const cleanPaths = new CleanSet();
  const cleanQueries = new CleanSet();
  // per header name, so a lookup needs no `name:value` string; names past the bound are not remembered
  const cleanHeaders = new Map<string, CleanSet>();
  const cleanHeaderSet = (name: string): CleanSet | undefined => {
    let set = cleanHeaders.get(name);
    if (set === undefined && cleanHeaders.size < CLEAN_HEADER_NAMES) cleanHeaders.set(name, (set = new CleanSet(CLEAN_HEADER_VALUES)));
    return set;
  };

  const match = (e: RequestEvent): Hit[] => {
    const st: State = { hits: [], done: NONE_DONE, budget: BUDGET_PARTS * max };
    if (method.rules.length > 0 && !(method.onlyBuiltinMethods && COMMON_METHODS.has(e.method.toUpperCase()))) {
      inspect({ part: 'method', text: e.method.slice(0, 64).toLowerCase() }, method, st);
    }
    if (path.rules.length > 0 && e.path !== '' && !cleanPaths.has(e.path)) {
            inspect({ part: 'path', text: normalize(e.path, { url: true, plus: false, max }) }, path, st);
      if (st.hits.length === 0 && st.budget > 0) cleanPaths.add(e.path);
    }
    if (e.query !== '' && !cleanQueries.has(e.query)) {
            if (query.rules.length > 0 && mayMatch(query, wholeText(e.query, max))) {
        const list = new SegmentList();
        pairSegments(e.query, 'query', max, list);
        for (const seg of list.items) inspect(seg, query, st);
      }
      if (userQuery.rules.length > 0) inspect({ part: 'query', text: normalize(e.query, { url: true, plus: true, max }) }, userQuery, st);
      if (st.hits.length === 0 && st.budget > 0) cleanQueries.add(e.query);
    }
    let contentType: string | undefined;
    for (let i = 0; i + 1 < e.headers.length; i += 2) {
      const name = e.headers[i]!.toLowerCase();
      const value = e.headers[i + 1]!;
      if (name === 'content-type') contentType = value;
      if (value === '') continue;
      const g = headerGroup(name);
      if (g.rules.length === 0) continue;
      const clean = cleanHeaderSet(name);
      if (clean?.has(value)) continue;
      inspect({ part: 'header', name, text: normalize(value, { url: true, plus: false, max }) }, g, st);
      if (st.hits.length === 0 && st.budget > 0) clean?.add(value);
    }
    if ((body.rules.length > 0 || userBody.rules.length > 0) && e.body !== undefined && e.body.length > 0) {
      const b = bodyAsText(e.body, contentType, max);
      if (b !== undefined) {
        if (body.rules.length > 0 && (b.kind !== 'form' || mayMatch(body, wholeText(b.text, max)))) {
          const list = new SegmentList();
          bodySegments(b, contentType, max, list);
          for (const seg of list.items) inspect(seg, body, st);
        }
        if (userBody.rules.length > 0) {
          const form = b.kind === 'form';
          inspect({ part: 'body', text: normalize(b.text, { url: form, plus: form, max }) }, userBody, st);
        }
      }
    }
    return st.hits;
  };

  return { rules: compiled.map((c) => c.rule), maxPartBytes: max, match };
}

/** The findings' input: one `signature` signal per hit, keyed by rule and source, with redacted evidence. */
export function signalsFor(e: RequestEvent, hits: readonly Hit[]): Signal[] {
  return hits.map((h): Signal => {
    const where = h.part === 'header' ? `header ${h.name ?? ''}` : h.part;
    return {
      detector: 'signature',
      key: `rule:${h.rule.id}|source:${e.source}`,
      severity: h.rule.severity,
      title: `${CATEGORY_LABELS[h.rule.category]} (${h.rule.id}) in ${where} from ${e.source}`,
      detail: { rule: h.rule.id, category: h.rule.category, part: h.part, ...(h.part === 'header' && h.name !== undefined ? { header: h.name } : {}) },
      evidence: buildEvidence(e, h.name !== undefined ? { part: h.part, name: h.name, text: h.text } : { part: h.part, text: h.text }),
      at: e.at,
    };
  });
}
