// The compare differ, case by case: decoding (and bombs), JSON limits, rule parsing and matching, every
// diff kind and path form, array modes, tolerance, budgets, text and header diffs, and whole pairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { decodeBody, parseContentEncoding, RATIO_GRACE_BYTES } from '../src/compare/decode.ts';
import { isJsonContentType, jsonDepth, looksLikeJson, parseJson } from '../src/compare/json.ts';
import { checkRule, compileRules, parsePath, RuleError } from '../src/compare/rules.ts';
import { diffJson, preview, type DiffOptions } from '../src/compare/diff.ts';
import { diffText } from '../src/compare/text.ts';
import { DEFAULT_IGNORED_HEADERS, compileHeaderRules, cookieNames, diffHeaders, headerMap } from '../src/compare/headers.ts';
import {
  CompareOptionsError,
  DEFAULT_LIMITS,
  DEFAULT_TOLERANCE,
  comparePair,
  compilePairOptions,
  type PairOptionsInput,
  type Side,
} from '../src/compare/pair.ts';
import type { FieldDiff } from '../src/compare/types.ts';

const LIMITS = { maxDecodedBytes: 8 * 1024 * 1024, maxExpansionRatio: 100 };

function opts(input: PairOptionsInput = {}): DiffOptions {
  const o = compilePairOptions(input);
  return { rules: o.rules, tolerance: o.tolerance, maxDiffs: o.limits.maxDiffs, maxNodes: o.limits.maxNodes, maxDepth: o.limits.maxDepth };
}

function diff(a: unknown, b: unknown, input: PairOptionsInput = {}): FieldDiff[] {
  return diffJson(a, b, opts(input)).diffs;
}

const paths = (ds: readonly FieldDiff[]) => ds.map((d) => d.path);

function jsonSide(value: unknown, extra: string[] = [], status = 200): Side {
  const body = Buffer.from(JSON.stringify(value));
  return { status, headers: ['Content-Type', 'application/json', ...extra], body, bodyBytes: body.length, truncated: false };
}

function rawSide(body: Buffer, headers: string[] = [], over: Partial<Side> = {}): Side {
  return { status: 200, headers, body, bodyBytes: body.length, truncated: false, ...over };
}

// ---------------------------------------------------------------- decode

test('decode: gzip, deflate (zlib and raw), br and identity round-trip', () => {
  const text = Buffer.from('{"hello":"world","n":[1,2,3]}'.repeat(20));
  const cases: [string | undefined, Buffer][] = [
    [undefined, text],
    ['identity', text],
    ['gzip', zlib.gzipSync(text)],
    ['x-gzip', zlib.gzipSync(text)],
    ['GZIP', zlib.gzipSync(text)],
    ['deflate', zlib.deflateSync(text)],
    ['deflate', zlib.deflateRawSync(text)],
    ['br', zlib.brotliCompressSync(text)],
  ];
  for (const [enc, body] of cases) {
    const r = decodeBody(body, enc, LIMITS);
    assert.ok(r.ok, `${enc}`);
    assert.deepEqual(r.body, text, `${enc}`);
  }
});

test('decode: several codings are undone in reverse order of application', () => {
  const text = Buffer.from('layered '.repeat(50));
  const body = zlib.brotliCompressSync(zlib.gzipSync(zlib.deflateSync(text)));
  assert.deepEqual(parseContentEncoding('deflate, identity, GZIP ,br'), ['deflate', 'gzip', 'br']);
  const r = decodeBody(body, 'deflate, gzip, br', LIMITS);
  assert.ok(r.ok);
  assert.equal(r.body.toString(), text.toString());
  // the wrong order fails to decode
  assert.deepEqual(decodeBody(body, 'br, gzip, deflate', LIMITS), { ok: false, reason: 'decode_error' });
});

test('decode: unknown codings are unsupported, garbage is a decode error, empty bodies decode to empty', () => {
  assert.deepEqual(decodeBody(Buffer.from('x'), 'zstd', LIMITS), { ok: false, reason: 'unsupported' });
  assert.deepEqual(decodeBody(Buffer.from('x'), 'compress', LIMITS), { ok: false, reason: 'unsupported' });
  assert.deepEqual(decodeBody(Buffer.from('not gzip at all'), 'gzip', LIMITS), { ok: false, reason: 'decode_error' });
  assert.deepEqual(decodeBody(Buffer.from('not brotli at all'), 'br', LIMITS), { ok: false, reason: 'decode_error' });
  assert.deepEqual(decodeBody(zlib.gzipSync(Buffer.from('abc')).subarray(0, 12), 'gzip', LIMITS), { ok: false, reason: 'decode_error' });
  const empty = decodeBody(Buffer.alloc(0), 'gzip', LIMITS);
  assert.ok(empty.ok);
  assert.equal(empty.body.length, 0);
});

test('decode: a 50 MiB gzip bomb stops at the byte cap, quickly', () => {
  const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024), { level: 9 });
  assert.ok(bomb.length < 100_000, `bomb is ${bomb.length} bytes`);
  const t0 = performance.now();
  // ratio cap out of the way: only the byte cap can stop it
  const r = decodeBody(bomb, 'gzip', { maxDecodedBytes: 1024 * 1024, maxExpansionRatio: 1e9 });
  const ms = performance.now() - t0;
  assert.deepEqual(r, { ok: false, reason: 'decode_limit' });
  assert.ok(ms < 2000, `took ${ms} ms`);
  // brotli too
  const brBomb = zlib.brotliCompressSync(Buffer.alloc(8 * 1024 * 1024));
  assert.deepEqual(decodeBody(brBomb, 'br', { maxDecodedBytes: 1024 * 1024, maxExpansionRatio: 1e9 }), { ok: false, reason: 'decode_limit' });
});

test('decode: the expansion ratio caps what a small body may become (past the grace size)', () => {
  const zeros = zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024)); // about 4 KiB: ratio ~1000
  assert.deepEqual(decodeBody(zeros, 'gzip', { maxDecodedBytes: 64 * 1024 * 1024, maxExpansionRatio: 100 }), { ok: false, reason: 'decode_limit' });
  const ok = decodeBody(zeros, 'gzip', { maxDecodedBytes: 64 * 1024 * 1024, maxExpansionRatio: 2000 });
  assert.ok(ok.ok);
  // within the grace size any ratio is fine (a small repetitive JSON body)
  const small = zlib.gzipSync(Buffer.from('{"a":1},'.repeat(RATIO_GRACE_BYTES / 8 - 1)));
  assert.ok(decodeBody(small, 'gzip', { maxDecodedBytes: 1024 * 1024, maxExpansionRatio: 1 }).ok);
  // exactly at the byte cap is allowed, one byte over is not
  const k = zlib.gzipSync(Buffer.alloc(1000, 7));
  assert.ok(decodeBody(k, 'gzip', { maxDecodedBytes: 1000, maxExpansionRatio: 1e6 }).ok);
  assert.deepEqual(decodeBody(k, 'gzip', { maxDecodedBytes: 999, maxExpansionRatio: 1e6 }), { ok: false, reason: 'decode_limit' });
});

// ---------------------------------------------------------------- JSON

test('json: content types and sniffing', () => {
  for (const ct of ['application/json', 'Application/JSON; charset=utf-8', 'application/problem+json', 'application/vnd.api+json', 'text/json']) {
    assert.ok(isJsonContentType(ct), ct);
  }
  for (const ct of [undefined, '', 'text/plain', 'application/jsonp', 'text/html; charset=utf-8']) assert.ok(!isJsonContentType(ct), String(ct));
  assert.ok(looksLikeJson(Buffer.from('  \n {"a":1}')));
  assert.ok(looksLikeJson(Buffer.from('\ufeff[1]')));
  assert.ok(!looksLikeJson(Buffer.from('"str"')));
  assert.ok(!looksLikeJson(Buffer.from('<html>')));
});

test('json: size and depth limits give json_limit, bad JSON is invalid, a BOM is fine', () => {
  const limits = { maxJsonBytes: 100, maxDepth: 3 };
  assert.deepEqual(parseJson(Buffer.from('{"a":[{"b":1}]}'), limits), { ok: true, value: { a: [{ b: 1 }] } });
  assert.deepEqual(parseJson(Buffer.from('{"a":[{"b":[]}]}'), limits), { ok: false, reason: 'json_limit' });
  assert.deepEqual(parseJson(Buffer.from(`[${'1,'.repeat(60)}1]`), limits), { ok: false, reason: 'json_limit' });
  assert.deepEqual(parseJson(Buffer.from('{"a":'), limits), { ok: false, reason: 'invalid' });
  assert.deepEqual(parseJson(Buffer.from('\ufeff{"a":1}'), limits), { ok: true, value: { a: 1 } });
  // brackets inside strings (and escaped quotes) do not count
  assert.equal(jsonDepth(Buffer.from('{"a":"[[[[\\"[[[[","b":{}}'), 10), 2);
});

test('json: 100k levels of nesting are rejected without a crash, fast', () => {
  const t0 = performance.now();
  const deepArr = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000));
  const deepObj = Buffer.from('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000));
  const limits = { maxJsonBytes: 4 * 1024 * 1024, maxDepth: 64 };
  assert.deepEqual(parseJson(deepArr, limits), { ok: false, reason: 'json_limit' });
  assert.deepEqual(parseJson(deepObj, limits), { ok: false, reason: 'json_limit' });
  assert.equal(jsonDepth(Buffer.from('['.repeat(64) + ']'.repeat(64)), 64), 64);
  assert.ok(performance.now() - t0 < 2000);
  // and as a pair: skipped json_limit, compared by hash
  const o = compilePairOptions();
  const r = comparePair(rawSide(deepArr, ['content-type', 'application/json']), rawSide(deepObj, ['content-type', 'application/json']), o);
  assert.equal(r.skipped, 'json_limit');
  assert.equal(r.bodyMode, 'json');
  assert.deepEqual(paths(r.diffs), ['body']);
});

test('diff: values deeper than maxDepth that were not parsed by parseJson stop the walk, not the stack', () => {
  let a: unknown = 1;
  let b: unknown = 2;
  for (let i = 0; i < 100_000; i++) {
    a = { x: a };
    b = { x: b };
  }
  const r = diffJson(a, b, opts());
  assert.equal(r.skipped, 'json_limit');
});

// ---------------------------------------------------------------- rules

test('rules: parse paths, wildcards, recursive descent, brackets and labels', () => {
  assert.deepEqual(parsePath('$'), []);
  assert.deepEqual(parsePath('$.meta.generatedAt'), [
    { t: 'key', name: 'meta', desc: false },
    { t: 'key', name: 'generatedAt', desc: false },
  ]);
  assert.deepEqual(parsePath('$.items[*].updatedAt')[1], { t: 'any', desc: false });
  assert.deepEqual(parsePath('$..requestId'), [{ t: 'key', name: 'requestId', desc: true }]);
  assert.deepEqual(parsePath('$.a.*'), [
    { t: 'key', name: 'a', desc: false },
    { t: 'any', desc: false },
  ]);
  assert.deepEqual(parsePath('$["weird key"][\'it\\\'s\'][3]'), [
    { t: 'key', name: 'weird key', desc: false },
    { t: 'key', name: "it's", desc: false },
    { t: 'index', index: 3, desc: false },
  ]);
  assert.deepEqual(parsePath('$.items[id=7][sku="a]b"]'), [
    { t: 'key', name: 'items', desc: false },
    { t: 'label', label: 'id=7', desc: false },
    { t: 'label', label: 'sku="a]b"', desc: false },
  ]);
  assert.deepEqual(parsePath('$..[*]'), [{ t: 'any', desc: true }]);
  assert.deepEqual(parsePath('$.user-id'), [{ t: 'key', name: 'user-id', desc: false }]);
});

test('rules: malformed rules fail with a message naming the rule and the problem', () => {
  const bad: [string, RegExp][] = [
    ['', /must start with "\$"/],
    ['meta.x', /must start with "\$"/],
    ['$.', /expected a name/],
    ['$..', /must be followed/],
    ['$[', /unterminated "\["/],
    ['$[]', /empty "\[\]"/],
    ['$.a b', /unexpected " "/],
    ['$["x', /unterminated string/],
    ['$[abc]', /bad bracket/],
    ['$.*x', /"\*" must be a whole segment/],
    ['$.a*', /unexpected "\*"/],
    ['$[id=]', /bad key value/],
    ['$[id={}]', /bad key value/],
    ['$x', /unexpected "x"/],
  ];
  for (const [rule, re] of bad) {
    const msg = checkRule(rule);
    assert.ok(msg !== undefined, `accepted ${JSON.stringify(rule)}`);
    assert.match(msg, re, rule);
    assert.ok(msg.includes(JSON.stringify(rule)), msg);
    assert.throws(() => compileRules({ ignore: [rule] }), RuleError);
  }
  assert.equal(checkRule('$.items[*].updatedAt'), undefined);
  assert.throws(() => compileRules({ arrays: { '$.items': 'keyed' as 'set' } }), /expected "index", "set" or "key:<field>"/);
  assert.throws(() => compileRules({ arrays: { '$.items': 'key:' } }), /key field/);
});

test('rules: matching concrete paths', () => {
  const r = compileRules({ ignore: ['$.meta.generatedAt', '$.items[*].updatedAt', '$..requestId', '$.a.*', '$.list[2]', '$.rows[id=7]'] });
  const yes = ['$.meta.generatedAt', '$.meta.generatedAt.deeper', '$.items[0].updatedAt', '$.items[id=3].updatedAt', '$.requestId', '$.x.y[4].requestId', '$.a.b', '$.a[3]', '$.list[2].x', '$.rows[id=7].name'];
  const no = ['$.meta', '$.meta.generated', '$.items[0].name', '$.items.updatedAt', '$.a', '$.list[1]', '$.rows[id=8]', '$.rows[id="7"]', '$.xrequestId'];
  for (const p of yes) assert.ok(r.isIgnored(p), p);
  for (const p of no) assert.ok(!r.isIgnored(p), p);
  const arrays = compileRules({ arrays: { '$.items': 'set', '$..rows': 'key:id', '$.*': 'index' } });
  assert.equal(arrays.stateAt('$.items').arrayMode, 'set');
  assert.deepEqual(arrays.stateAt('$.x.rows').arrayMode, { key: 'id' });
  assert.equal(arrays.stateAt('$.other').arrayMode, 'index');
  assert.equal(arrays.stateAt('$.items[0]').arrayMode, undefined);
});

// ---------------------------------------------------------------- JSON diff

test('diff: every kind, with previews', () => {
  const ds = diff({ a: 1, b: 'x', c: null, d: [1], e: { k: 1 }, gone: true }, { a: 2, b: 'x', c: { x: 1, y: 2, z: 3 }, d: { 0: 1 }, e: { k: '1' }, new: [1, 2, 3, 4, 5] });
  assert.deepEqual(ds, [
    { path: '$.a', field: '$.a', kind: 'changed', left: 1, right: 2 },
    { path: '$.c', field: '$.c', kind: 'type_changed', left: null, right: '{…3 keys}' },
    { path: '$.d', field: '$.d', kind: 'type_changed', left: '[…1 item]', right: '{…1 key}' },
    { path: '$.e.k', field: '$.e.k', kind: 'type_changed', left: 1, right: '1' },
    { path: '$.gone', field: '$.gone', kind: 'removed', left: true },
    { path: '$.new', field: '$.new', kind: 'added', right: '[…5 items]' },
  ]);
  assert.deepEqual(diff(true, false), [{ path: '$', field: '$', kind: 'changed', left: true, right: false }]);
  assert.deepEqual(diff([], {}), [{ path: '$', field: '$', kind: 'type_changed', left: '[]', right: '{}' }]);
});

test('diff: path formatting and fields', () => {
  const ds = diff(
    { items: [{ price: 1 }, { price: 2 }, { price: 3 }, { price: 4 }], 'weird key': 1, 'a.b': 1, '0': 1, $ok: 1, nested: { 'x-y': [[1, 2]] } },
    { items: [{ price: 1 }, { price: 2 }, { price: 3 }, { price: 5 }], 'weird key': 2, 'a.b': 2, '0': 2, $ok: 2, nested: { 'x-y': [[1, 3]] } },
  );
  assert.deepEqual(
    ds.map((d) => [d.path, d.field]),
    [
      ['$.$ok', '$.$ok'],
      ['$["0"]', '$["0"]'],
      ['$["a.b"]', '$["a.b"]'],
      ['$.items[3].price', '$.items[*].price'],
      ['$.nested["x-y"][0][1]', '$.nested["x-y"][*][*]'],
      ['$["weird key"]', '$["weird key"]'],
    ],
  );
});

test('diff: strings in previews are cut to 120 characters', () => {
  const long = 'é'.repeat(300);
  const [d] = diff({ s: long }, { s: 'short' });
  assert.equal((d!.left as string).length, 121);
  assert.ok((d!.left as string).endsWith('…'));
  assert.equal(d!.right, 'short');
  // never splits a surrogate pair
  for (const s of ['😀'.repeat(100), `a${'😀'.repeat(100)}`]) {
    const p = preview(s) as string;
    assert.ok(p.length <= 121 && p.endsWith('…'), p);
    assert.ok(!/[\ud800-\udbff]…$/.test(p), 'lone high surrogate before the ellipsis');
  }
});

test('diff: inherited names (__proto__, toString, constructor) are ordinary keys', () => {
  const a = JSON.parse('{"__proto__":1,"toString":2,"constructor":{"x":1}}') as unknown;
  const b = JSON.parse('{"__proto__":1,"toString":3}') as unknown;
  assert.deepEqual(paths(diff(a, b)), ['$.constructor', '$.toString']);
  assert.deepEqual(diff({}, JSON.parse('{"__proto__":{"a":1}}')), [{ path: '$.__proto__', field: '$.__proto__', kind: 'added', right: '{…1 key}' }]);
  assert.deepEqual(diff({ a: 1 }, { a: 1, hasOwnProperty: 1 }).map((d) => d.kind), ['added']);
});

test('diff: numeric tolerance (absolute and relative); int vs float equal', () => {
  assert.deepEqual(diff({ n: 1 }, { n: 1.0 }), []);
  assert.equal(diff({ n: 1 }, { n: 1.0000001 }).length, 1);
  assert.deepEqual(diff({ n: 1 }, { n: 1.0000001 }, { tolerance: { absolute: 1e-6 } }), []);
  assert.equal(diff({ n: 1 }, { n: 1.01 }, { tolerance: { absolute: 1e-6 } }).length, 1);
  assert.deepEqual(diff({ n: 1000 }, { n: 1001 }, { tolerance: { relative: 0.01 } }), []);
  assert.equal(diff({ n: 1000 }, { n: 1020 }, { tolerance: { relative: 0.01 } }).length, 1);
  assert.deepEqual(diff({ n: 0 }, { n: -0 }), []);
  // a number is never equal to a numeric string
  assert.equal(diff({ n: 1 }, { n: '1' }, { tolerance: { absolute: 10 } })[0]!.kind, 'type_changed');
});

test('diff: ignore rules prune (wildcard, recursive descent, .*) and keep what they do not name', () => {
  const input = { ignore: ['$.meta.generatedAt', '$.items[*].updatedAt', '$..requestId', '$.a.*'] };
  const left = { meta: { generatedAt: 1, v: 1 }, items: [{ updatedAt: 1, p: 1 }, { updatedAt: 1 }], requestId: 'a', deep: { x: [{ requestId: 1 }] }, a: { x: 1, y: [1] } };
  const right = { meta: { generatedAt: 2, v: 1 }, items: [{ updatedAt: 2, p: 1 }, {}], requestId: 'b', deep: { x: [{}] }, a: { x: 2, z: 3 } };
  assert.deepEqual(diff(left, right, input), []);
  // the rule names a.*, not a itself
  assert.deepEqual(paths(diff({ a: { x: 1 } }, { a: [1] }, input)), ['$.a']);
  assert.deepEqual(paths(diff({ meta: { v: 1 } }, { meta: { v: 2 } }, input)), ['$.meta.v']);
  // ignoring the root ignores everything
  assert.deepEqual(diff({ a: 1 }, { a: 2 }, { ignore: ['$'] }), []);
});

test('diff: set arrays are order-insensitive multisets', () => {
  const input = { arrays: { '$.tags': 'set' as const, '$.objs': 'set' as const } };
  assert.deepEqual(diff({ tags: ['a', 'b', 'c'] }, { tags: ['c', 'a', 'b'] }, input), []);
  assert.deepEqual(diff({ tags: ['a', 'b'] }, { tags: ['b', 'a', 'c'] }, input), [{ path: '$.tags[2]', field: '$.tags[*]', kind: 'added', right: 'c' }]);
  assert.deepEqual(diff({ tags: ['a', 'b', 'x'] }, { tags: ['b', 'a'] }, input), [{ path: '$.tags[2]', field: '$.tags[*]', kind: 'removed', left: 'x' }]);
  // multiset: [1,1,2] vs [1,2,2] pairs the leftover 1 with the leftover 2
  assert.deepEqual(diff({ tags: [1, 1, 2] }, { tags: [1, 2, 2] }, input), [{ path: '$.tags[1]', field: '$.tags[*]', kind: 'changed', left: 1, right: 2 }]);
  // objects in any key order, with ignored members left out of the matching
  const withIgnore = { ...input, ignore: ['$.objs[*].at'] };
  assert.deepEqual(diff({ objs: [{ a: 1, b: 2, at: 1 }, { a: 3 }] }, { objs: [{ a: 3 }, { b: 2, a: 1, at: 2 }] }, withIgnore), []);
  // leftovers are diffed field by field (and tolerance applies)
  assert.deepEqual(paths(diff({ objs: [{ id: 1, v: 1 }, { id: 2 }] }, { objs: [{ id: 2 }, { id: 1, v: 2 }] }, input)), ['$.objs[0].v']);
  assert.deepEqual(diff({ objs: [{ v: 1 }] }, { objs: [{ v: 1.0001 }] }, { ...input, tolerance: { absolute: 0.01 } }), []);
});

test('diff: keyed arrays match elements by a field and render [id=7]', () => {
  const input = { arrays: { '$.items': 'key:id' as const } };
  const left = { items: [{ id: 7, price: 1 }, { id: 8, price: 2 }, { id: 'a-1', price: 0 }] };
  const right = { items: [{ id: 8, price: 2 }, { id: 7, price: 3 }, { id: 9 }] };
  assert.deepEqual(diff(left, right, input), [
    { path: '$.items[id=7].price', field: '$.items[*].price', kind: 'changed', left: 1, right: 3 },
    { path: '$.items[id="a-1"]', field: '$.items[*]', kind: 'removed', left: '{…2 keys}' },
    { path: '$.items[id=9]', field: '$.items[*]', kind: 'added', right: '{…1 key}' },
  ]);
  // reordering alone is no difference
  assert.deepEqual(diff(left, { items: [...left.items].reverse() }, input), []);
  // rules can name keyed elements
  assert.deepEqual(paths(diff(left, right, { ...input, ignore: ['$.items[id=7]', '$.items[id="a-1"]'] })), ['$.items[id=9]']);
  // a missing or repeated key falls back to positions
  assert.deepEqual(paths(diff({ items: [{ id: 1, v: 1 }, { v: 2 }] }, { items: [{ id: 1, v: 1 }, { v: 3 }] }, input)), ['$.items[1].v']);
  assert.deepEqual(paths(diff({ items: [{ id: 1 }, { id: 1, v: 1 }] }, { items: [{ id: 1 }, { id: 1, v: 2 }] }, input)), ['$.items[1].v']);
});

test('diff: index arrays report the extra elements of the longer side', () => {
  assert.deepEqual(diff([1, 2], [1, 2, 3, 4]), [
    { path: '$[2]', field: '$[*]', kind: 'added', right: 3 },
    { path: '$[3]', field: '$[*]', kind: 'added', right: 4 },
  ]);
  assert.deepEqual(diff([1, 2, 3], [1]).map((d) => [d.path, d.kind]), [
    ['$[1]', 'removed'],
    ['$[2]', 'removed'],
  ]);
});

test('diff: maxDiffs caps the list (canonical order) and flags overflow', () => {
  const a: Record<string, number> = {};
  const b: Record<string, number> = {};
  for (let i = 999; i >= 0; i--) {
    a[`k${String(i).padStart(4, '0')}`] = i;
    b[`k${String(i).padStart(4, '0')}`] = i + 1;
  }
  const r = diffJson(a, b, { ...opts(), maxDiffs: 10 });
  assert.equal(r.overflow, true);
  assert.deepEqual(paths(r.diffs), Array.from({ length: 10 }, (_, i) => `$.k000${i}`));
  const none = diffJson(a, b, { ...opts(), maxDiffs: 0 });
  assert.deepEqual(none, { diffs: [], overflow: true });
});

test('diff: huge arrays are cut by the node budget, fast', () => {
  const big = Array.from({ length: 1_000_000 }, (_, i) => i);
  const other = Array.from({ length: 1_000_000 }, (_, i) => (i === 999_999 ? -1 : i));
  const t0 = performance.now();
  const r = diffJson(big, other, opts());
  assert.equal(r.skipped, 'budget');
  assert.deepEqual(r.diffs, []);
  // within budget, a 150k-element array is compared completely
  const r2 = diffJson(big.slice(0, 150_000), [...big.slice(0, 149_999), -1], opts());
  assert.equal(r2.skipped, undefined);
  assert.deepEqual(paths(r2.diffs), ['$[149999]']);
  // set and keyed arrays charge the budget up front
  const setOpts = opts({ arrays: { '$': 'set' } });
  assert.equal(diffJson(big, other, setOpts).skipped, 'budget');
  const keyed = big.map((id) => ({ id }));
  assert.equal(diffJson(keyed, [...keyed].reverse(), opts({ arrays: { $: 'key:id' } })).skipped, 'budget');
  assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
});

// ---------------------------------------------------------------- text

test('text: the first differing line, 1-based, with added and removed lines at the end', () => {
  const t = (s: string) => Buffer.from(s);
  assert.deepEqual(diffText(t('a\nb\nc'), t('a\nb\nc')), []);
  assert.deepEqual(diffText(t('a\nb\nc\n'), t('a\nB\nc\n')), [{ path: 'text:2', field: 'text', kind: 'changed', left: 'b', right: 'B' }]);
  assert.deepEqual(diffText(t('a\nb\n'), t('a\nb\nc\n')), [{ path: 'text:3', field: 'text', kind: 'added', right: 'c' }]);
  assert.deepEqual(diffText(t('a\nb\nc\n'), t('a\nb\n')), [{ path: 'text:3', field: 'text', kind: 'removed', left: 'c' }]);
  assert.deepEqual(diffText(t('a\nb'), t('a\nbc')), [{ path: 'text:2', field: 'text', kind: 'changed', left: 'b', right: 'bc' }]);
  const long = 'x'.repeat(10_000);
  const [d] = diffText(t(`${long}1`), t(`${long}2`));
  assert.equal(d!.path, 'text:1');
  assert.equal((d!.left as string).length, 121);
});

test('text: too many lines before the difference falls back to length and hash', () => {
  const many = 'line\n'.repeat(50);
  const [d] = diffText(Buffer.from(`${many}a`), Buffer.from(`${many}b`), 10);
  assert.equal(d!.path, 'text');
  assert.equal(d!.field, 'text');
  assert.match(d!.left as string, /^<251 bytes, sha256 [0-9a-f]{16}>$/);
  // a big text body is fine with the default bound
  const big = 'row\n'.repeat(200_000);
  const [e] = diffText(Buffer.from(`${big}x`), Buffer.from(`${big}y`));
  assert.equal(e!.path, 'text');
  const [f] = diffText(Buffer.from(`a\n${big}`), Buffer.from(`b\n${big}`));
  assert.equal(f!.path, 'text:1');
});

// ---------------------------------------------------------------- headers

test('headers: case-insensitive names, repeated values joined, default ignores, user extras', () => {
  const rules = compileHeaderRules(['X-Build']);
  const l = headerMap(['Content-Type', 'application/json', 'Date', 'Mon', 'Vary', 'accept', 'vary', 'origin', 'X-Build', '1', 'X-Old', 'yes', 'ETag', '"a"']);
  const r = headerMap(['content-type', 'application/json', 'date', 'Tue', 'VARY', 'accept', 'X-BUILD', '2', 'X-New', 'y', 'etag', '"b"']);
  assert.equal(l.get('vary'), 'accept, origin');
  assert.deepEqual(diffHeaders(l, r, rules), [
    { path: 'header.vary', field: 'header.vary', kind: 'changed', left: 'accept, origin', right: 'accept' },
    { path: 'header.x-new', field: 'header.x-new', kind: 'added', right: 'y' },
    { path: 'header.x-old', field: 'header.x-old', kind: 'removed', left: 'yes' },
  ]);
  for (const h of ['date', 'server', 'age', 'x-request-id', 'request-id', 'x-correlation-id', 'x-amzn-trace-id', 'traceparent', 'tracestate', 'etag', 'last-modified', 'expires', 'x-runtime', 'x-response-time', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'via', 'cf-ray', 'x-served-by', 'x-cache', 'x-envoy-upstream-service-time', 'x-tapwire-mirror']) {
    assert.ok(DEFAULT_IGNORED_HEADERS.includes(h), h);
  }
  assert.ok(!DEFAULT_IGNORED_HEADERS.includes('set-cookie'));
  assert.ok(!DEFAULT_IGNORED_HEADERS.includes('content-type'));
  assert.throws(() => compileHeaderRules(['bad name']), /not a valid header name/);
});

test('headers: set-cookie compares cookie names only; secret values are redacted in diffs', () => {
  assert.equal(cookieNames('sid=abc; Path=/; HttpOnly\ntheme=dark'), 'sid, theme');
  const rules = compileHeaderRules();
  const l = headerMap(['Set-Cookie', 'sid=abc; Expires=Mon', 'Set-Cookie', 'theme=dark', 'X-Api-Key', 'k1']);
  const same = headerMap(['set-cookie', 'theme=light', 'set-cookie', 'sid=zzz; Expires=Tue', 'x-api-key', 'k1']);
  assert.deepEqual(diffHeaders(l, same, rules), []);
  const r = headerMap(['set-cookie', 'sid=zzz', 'x-api-key', 'k2']);
  assert.deepEqual(diffHeaders(l, r, rules), [
    { path: 'header.set-cookie', field: 'header.set-cookie', kind: 'changed', left: 'sid, theme', right: 'sid' },
    { path: 'header.x-api-key', field: 'header.x-api-key', kind: 'changed', left: '[REDACTED]', right: '[REDACTED]' },
  ]);
  assert.deepEqual(diffHeaders(l, r, compileHeaderRules(['set-cookie'])).map((d) => d.path), ['header.x-api-key']);
});

// ---------------------------------------------------------------- pairs

test('pair: status, then headers, then body fields', () => {
  const o = compilePairOptions({ ignore: ['$.at'] });
  const r = comparePair(jsonSide({ a: 1, at: 1 }, ['X-V', '1'], 200), jsonSide({ a: 2, at: 2 }, ['X-V', '2', 'Date', 'now'], 500), o);
  assert.deepEqual(r, {
    diffs: [
      { path: 'status', field: 'status', kind: 'changed', left: 200, right: 500 },
      { path: 'header.x-v', field: 'header.x-v', kind: 'changed', left: '1', right: '2' },
      { path: '$.a', field: '$.a', kind: 'changed', left: 1, right: 2 },
    ],
    overflow: false,
    bodyMode: 'json',
  });
  assert.deepEqual(comparePair(jsonSide({ a: 1 }), jsonSide({ a: 1 }), o), { diffs: [], overflow: false, bodyMode: 'json' });
  // a missing status (no answer) is removed / added
  const noStatus: Side = { bodyBytes: 0, truncated: false };
  assert.equal(comparePair(jsonSide({}), { ...noStatus }, o).diffs[0]!.kind, 'removed');
});

test('pair: maxDiffs counts status, headers and body together', () => {
  const o = compilePairOptions({ limits: { maxDiffs: 2 } });
  const r = comparePair(jsonSide({ a: 1, b: 1 }, ['x-v', '1'], 200), jsonSide({ a: 2, b: 2 }, ['x-v', '2'], 201), o);
  assert.deepEqual(paths(r.diffs), ['status', 'header.x-v']);
  assert.equal(r.overflow, true);
  const r1 = comparePair(jsonSide({ a: 1, b: 1 }), jsonSide({ a: 2, b: 1 }), compilePairOptions({ limits: { maxDiffs: 1 } }));
  assert.deepEqual(paths(r1.diffs), ['$.a']);
  assert.equal(r1.overflow, false);
});

test('pair: truncated bodies are compared by length and hash of the kept bytes', () => {
  const o = compilePairOptions();
  const kept = Buffer.from('{"a":1,"b":[1,2,3');
  const same = comparePair(rawSide(kept, [], { truncated: true, bodyBytes: 5000 }), rawSide(Buffer.from(kept), [], { truncated: true, bodyBytes: 5000 }), o);
  assert.deepEqual(same, { diffs: [], overflow: false, bodyMode: 'binary', skipped: 'truncated' });
  const longer = comparePair(rawSide(kept, [], { truncated: true, bodyBytes: 5000 }), rawSide(kept, [], { truncated: true, bodyBytes: 5001 }), o);
  assert.equal(longer.skipped, 'truncated');
  assert.deepEqual(longer.diffs, [{ path: 'body', field: 'body', kind: 'changed', left: longer.diffs[0]!.left, right: longer.diffs[0]!.right }]);
  assert.match(longer.diffs[0]!.left as string, /^<5000 bytes \(17 kept\), sha256 [0-9a-f]{16}>$/);
  const other = comparePair(rawSide(kept, [], { truncated: true, bodyBytes: 5000 }), rawSide(Buffer.from('{"a":2,"b":[1,2,3'), [], { truncated: true, bodyBytes: 5000 }), o);
  assert.deepEqual(paths(other.diffs), ['body']);
  // one side truncated, the other complete with the same length and prefix: no difference seen
  const full = Buffer.concat([kept, Buffer.from(']}')]);
  const mixed = comparePair(rawSide(kept, [], { truncated: true, bodyBytes: full.length }), rawSide(full), o);
  assert.deepEqual(mixed.diffs, []);
  assert.equal(mixed.skipped, 'truncated');
});

test('pair: bodies are decoded per side before comparing', () => {
  const o = compilePairOptions();
  const json = Buffer.from(JSON.stringify({ a: 1, list: [1, 2, 3] }));
  const json2 = Buffer.from(JSON.stringify({ a: 2, list: [1, 2, 3] }));
  const gz = rawSide(zlib.gzipSync(json), ['content-type', 'application/json', 'content-encoding', 'gzip']);
  const br = rawSide(zlib.brotliCompressSync(json2), ['content-type', 'application/json', 'content-encoding', 'br']);
  const plain = rawSide(json, ['content-type', 'application/json']);
  const r = comparePair(gz, br, o);
  assert.deepEqual(paths(r.diffs), ['header.content-encoding', '$.a']);
  assert.equal(r.bodyMode, 'json');
  assert.deepEqual(paths(comparePair(gz, plain, o).diffs), ['header.content-encoding']);
  const bad = rawSide(Buffer.from('garbage'), ['content-encoding', 'gzip']);
  assert.deepEqual(comparePair(gz, bad, o), {
    diffs: comparePair(gz, bad, o).diffs,
    overflow: false,
    bodyMode: 'binary',
    skipped: 'decode_error',
  });
  const bomb = rawSide(zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024)), ['content-encoding', 'gzip']);
  const rb = comparePair(bomb, bomb, o);
  assert.equal(rb.diffs.length, 0, 'identical encoded bytes are not decoded');
  assert.equal(comparePair(bomb, gz, o).skipped, 'decode_limit');
});

test('pair: JSON by content type or sniffing; text; binary; empty; mode mismatch', () => {
  const o = compilePairOptions();
  // sniffed JSON without a content type
  const sniffed = comparePair(rawSide(Buffer.from('{"a":1}')), rawSide(Buffer.from('{"a":2}')), o);
  assert.equal(sniffed.bodyMode, 'json');
  assert.deepEqual(paths(sniffed.diffs), ['$.a']);
  // looks like JSON but is not: text
  const notJson = comparePair(rawSide(Buffer.from('{not json\nline2')), rawSide(Buffer.from('{not json\nline3')), o);
  assert.equal(notJson.bodyMode, 'text');
  assert.deepEqual(paths(notJson.diffs), ['text:2']);
  // text by content type
  const html = comparePair(rawSide(Buffer.from('<p>a</p>'), ['content-type', 'text/html']), rawSide(Buffer.from('<p>b</p>'), ['content-type', 'text/html']), o);
  assert.equal(html.bodyMode, 'text');
  // JSON against an HTML error page
  const mismatch = comparePair(jsonSide({ a: 1 }), rawSide(Buffer.from('<html>Bad gateway</html>'), ['content-type', 'text/html']), o);
  assert.deepEqual(mismatch.diffs.filter((d) => d.path === 'body'), [{ path: 'body', field: 'body', kind: 'type_changed', left: '{"a":1}', right: '<html>Bad gateway</html>' }]);
  assert.equal(mismatch.bodyMode, 'json');
  // binary
  const bin = comparePair(rawSide(Buffer.from([0, 1, 2, 255])), rawSide(Buffer.from([0, 1, 2, 254])), o);
  assert.equal(bin.bodyMode, 'binary');
  assert.match(bin.diffs[0]!.left as string, /^<4 bytes, sha256 [0-9a-f]{16}>$/);
  assert.equal(comparePair(rawSide(Buffer.from([0, 1])), rawSide(Buffer.from([0, 1])), o).bodyMode, 'binary');
  // empty
  assert.deepEqual(comparePair(rawSide(Buffer.alloc(0)), { status: 200, bodyBytes: 0, truncated: false }, o), { diffs: [], overflow: false, bodyMode: 'empty' });
  const added = comparePair(rawSide(Buffer.alloc(0)), jsonSide({ a: 1 }), o);
  assert.deepEqual(added.diffs.filter((d) => d.path === 'body'), [{ path: 'body', field: 'body', kind: 'added', right: '{"a":1}' }]);
});

test('pair: JSON over the size limit is compared by hash', () => {
  const o = compilePairOptions({ limits: { maxJsonBytes: 10 } });
  const r = comparePair(jsonSide({ a: 1, b: 2 }), jsonSide({ a: 1, b: 3 }), o);
  assert.equal(r.skipped, 'json_limit');
  assert.deepEqual(paths(r.diffs), ['body']);
});

test('compilePairOptions: defaults, and errors that name the bad entry', () => {
  const o = compilePairOptions();
  assert.deepEqual(o.limits, DEFAULT_LIMITS);
  assert.deepEqual(DEFAULT_LIMITS, { maxDecodedBytes: 8 * 1024 * 1024, maxExpansionRatio: 100, maxJsonBytes: 4 * 1024 * 1024, maxDepth: 64, maxDiffs: 100, maxNodes: 200_000 });
  assert.deepEqual(o.tolerance, DEFAULT_TOLERANCE);
  assert.equal(compilePairOptions({ limits: { maxDepth: 10 } }).limits.maxDepth, 10);
  const bad: [PairOptionsInput, string, RegExp][] = [
    [{ ignore: ['$.ok', '$.a['] }, 'ignore[1]', /unterminated/],
    [{ arrays: { '$.x': 'sorted' as 'set' } }, 'arrays["$.x"]', /expected "index"/],
    [{ arrays: { 'x': 'set' } }, 'arrays["x"]', /must start with/],
    [{ tolerance: { absolute: -1 } }, 'tolerance.absolute', />= 0/],
    [{ tolerance: { relative: Number.NaN } }, 'tolerance.relative', />= 0/],
    [{ limits: { maxDepth: 5000 } }, 'limits.maxDepth', /1 to 1000/],
    [{ limits: { maxDiffs: 1.5 } }, 'limits.maxDiffs', /integer/],
    [{ limits: { maxExpansionRatio: 0.5 } }, 'limits.maxExpansionRatio', />= 1/],
    [{ ignoreHeaders: ['ok', 'not ok'] }, 'ignoreHeaders', /not a valid header name/],
  ];
  for (const [input, key, re] of bad) {
    assert.throws(
      () => compilePairOptions(input),
      (e: unknown) => e instanceof CompareOptionsError && e.key === key && re.test(e.message),
      JSON.stringify(input),
    );
  }
});
