// Properties of the compare differ (fast-check): equal inputs never differ, ignore rules always hold (checked
// against an independent matcher), output is stable and independent of key order, diff(a,b) mirrors
// diff(b,a), emitted paths are valid rules, and hostile input always ends within the limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { diffJson, type DiffOptions } from '../src/compare/diff.ts';
import { compileRules, parsePath } from '../src/compare/rules.ts';
import { comparePair, compilePairOptions, type PairOptionsInput, type Side } from '../src/compare/pair.ts';
import type { FieldDiff } from '../src/compare/types.ts';

const RUNS = 300;

// ---------------------------------------------------------------- generators

const KEYS = ['a', 'b', 'c', 'id', 'x y', '0', '$a'];
const leaf = fc.oneof(fc.constantFrom<unknown>(null, true, false, '', 'a', 'b', 0.5, 1.25, 100, 100.4), fc.integer({ min: -3, max: 3 }));

const { value } = fc.letrec<{ value: unknown; arr: unknown[]; obj: Record<string, unknown>; keyed: unknown[] }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 5 }, leaf, tie('arr'), tie('obj'), tie('keyed')),
  arr: fc.array(tie('value'), { maxLength: 4 }),
  obj: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
  // arrays of objects with unique ids, so key:id matching is exercised
  keyed: fc
    .uniqueArray(fc.record({ id: fc.integer({ min: 0, max: 5 }), v: tie('value') }), { selector: (x) => x.id, maxLength: 4 })
    .map((xs) => xs as unknown[]),
}));

/** A copy of `v` with some leaves replaced, some keys dropped, some elements dropped or added. */
function mutated(v: unknown): fc.Arbitrary<unknown> {
  if (Array.isArray(v)) {
    return fc.oneof(
      { weight: 5, arbitrary: fc.tuple(...v.map((x) => mutated(x))).map((xs) => [...xs]) },
      { weight: 1, arbitrary: fc.tuple(...v.map((x) => mutated(x)), value).map((xs) => [...xs]) },
      { weight: 1, arbitrary: fc.constant(v.slice(1)) },
      { weight: 1, arbitrary: value },
    );
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    return fc.oneof(
      {
        weight: 6,
        arbitrary: fc.tuple(fc.tuple(...entries.map(([k, x]) => fc.tuple(fc.constant(k), mutated(x), fc.nat(9)))), fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 1 })).map(([kept, extra]) => {
          const o: Record<string, unknown> = {};
          for (const [k, x, dice] of kept) if (dice !== 0) o[k] = x;
          for (const [k, x] of Object.entries(extra)) if (!(k in o)) o[k] = x;
          return o;
        }),
      },
      { weight: 1, arbitrary: value },
    );
  }
  return fc.oneof({ weight: 3, arbitrary: fc.constant(v) }, { weight: 1, arbitrary: leaf });
}

/** Pairs of documents: mostly a document and a mutation of it, sometimes two unrelated ones. */
const pair = fc.oneof(
  { weight: 3, arbitrary: value.chain((a) => fc.tuple(fc.constant(a), mutated(a))) },
  { weight: 1, arbitrary: fc.tuple(value, value) },
);

const RULE_SEGMENTS = ['.a', '.b', '.c', '.id', '["x y"]', '.$a', '["0"]', '[*]', '.*', '[0]', '[1]', '..a', '..b', '..[*]', '..*', '..id', '[id=1]', '[id=2]'];
const rule = fc.array(fc.constantFrom(...RULE_SEGMENTS), { minLength: 1, maxLength: 3 }).map((s) => `$${s.join('')}`);

const ARRAY_MODES: Record<string, PairOptionsInput['arrays']> = {
  index: {},
  keyed: { $: 'key:id', '$..*': 'key:id' },
  set: { $: 'set', '$..*': 'set' },
};

function options(input: PairOptionsInput, maxDiffs = 10_000): DiffOptions {
  const o = compilePairOptions(input);
  return { rules: o.rules, tolerance: o.tolerance, maxDiffs, maxNodes: o.limits.maxNodes, maxDepth: o.limits.maxDepth };
}

/** Deterministically reorders every object's keys (rotation and reversal chosen by the seed). */
function reorderKeys(v: unknown, seed: number): unknown {
  if (Array.isArray(v)) return v.map((x, i) => reorderKeys(x, seed + i + 1));
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  const n = keys.length || 1;
  const rotated = [...keys.slice(seed % n), ...keys.slice(0, seed % n)];
  if (seed & 1) rotated.reverse();
  const out: Record<string, unknown> = {};
  for (const k of rotated) out[k] = reorderKeys((v as Record<string, unknown>)[k], seed * 31 + 7);
  return out;
}

// ---------------------------------------------------------------- an independent matcher (the oracle)

type Tok = { desc: boolean; t: 'key'; name: string } | { desc: boolean; t: 'index'; n: number } | { desc: boolean; t: 'label'; text: string } | { desc: boolean; t: 'any' };

function ruleTokens(ruleText: string): Tok[] {
  const out: Tok[] = [];
  const re = /(\.\.|\.)?(?:\*|\[\*\]|\[(\d+)\]|\["([^"]*)"\]|\[([a-z]+=\d+)\]|([$A-Za-z0-9_]+))/gy;
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(ruleText)) !== null) {
    const desc = m[1] === '..';
    if (m[2] !== undefined) out.push({ desc, t: 'index', n: Number(m[2]) });
    else if (m[3] !== undefined) out.push({ desc, t: 'key', name: m[3] });
    else if (m[4] !== undefined) out.push({ desc, t: 'label', text: m[4] });
    else if (m[5] !== undefined) out.push({ desc, t: 'key', name: m[5] });
    else out.push({ desc, t: 'any' });
    if (re.lastIndex >= ruleText.length) break;
  }
  return out;
}

type PathSeg = { t: 'key'; name: string } | { t: 'index'; n: number } | { t: 'label'; text: string };

/** Splits a rendered diff path (`$.a["x y"][3][id=1]`) into segments. */
function pathSegments(path: string): PathSeg[] {
  const out: PathSeg[] = [];
  const re = /\.([$A-Za-z_][$A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\[([^\]=]+=[^\]]+)\]/gy;
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  while (re.lastIndex < path.length && (m = re.exec(path)) !== null) {
    if (m[1] !== undefined) out.push({ t: 'key', name: m[1] });
    else if (m[2] !== undefined) out.push({ t: 'index', n: Number(m[2]) });
    else if (m[3] !== undefined) out.push({ t: 'key', name: JSON.parse(m[3]) as string });
    else out.push({ t: 'label', text: m[4]! });
  }
  assert.equal(re.lastIndex, path.length, `unparsed path ${path}`);
  return out;
}

function segOk(t: Tok, p: PathSeg): boolean {
  if (t.t === 'any') return true;
  if (t.t === 'key') return p.t === 'key' && p.name === t.name;
  if (t.t === 'index') return p.t === 'index' && p.n === t.n;
  return p.t === 'label' && p.text === t.text;
}

/** True when the rule matches the path or one of its ancestors. */
function oracle(r: readonly Tok[], i: number, p: readonly PathSeg[], j: number): boolean {
  if (i === r.length) return true;
  if (j === p.length) return false;
  const t = r[i]!;
  if (segOk(t, p[j]!) && oracle(r, i + 1, p, j + 1)) return true;
  return t.desc && oracle(r, i, p, j + 1);
}

function ignoredByOracle(rules: readonly string[], path: string): boolean {
  const segs = pathSegments(path);
  return rules.some((r) => oracle(ruleTokens(r), 0, segs, 0));
}

const swap = (d: FieldDiff): FieldDiff => {
  const kind = d.kind === 'added' ? 'removed' : d.kind === 'removed' ? 'added' : d.kind;
  const out: { path: string; field: string; kind: FieldDiff['kind']; left?: unknown; right?: unknown } = { path: d.path, field: d.field, kind };
  if ('right' in d) out.left = d.right;
  if ('left' in d) out.right = d.left;
  return out;
};
const byPath = (a: FieldDiff, b: FieldDiff) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

// ---------------------------------------------------------------- properties

test('prop: equal inputs give no diff, in every array mode, also with keys reordered', () => {
  fc.assert(
    fc.property(value, fc.constantFrom('index', 'keyed', 'set'), fc.nat(), (a, mode, seed) => {
      const o = options({ arrays: ARRAY_MODES[mode] });
      assert.deepEqual(diffJson(a, structuredClone(a), o), { diffs: [], overflow: false });
      assert.deepEqual(diffJson(a, reorderKeys(a, seed), o), { diffs: [], overflow: false });
    }),
    { numRuns: RUNS },
  );
});

test('prop: equal bodies give no diff through comparePair (plain, gzip, key order)', () => {
  const o = compilePairOptions();
  fc.assert(
    fc.property(value, fc.nat(), fc.boolean(), (a, seed, gzip) => {
      const l = Buffer.from(JSON.stringify(a) ?? 'null');
      const r = Buffer.from(JSON.stringify(reorderKeys(a, seed)) ?? 'null');
      const side = (b: Buffer): Side => {
        const body = gzip ? zlib.gzipSync(b) : b;
        return { status: 200, headers: ['content-type', 'application/json', ...(gzip ? ['content-encoding', 'gzip'] : [])], body, bodyBytes: body.length, truncated: false };
      };
      const res = comparePair(side(l), side(r), o);
      assert.deepEqual(res.diffs, []);
      assert.equal(res.overflow, false);
      assert.equal(res.skipped, undefined);
    }),
    { numRuns: 150 },
  );
});

test('prop: ignore rules always hold, and remove exactly the diffs they name', () => {
  fc.assert(
    fc.property(pair, fc.array(rule, { maxLength: 4 }), ([a, b], rules) => {
      const all = diffJson(a, b, options({})).diffs;
      const kept = diffJson(a, b, options({ ignore: rules })).diffs;
      for (const d of kept) assert.ok(!ignoredByOracle(rules, d.path), `${d.path} is ignored by ${rules.join(' ')}`);
      assert.deepEqual(kept, all.filter((d) => !ignoredByOracle(rules, d.path)));
      // the compiled matcher agrees with the oracle on every path seen
      const compiled = compileRules({ ignore: rules });
      for (const d of all) assert.equal(compiled.isIgnored(d.path), ignoredByOracle(rules, d.path), `${d.path} vs ${rules.join(' ')}`);
    }),
    { numRuns: RUNS },
  );
});

test('prop: ignore rules hold with keyed and set arrays too', () => {
  fc.assert(
    fc.property(pair, fc.array(rule, { maxLength: 4 }), fc.constantFrom('keyed', 'set'), ([a, b], rules, mode) => {
      const kept = diffJson(a, b, options({ ignore: rules, arrays: ARRAY_MODES[mode] })).diffs;
      for (const d of kept) assert.ok(!ignoredByOracle(rules, d.path), `${d.path} is ignored by ${rules.join(' ')}`);
    }),
    { numRuns: RUNS },
  );
});

test('prop: every emitted path and field is a valid rule that ignores what it names', () => {
  fc.assert(
    fc.property(pair, fc.constantFrom('index', 'keyed'), ([a, b], mode) => {
      const arrays = ARRAY_MODES[mode];
      const diffs = diffJson(a, b, options({ arrays })).diffs;
      for (const d of diffs) {
        parsePath(d.path);
        parsePath(d.field);
        assert.ok(!diffJson(a, b, options({ arrays, ignore: [d.path] })).diffs.some((x) => x.path === d.path), d.path);
        assert.ok(!diffJson(a, b, options({ arrays, ignore: [d.field] })).diffs.some((x) => x.field === d.field), d.field);
      }
    }),
    { numRuns: 150 },
  );
});

test('prop: output is stable and does not depend on key order (also when capped)', () => {
  fc.assert(
    fc.property(pair, fc.nat(), fc.constantFrom('index', 'keyed', 'set'), fc.constantFrom(1, 3, 10_000), ([a, b], seed, mode, maxDiffs) => {
      const o = options({ arrays: ARRAY_MODES[mode] }, maxDiffs);
      const first = diffJson(a, b, o);
      assert.deepEqual(diffJson(a, b, o), first);
      assert.deepEqual(diffJson(reorderKeys(a, seed), reorderKeys(b, seed + 1), o), first);
      assert.ok(first.diffs.length <= maxDiffs);
    }),
    { numRuns: RUNS },
  );
});

test('prop: diff(b, a) is diff(a, b) with added/removed and left/right swapped', () => {
  fc.assert(
    fc.property(pair, fc.constantFrom('index', 'keyed'), fc.constantFrom(0, 0.5), ([a, b], mode, absolute) => {
      const o = options({ arrays: ARRAY_MODES[mode], tolerance: { absolute } });
      const ab = diffJson(a, b, o).diffs.map(swap).sort(byPath);
      const ba = [...diffJson(b, a, o).diffs].sort(byPath);
      assert.deepEqual(ba, ab);
    }),
    { numRuns: RUNS },
  );
});

test('prop: hostile input always ends within the limits', () => {
  const o = compilePairOptions({ limits: { maxDiffs: 5, maxNodes: 2000, maxDepth: 16, maxJsonBytes: 64 * 1024 } });
  const encodings = fc.constantFrom(undefined, 'gzip', 'deflate', 'br', 'gzip, br', 'zstd', 'identity');
  const types = fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/octet-stream');
  const bigJson = fc.jsonValue({ maxDepth: 40 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null'));
  const deep = fc.integer({ min: 1, max: 5000 }).map((n) => Buffer.from('['.repeat(n) + '1' + ']'.repeat(n)));
  const wide = fc.integer({ min: 0, max: 20_000 }).map((n) => Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: i % 7, v: i })))));
  const body = fc.oneof(fc.uint8Array({ maxLength: 2000 }).map((u) => Buffer.from(u)), bigJson, deep, wide);
  const side = fc.record({ body, enc: encodings, type: types, truncated: fc.boolean(), status: fc.constantFrom(200, 500, undefined) }).map(({ body: b, enc, type, truncated, status }): Side => {
    const headers: string[] = [];
    if (enc !== undefined) headers.push('Content-Encoding', enc);
    if (type !== undefined) headers.push('Content-Type', type);
    const s: Side = { headers, body: b, bodyBytes: b.length + (truncated ? 10 : 0), truncated };
    return status === undefined ? s : { ...s, status };
  });
  const modes = ['index', 'keyed', 'set'].map((m) => compilePairOptions({ arrays: ARRAY_MODES[m], ignore: ['$..v'], limits: o.limits }));
  fc.assert(
    fc.property(side, side, fc.nat(2), (l, r, m) => {
      const t0 = performance.now();
      const res = comparePair(l, r, modes[m]!);
      const ms = performance.now() - t0;
      assert.ok(res.diffs.length <= 5);
      assert.ok(['json', 'text', 'binary', 'empty'].includes(res.bodyMode));
      assert.ok(res.skipped === undefined || ['truncated', 'decode_error', 'decode_limit', 'json_limit', 'budget'].includes(res.skipped));
      assert.ok(ms < 1000, `took ${ms} ms`);
    }),
    { numRuns: 200 },
  );
});
