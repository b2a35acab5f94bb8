import { CompareProcessor } from './src/compare/processor.ts';
const N = 2048;
const ITEMS: unknown[] = [];
for (let i = 0; JSON.stringify(ITEMS).length < N - 120; i++) ITEMS.push({ id: i, name: 'item ' + i, price: i * 1.5, tags: ['a', 'b'] });
const v1 = JSON.stringify(ITEMS), v2 = JSON.stringify(ITEMS.map((x: any, i) => (i === 0 ? { ...x, price: x.price + 1 } : x)));
const doc = (b: string) => Buffer.from('{"meta":{"generatedAt":"' + new Date().toISOString() + '","requestId":"' + Math.random().toString(36).slice(2) + '"},"version":1,"items":' + b + '}');
const h = ['content-type', 'application/json', 'content-length', '2000', 'date', 'x'];
const p = new CompareProcessor({ routes: [{ route: 'api', ignoreHeaders: [], ignore: [], arrays: {}, tolerance: { absolute: 0, relative: 0 }, headers: true, endpoints: [], maxEndpoints: 200 }], limits: { maxDecodedBytes: 8 << 20, maxExpansionRatio: 100, maxJsonBytes: 4 << 20, maxDepth: 64, maxDiffs: 100, maxNodes: 200000 }, examples: { first: 5, reservoir: 20 }, redact: { headers: [], jsonPaths: [] } }, { now: Date.now, random: Math.random });
const ex = (role: any, up: string, b: Buffer) => ({ role, upstream: up, status: 200, headers: h, body: b, bodyBytes: b.length, truncated: false, totalMs: 1, failed: false });
const trials = Array.from({ length: 2000 }, (_, i) => ({ id: String(i), route: 'api', at: Date.now(), method: 'GET', path: '/api/items', headers: ['host', 'x', 'authorization', 'Bearer y'], primary: ex('primary', 'v1', doc(v1)), others: [ex('mirror', 'v2', doc(v2)), ex('secondary', 'v1b', doc(v1))] }));
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  for (const t of trials) p.process(t as any);
  p.flush();
  const ms = performance.now() - t0;
  console.log(`${(trials.length / ms * 1000).toFixed(0)} trials/s, ${(ms * 1000 / trials.length).toFixed(1)} us/trial`);
}
