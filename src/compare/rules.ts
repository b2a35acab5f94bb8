// Compare rules for JSON bodies: ignore paths (`$.meta.generatedAt`, `$.items[*].updatedAt`, `$..requestId`,
// `$.a.*`) and array modes keyed by path ('index' | 'set' | {key}). Rules are compiled once into a lazily built
// DFA over path segments, so the differ asks "what about this child?" with one map lookup per node and prunes
// ignored subtrees during traversal. Pure; no I/O.

/** How the elements of an array are matched: by position (default), as a multiset, or by a field's value. */
export type ArrayMode = 'index' | 'set' | { readonly key: string };

/** What the config writes for an array mode: 'index', 'set' or `key:<field>`. */
export type ArrayModeInput = 'index' | 'set' | `key:${string}`;

/** One parsed path segment. `desc` marks recursive descent (`..`): the segment may match at any depth below. */
export type Segment =
  | { readonly t: 'key'; readonly name: string; readonly desc: boolean }
  | { readonly t: 'index'; readonly index: number; readonly desc: boolean }
  | { readonly t: 'label'; readonly label: string; readonly desc: boolean }
  | { readonly t: 'any'; readonly desc: boolean };

/** A malformed rule; `message` says which rule and what is wrong, for config validation to show. */
export class RuleError extends Error {
  constructor(
    readonly rule: string,
    readonly detail: string,
  ) {
    super(`rule ${JSON.stringify(rule)}: ${detail}`);
    this.name = 'RuleError';
  }
}

/** Bounds on what a rule set may hold, so a hostile or mistaken config cannot make matching expensive. */
export const RULE_LIMITS = { maxRules: 1000, maxRuleLength: 1000, maxSegments: 128 } as const;

// Segment kinds as the differ passes them to MatchState: an object key, an array index, a keyed-array label.
export const SEG_KEY = 0;
export const SEG_INDEX = 1;
export const SEG_LABEL = 2;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `.name` when the key is an identifier, `["weird key"]` otherwise. */
export function renderKey(key: string): string {
  return IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** The text inside the brackets of a keyed-array element: `id=7`, `id="a-1"`, `id=true`. */
export function renderLabel(field: string, value: string | number | boolean): string {
  return `${field}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
}

function isNameChar(c: string): boolean {
  return c !== '.' && c !== '[' && c !== ']' && c !== '*' && c !== '=' && c !== '"' && c !== "'" && !/\s/.test(c);
}

/** Reads a quoted string starting at `text[i]` (a quote); returns the value and the index after the closing quote. */
function readQuoted(rule: string, text: string, i: number): [string, number] {
  const q = text[i]!;
  let j = i + 1;
  // the body rewritten as a double-quoted JSON string body, so JSON.parse applies JSON's escapes
  let json = '';
  while (j < text.length && text[j] !== q) {
    const c = text[j]!;
    if (c === '\\') {
      if (j + 1 >= text.length) break;
      const n = text[j + 1]!;
      json += n === "'" ? "'" : c + n;
      j += 2;
    } else {
      json += c === '"' ? '\\"' : c;
      j++;
    }
  }
  if (j >= text.length) throw new RuleError(rule, `unterminated string at position ${i}`);
  try {
    return [JSON.parse(`"${json}"`) as string, j + 1];
  } catch {
    throw new RuleError(rule, `bad escape in string at position ${i}`);
  }
}

/** Canonical label text of a bracket literal `name=value` (value a JSON number, string or boolean). */
function parseLabel(rule: string, inner: string, pos: number): string {
  const eq = inner.indexOf('=');
  const field = inner.slice(0, eq);
  const rawValue = inner.slice(eq + 1);
  if (field === '' || [...field].some((c) => !isNameChar(c))) throw new RuleError(rule, `bad key field name in [${inner}] at position ${pos}`);
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    throw new RuleError(rule, `bad key value in [${inner}] at position ${pos}: use a number, true/false or a "quoted string"`);
  }
  if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
    throw new RuleError(rule, `bad key value in [${inner}] at position ${pos}: use a number, true/false or a "quoted string"`);
  }
  return renderLabel(field, value);
}

/**
 * Parses a path rule (or a rendered diff path) into segments. Grammar: `$` then any of `.name`, `.*`, `[*]`,
 * `[3]`, `["any key"]` / `['any key']`, `[id=7]` / `[id="x"]` (a keyed-array element), each optionally
 * preceded by `..` instead of `.` for recursive descent (`$..requestId`, `$..[*]`). Throws RuleError.
 */
export function parsePath(rule: string): Segment[] {
  if (typeof rule !== 'string') throw new RuleError(String(rule), 'must be a string');
  if (rule.length > RULE_LIMITS.maxRuleLength) throw new RuleError(rule.slice(0, 40) + '…', `longer than ${RULE_LIMITS.maxRuleLength} characters`);
  const text = rule;
  if (text[0] !== '$') throw new RuleError(rule, 'must start with "$" (the body root), e.g. "$.meta.generatedAt"');
  const segs: Segment[] = [];
  let i = 1;
  while (i < text.length) {
    let desc = false;
    const c = text[i]!;
    if (c === '.') {
      if (text[i + 1] === '.') {
        desc = true;
        i += 2;
        if (i >= text.length) throw new RuleError(rule, '".." must be followed by a name, "*" or a [bracket]');
        if (text[i] === '[') {
          i = bracket(rule, text, i, true, segs);
          continue;
        }
      } else {
        i += 1;
      }
      if (text[i] === '*') {
        segs.push({ t: 'any', desc });
        i++;
        if (i < text.length && text[i] !== '.' && text[i] !== '[') throw new RuleError(rule, `"*" must be a whole segment (position ${i - 1}); use ["..."] for keys containing "*"`);
        continue;
      }
      const start = i;
      while (i < text.length && isNameChar(text[i]!)) i++;
      if (i === start) {
        const what = i < text.length ? `unexpected ${JSON.stringify(text[i])}` : 'nothing';
        throw new RuleError(rule, `expected a name after "." at position ${start}, found ${what}`);
      }
      if (i < text.length && text[i] !== '.' && text[i] !== '[') {
        throw new RuleError(rule, `unexpected ${JSON.stringify(text[i])} at position ${i}; use ["..."] for keys with special characters`);
      }
      segs.push({ t: 'key', name: text.slice(start, i), desc });
    } else if (c === '[') {
      i = bracket(rule, text, i, false, segs);
    } else {
      throw new RuleError(rule, `unexpected ${JSON.stringify(c)} at position ${i}: expected "." or "["`);
    }
    if (segs.length > RULE_LIMITS.maxSegments) throw new RuleError(rule, `more than ${RULE_LIMITS.maxSegments} segments`);
  }
  return segs;
}

/** Parses `[...]` at text[i]; returns the index after `]`. */
function bracket(rule: string, text: string, i: number, desc: boolean, segs: Segment[]): number {
  const open = i;
  i++;
  const c = text[i];
  if (c === '"' || c === "'") {
    const [name, after] = readQuoted(rule, text, i);
    if (text[after] !== ']') throw new RuleError(rule, `expected "]" at position ${after}`);
    segs.push({ t: 'key', name, desc });
    return after + 1;
  }
  // find the closing bracket, skipping a quoted label value
  let j = i;
  while (j < text.length && text[j] !== ']') {
    if (text[j] === '"') j = readQuoted(rule, text, j)[1];
    else j++;
  }
  if (j >= text.length) throw new RuleError(rule, `unterminated "[" at position ${open}`);
  const inner = text.slice(i, j);
  if (inner === '*') segs.push({ t: 'any', desc });
  else if (/^(0|[1-9][0-9]{0,8})$/.test(inner)) segs.push({ t: 'index', index: Number(inner), desc });
  else if (inner.includes('=')) segs.push({ t: 'label', label: parseLabel(rule, inner, open), desc });
  else if (inner === '') throw new RuleError(rule, `empty "[]" at position ${open}`);
  else throw new RuleError(rule, `bad bracket [${inner}] at position ${open}: expected [*], [index], ["key"] or [field=value]`);
  return j + 1;
}

/** The error message for a malformed rule, or undefined when it is well formed (for config validation). */
export function checkRule(rule: string): string | undefined {
  try {
    parsePath(rule);
    return undefined;
  } catch (e) {
    return e instanceof RuleError ? e.message : String(e);
  }
}

/** Parses 'index' | 'set' | 'key:<field>' (or an already parsed mode). Throws RuleError. */
export function parseArrayMode(path: string, mode: unknown): ArrayMode {
  if (mode === 'index' || mode === 'set') return mode;
  if (typeof mode === 'string' && mode.startsWith('key:')) {
    const field = mode.slice(4);
    if (field === '' || [...field].some((c) => !isNameChar(c))) throw new RuleError(path, `array mode "${mode}": the key field must be a plain field name, e.g. "key:id"`);
    return { key: field };
  }
  if (typeof mode === 'object' && mode !== null && typeof (mode as { key?: unknown }).key === 'string' && (mode as { key: string }).key !== '') {
    return { key: (mode as { key: string }).key };
  }
  throw new RuleError(path, `array mode ${JSON.stringify(mode)}: expected "index", "set" or "key:<field>"`);
}

export interface RulesInput {
  /** paths whose values (and everything below) are never compared */
  readonly ignore?: readonly string[];
  /** array path → mode; the first declared pattern matching an array wins */
  readonly arrays?: Readonly<Record<string, ArrayModeInput | ArrayMode>>;
}

/** Array.isArray without narrowing a typed list to any[] (the input may come from an untyped config). */
export function isList(v: unknown): boolean {
  return Array.isArray(v);
}

interface CompiledRule {
  readonly segs: readonly Segment[];
  /** undefined for an ignore rule */
  readonly mode: ArrayMode | undefined;
}

// An NFA state is (rule, segment index), encoded as rule * STRIDE + index.
const STRIDE = 256;

/**
 * One DFA state: the set of partial rule matches for the current path. `ignored`: this node and everything
 * below are not compared. `arrayMode`: the mode of the array at this node, if a rule names it. `dead`: no rule
 * can match anything below; every child is NO_MATCH (no work per node without rules).
 */
export class MatchState {
  readonly ignored: boolean;
  readonly arrayMode: ArrayMode | undefined;
  readonly dead: boolean;
  /** literal child key → its state (null: not computed yet); keys not in the map go to `otherKey` */
  private readonly keyT = new Map<string, MatchState | null>();
  private readonly idxT = new Map<number, MatchState | null>();
  private readonly lblT = new Map<string, MatchState | null>();
  private otherKey: MatchState | undefined;
  private otherIdx: MatchState | undefined;
  private otherLbl: MatchState | undefined;

  constructor(
    private readonly owner: CompiledRules | undefined,
    /** active (not complete) NFA states */
    private readonly active: readonly number[],
    ignored: boolean,
    arrayMode: ArrayMode | undefined,
  ) {
    this.ignored = ignored;
    this.arrayMode = arrayMode;
    this.dead = active.length === 0;
    if (owner === undefined) return;
    for (const id of active) {
      const seg = owner.segAt(id);
      if (seg.t === 'key') this.keyT.set(seg.name, null);
      else if (seg.t === 'index') this.idxT.set(seg.index, null);
      else if (seg.t === 'label') this.lblT.set(seg.label, null);
    }
  }

  /** The state of the child under object key `k`. */
  key(k: string): MatchState {
    if (this.dead) return NO_MATCH;
    const s = this.keyT.get(k);
    if (s === undefined) return (this.otherKey ??= this.owner!.step(this.active, SEG_KEY, undefined));
    if (s !== null) return s;
    const n = this.owner!.step(this.active, SEG_KEY, k);
    this.keyT.set(k, n);
    return n;
  }

  /** The state of the array element at position `i`. */
  index(i: number): MatchState {
    if (this.dead) return NO_MATCH;
    const s = this.idxT.get(i);
    if (s === undefined) return (this.otherIdx ??= this.owner!.step(this.active, SEG_INDEX, undefined));
    if (s !== null) return s;
    const n = this.owner!.step(this.active, SEG_INDEX, i);
    this.idxT.set(i, n);
    return n;
  }

  /** True when some rule names keyed elements literally (`[id=7]`): only then must labels be rendered. */
  get hasLabels(): boolean {
    return this.lblT.size > 0;
  }

  /** The state of a keyed-array element whose label no rule names (the `[*]` transition). */
  anyLabel(): MatchState {
    if (this.dead) return NO_MATCH;
    return (this.otherLbl ??= this.owner!.step(this.active, SEG_LABEL, undefined));
  }

  /** The state of a keyed-array element whose label is `label` (`id=7`). */
  label(label: string): MatchState {
    if (this.dead) return NO_MATCH;
    const s = this.lblT.get(label);
    if (s === undefined) return (this.otherLbl ??= this.owner!.step(this.active, SEG_LABEL, undefined));
    if (s !== null) return s;
    const n = this.owner!.step(this.active, SEG_LABEL, label);
    this.lblT.set(label, n);
    return n;
  }
}

/** The state everything is in when no rule can match: nothing ignored, arrays by index. */
export const NO_MATCH: MatchState = new MatchState(undefined, [], false, undefined);
const IGNORED: MatchState = new MatchState(undefined, [], true, undefined);

function segMatches(seg: Segment, kind: number, value: string | number | undefined): boolean {
  switch (seg.t) {
    case 'any':
      return true;
    case 'key':
      return kind === SEG_KEY && value === seg.name;
    case 'index':
      return kind === SEG_INDEX && value === seg.index;
    case 'label':
      return kind === SEG_LABEL && value === seg.label;
  }
}

/** A compiled rule set. `root` is the state of the body root (`$`). */
export class CompiledRules {
  readonly root: MatchState;
  /** the rules as given (for display) */
  readonly ignore: readonly string[];
  readonly arrays: Readonly<Record<string, ArrayMode>>;
  private readonly rules: readonly CompiledRule[];
  private readonly states = new Map<string, MatchState>();

  constructor(input: RulesInput = {}) {
    const ignore: readonly string[] = input.ignore ?? [];
    const arrays = input.arrays ?? {};
    if (!isList(ignore)) throw new RuleError(String(ignore), 'ignore must be a list of paths');
    const arrayEntries = Object.entries(arrays);
    if (ignore.length + arrayEntries.length > RULE_LIMITS.maxRules) throw new RuleError('…', `more than ${RULE_LIMITS.maxRules} rules`);
    const rules: CompiledRule[] = [];
    const modes: Record<string, ArrayMode> = {};
    // array rules first: their order is their precedence; ignore rules are order-free
    for (const [path, mode] of arrayEntries) {
      const m = parseArrayMode(path, mode);
      rules.push({ segs: parsePath(path), mode: m });
      modes[path] = m;
    }
    for (const rule of ignore) rules.push({ segs: parsePath(rule), mode: undefined });
    this.rules = rules;
    this.ignore = [...ignore];
    this.arrays = modes;
    this.root = rules.length === 0 ? NO_MATCH : this.intern(rules.map((_, r) => r * STRIDE));
  }

  /** True when no rule was given (every state is NO_MATCH). */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** @internal the segment an NFA state waits for */
  segAt(id: number): Segment {
    return this.rules[Math.floor(id / STRIDE)]!.segs[id % STRIDE]!;
  }

  /** @internal the DFA transition from `active` on one child segment; value undefined = matches no literal */
  step(active: readonly number[], kind: number, value: string | number | undefined): MatchState {
    const next: number[] = [];
    for (const id of active) {
      const seg = this.segAt(id);
      if (seg.desc) next.push(id);
      if (value === undefined ? seg.t === 'any' : segMatches(seg, kind, value)) next.push(id + 1);
    }
    return this.intern(next);
  }

  private intern(ids: number[]): MatchState {
    if (ids.length === 0) return NO_MATCH;
    ids.sort((a, b) => a - b);
    const unique: number[] = [];
    for (const id of ids) if (unique[unique.length - 1] !== id) unique.push(id);
    const sig = unique.join(',');
    const known = this.states.get(sig);
    if (known !== undefined) return known;
    const active: number[] = [];
    let ignored = false;
    let mode: ArrayMode | undefined;
    let modeRule = Infinity;
    for (const id of unique) {
      const r = Math.floor(id / STRIDE);
      const rule = this.rules[r]!;
      if (id % STRIDE < rule.segs.length) active.push(id);
      else if (rule.mode === undefined) ignored = true;
      else if (r < modeRule) {
        modeRule = r;
        mode = rule.mode;
      }
    }
    // an ignored node is pruned: nothing below it is ever looked at
    const state = ignored ? IGNORED : active.length === 0 && mode === undefined ? NO_MATCH : new MatchState(this, active, false, mode);
    this.states.set(sig, state);
    return state;
  }

  /**
   * The state at a concrete path (a rule-syntax path or a rendered diff path such as `$.items[id=7].price`,
   * with no wildcards). Used by tests and by callers that hold only a path string. Throws RuleError.
   */
  stateAt(path: string): MatchState {
    let st = this.root;
    for (const seg of parsePath(path)) {
      if (st.ignored) return st;
      if (seg.desc || seg.t === 'any') throw new RuleError(path, 'a concrete path has no wildcards or ".."');
      st = seg.t === 'key' ? st.key(seg.name) : seg.t === 'index' ? st.index(seg.index) : st.label(seg.label);
    }
    return st;
  }

  /** True when `path` (a concrete path) or one of its ancestors is ignored. */
  isIgnored(path: string): boolean {
    return this.stateAt(path).ignored;
  }
}

/** Compiles ignore and array rules; throws RuleError (with a message naming the rule) when one is malformed. */
export function compileRules(input: RulesInput = {}): CompiledRules {
  return new CompiledRules(input);
}
