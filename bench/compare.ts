// Micro-benchmark of the compare differ (src/compare): pairs per second for comparePair on 2 KiB and 64 KiB
// JSON bodies, equal and differing, on one core, median of 5 runs. Run: npx tsx bench/compare.ts
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { comparePair, compilePairOptions, type PairOptions, type Side } from '../src/compare/pair.ts';

const RUNS = 5;
const RUN_MS = 400;

/** A deterministic API-like document of about `bytes` bytes. */
function payload(bytes: number, variant: number): Record<string, unknown> {
  const items: unknown[] = [];
  const doc = {
    meta: { generatedAt: `2024-05-01T12:00:0${variant}Z`, requestId: `req-${variant}`, page: 1, total: 0 },
    user: { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'dev'], active: true },
    items,
  };
  for (let i = 0; JSON.stringify(doc).length < bytes - 160; i++) {
    items.push({
      id: i + 1,
      sku: `SKU-${String(i * 7919).padStart(6, '0')}`,
      name: `Widget number ${i}`,
      price: Math.round(((i * 37) % 1000) * 1.13) / 100,
      stock: (i * 13) % 50,
      tags: ['blue', 'small', i % 2 === 0 ? 'even' : 'odd'],
      updatedAt: `2024-04-${String((i % 28) + 1).padStart(2, '0')}T08:00:00Z`,
    });
  }
  doc.meta.total = items.length;
  return doc;
}

function differing(doc: Record<string, unknown>): Record<string, unknown> {
  const d = structuredClone(doc) as { user: { name: string }; items: { price: number; stock: number }[] };
  d.user.name = 'Ada King';
  d.items[1]!.price += 1;
  d.items[d.items.length - 1]!.stock += 3;
  return d;
}

/** Same content, keys in another order (so the bytes differ and everything is parsed and walked). */
function reordered(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reordered);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).reverse()) out[k] = reordered((v as Record<string, unknown>)[k]);
  return out;
}

function side(body: Buffer, encoding?: string): Side {
  const headers = ['Content-Type', 'application/json; charset=utf-8', 'Date', new Date(0).toUTCString(), 'X-Request-Id', 'abc', 'Cache-Control', 'no-store'];
  if (encoding !== undefined) headers.push('Content-Encoding', encoding);
  return { status: 200, headers, body, bodyBytes: body.length, truncated: false };
}

/** Pairs per second of `f` over one run of RUN_MS. */
function rate(f: () => void): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < RUN_MS) {
    for (let i = 0; i < 50; i++) f();
    n += 50;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * comparePair's rate, and the rate of the floor (JSON.parse of both bodies, nothing else) measured in
 * alternating runs, so the ratio holds on a busy machine too.
 */
function measure(left: Side, right: Side, opts: PairOptions, lraw: Buffer, rraw: Buffer): { pairs: number; floor: number; diffs: number } {
  const pairs: number[] = [];
  const floors: number[] = [];
  let diffs = 0;
  for (let run = 0; run < RUNS; run++) {
    pairs.push(rate(() => (diffs = comparePair(left, right, opts).diffs.length)));
    floors.push(
      rate(() => {
        JSON.parse(lraw.toString('utf8'));
        JSON.parse(rraw.toString('utf8'));
      }),
    );
  }
  return { pairs: median(pairs), floor: median(floors), diffs };
}

const plain = compilePairOptions();
const withRules = compilePairOptions({
  ignore: ['$.meta.generatedAt', '$..requestId', '$.items[*].updatedAt'],
  arrays: { '$.items': 'key:id', '$.items[*].tags': 'set' },
  tolerance: { absolute: 0.001 },
});

const rows: string[][] = [];
for (const size of [2 * 1024, 64 * 1024]) {
  const base = payload(size, 1);
  const a = Buffer.from(JSON.stringify(base));
  const differ = Buffer.from(JSON.stringify(differing(payload(size, 2))));
  const reorder = Buffer.from(JSON.stringify(reordered(base)));
  const cases: [string, Buffer, Buffer, string?][] = [
    ['equal (same bytes)', a, Buffer.from(a)],
    ['equal (keys reordered)', a, reorder],
    ['differing (3 fields + meta)', a, differ],
    ['differing, gzip', a, differ, 'gzip'],
  ];
  for (const [name, l, r, enc] of cases) {
    const ls = side(enc === 'gzip' ? gzipSync(l) : l, enc);
    const rs = side(enc === 'gzip' ? gzipSync(r) : r, enc);
    for (const [rulesName, opts] of [['no rules', plain], ['rules', withRules]] as const) {
      const m = measure(ls, rs, opts, l, r);
      rows.push([
        `${(a.length / 1024).toFixed(1)} KiB`,
        name,
        `${rulesName}, ${m.diffs} diffs`,
        Math.round(m.pairs).toLocaleString('en-US'),
        Math.round(m.floor).toLocaleString('en-US'),
        `${(m.pairs / m.floor).toFixed(2)}`,
      ]);
    }
  }
}

const head = ['size', 'case', 'options', 'pairs/s', 'parse-only/s', 'ratio'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: readonly string[]) => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
console.log(`comparePair, one core, median of ${RUNS} runs of ${RUN_MS} ms (node ${process.version})`);
console.log('parse-only/s: JSON.parse of both (decoded) bodies and nothing else, in alternating runs; ratio = pairs/s ÷ parse-only/s');
console.log(line(head));
for (const r of rows) console.log(line(r));
