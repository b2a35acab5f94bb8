// Detectors on synthetic streams with an injected clock: each labelled attack (single-source flood, also right
// after start-up; distributed flood; path scanner; credential stuffing from one source and spread over many;
// 5xx burst) is found within 10 s of its start, a realistic benign mix of 100,000+ requests over simulated
// minutes gives no signal at all, and per-source state stays at its cap under a million distinct sources.
// Also: the windows and the Space-Saving sketch against exact counts (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createDetectors, DEFAULT_DETECTOR_OPTIONS, type DetectorOptions, type Detectors } from '../src/analysis/detectors.ts';
import { SmallSpaceSaving, SpaceSaving, mergeSketches } from '../src/analysis/sketch.ts';
import { BucketRing, DistinctBitmap, DistinctRing, Ewma, Segments, hash32 } from '../src/analysis/window.ts';
import type { RequestEvent, Signal } from '../src/analysis/types.ts';

// ---------------------------------------------------------------- synthetic traffic

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

interface Req {
  source: string;
  method?: string;
  path: string;
  endpoint: string;
  status?: number;
  route?: string;
  upstream?: string;
  body?: Buffer;
  headers?: string[];
}

function event(at: number, r: Req): RequestEvent {
  return {
    at,
    route: r.route ?? 'api',
    endpoint: r.endpoint,
    method: r.method ?? 'GET',
    path: r.path,
    query: '',
    source: r.source,
    headers: r.headers ?? ['user-agent', 'synthetic'],
    body: r.body, // always present (maybe undefined): one object shape for every event
    bodyBytes: r.body?.length ?? 0,
    upstream: r.upstream ?? 'backend',
    status: r.status ?? 200,
    latencyMs: 20,
  };
}

/** ~50 endpoints with Zipf-like popularity; some carry ids. */
const ENDPOINTS: { endpoint: string; path: (rand: () => number) => string; method: string; weight: number }[] = [];
for (let i = 0; i < 50; i++) {
  const withId = i % 3 === 1;
  const method = i % 7 === 3 ? 'POST' : 'GET';
  const base = `/v1/res${i}`;
  ENDPOINTS.push({
    endpoint: `${method} ${base}${withId ? '/{id}' : ''}`,
    path: withId ? (rand) => `${base}/${Math.floor(rand() * 100_000)}` : () => base,
    method,
    weight: 1 / (i + 1),
  });
}
ENDPOINTS.push({ endpoint: 'POST /login', path: () => '/login', method: 'POST', weight: 0.05 });
const ENDPOINT_WEIGHT = ENDPOINTS.reduce((s, e) => s + e.weight, 0);

interface BenignOptions {
  seed: number;
  sources: number;
  /** total req/s at simulated second t (from the start of the stream) */
  rate: (t: number) => number;
  /** relative weights of the sources (default: 1 + rand() * 2) */
  skew?: number;
  /** weights 1/(i+1) instead: a few heavy clients and a long tail */
  zipf?: boolean;
}

/** A benign browsing mix: per request a weighted source and endpoint; 1% 404, 0.5% 401 (half on /login), 0.2% 5xx. */
function benign(o: BenignOptions): (t: number, out: RequestEvent[]) => void {
  const rand = rng(o.seed);
  const weights = Array.from({ length: o.sources }, (_, i) => (o.zipf ? 1 / (i + 1) : 1 + rand() * (o.skew ?? 2)));
  const total = weights.reduce((a, b) => a + b, 0);
  const cum: number[] = [];
  let acc = 0;
  for (const w of weights) cum.push((acc += w / total));
  const pickSource = () => {
    const x = rand();
    let i = 0;
    while (i < cum.length - 1 && cum[i]! < x) i++;
    return `10.0.${i >> 8}.${i & 255}`;
  };
  const pickEndpoint = () => {
    let x = rand() * ENDPOINT_WEIGHT;
    for (const e of ENDPOINTS) if ((x -= e.weight) <= 0) return e;
    return ENDPOINTS[0]!;
  };
  let carry = 0;
  return (t, out) => {
    const want = o.rate(t) + carry;
    const n = Math.floor(want);
    carry = want - n;
    for (let i = 0; i < n; i++) {
      const at = T0 + t * 1000 + Math.floor(rand() * 1000);
      const ep = pickEndpoint();
      const x = rand();
      let status = 200;
      let endpoint = ep.endpoint;
      let path = ep.path(rand);
      let method = ep.method;
      if (x < 0.01) {
        status = 404;
        path = `/v1/missing${Math.floor(rand() * 50)}`;
        endpoint = `GET /v1/missing${Math.floor(rand() * 50)}`;
      } else if (x < 0.0125) {
        status = 401;
        path = '/login';
        endpoint = 'POST /login';
        method = 'POST';
      } else if (x < 0.015) status = 401;
      else if (x < 0.017) status = 503;
      out.push(event(at, { source: pickSource(), path, endpoint, method, status }));
    }
  };
}

type Gen = (t: number, out: RequestEvent[]) => void;

/**
 * Drives generators second by second from t = 0 to `seconds`, ticking at every second's end (+250 ms, as an
 * interval timer would), and returns every signal with the simulated second it came at.
 */
function run(d: Detectors, seconds: number, gens: Gen[], onEvent?: (e: RequestEvent) => void): { t: number; s: Signal }[] {
  const signals: { t: number; s: Signal }[] = [];
  const buf: RequestEvent[] = [];
  for (let t = 0; t < seconds; t++) {
    buf.length = 0;
    for (const g of gens) g(t, buf);
    buf.sort((a, b) => a.at - b.at);
    for (const e of buf) {
      d.observe(e);
      onEvent?.(e);
    }
    for (const s of d.tick(T0 + (t + 1) * 1000 + 250)) signals.push({ t: t + 1, s });
  }
  return signals;
}

/** `n` requests per second from `from` (seconds) on, each built by `make(i)`, spread over the second. */
function attack(from: number, to: number, perSecond: number, make: (i: number, rand: () => number) => Req, seed = 7): Gen {
  const rand = rng(seed);
  let i = 0;
  return (t, out) => {
    if (t < from || t >= to) return;
    for (let k = 0; k < perSecond; k++) out.push(event(T0 + t * 1000 + Math.floor((k * 1000) / perSecond), make(i++, rand)));
  };
}

function firstAt(signals: { t: number; s: Signal }[], pred: (s: Signal) => boolean): number | undefined {
  return signals.find((x) => pred(x.s))?.t;
}

const describe = (signals: { t: number; s: Signal }[]) => signals.slice(0, 5).map((x) => `${x.t}s ${x.s.detector} ${x.s.key}: ${x.s.title}`).join('\n');

// ---------------------------------------------------------------- attacks

/** when attacks start in the tests below: after the warm-up (baselines judge at their factors from 15 s) */
const A = 30;

test('single-source flood after warm-up: found within 10 s, high severity, with redacted evidence and numbers', () => {
  const d = createDetectors();
  const signals = run(d, A + 30, [
    benign({ seed: 1, sources: 30, rate: () => 600 }),
    attack(A, A + 30, 400, () => ({ source: '203.0.113.7', path: '/v1/res0', endpoint: 'GET /v1/res0', headers: ['authorization', 'Bearer secret', 'user-agent', 'flood'] })),
  ]);
  const before = signals.filter((x) => x.t <= A);
  assert.deepEqual(before, [], describe(before));
  const at = firstAt(signals, (s) => s.detector === 'flood' && s.key === 'source:203.0.113.7');
  assert.ok(at !== undefined && at - A <= 10, `flood found at ${at}`);
  const s = signals.find((x) => x.s.detector === 'flood')!.s;
  assert.equal(s.severity, 'high');
  assert.equal(s.detail.kind, 'single');
  assert.match(s.title, /single-source flood from 203\.0\.113\.7: \d+ req\/s/);
  assert.equal(s.evidence?.source, '203.0.113.7');
  assert.ok(s.evidence?.headers.includes('[REDACTED]'));
  assert.ok(!JSON.stringify(s).includes('Bearer secret'));
  // only the flood: no distributed label, no spike (600 → 1000 req/s is under spikeFactor)
  assert.deepEqual([...new Set(signals.map((x) => `${x.s.detector} ${x.s.key}`))], ['flood source:203.0.113.7']);
  // and it holds while the flood lasts (the baseline is frozen)
  assert.ok(signals.filter((x) => x.s.detector === 'flood').length >= 25);
});

test('single-source flood right after start-up (no baseline yet): found within 10 s by the absolute floors', () => {
  // starting with the proxy: above the hard floor; a few seconds in: against the typical source
  for (const [start, rate] of [
    [0, 1200],
    [3, 500],
    [8, 400],
  ] as const) {
    const d = createDetectors();
    const signals = run(d, 25, [
      benign({ seed: 2, sources: 30, rate: () => 700 }),
      attack(start, 25, rate, () => ({ source: '198.51.100.9', path: '/v1/res1/1', endpoint: 'GET /v1/res1/{id}' })),
    ]);
    const at = firstAt(signals, (s) => s.detector === 'flood' && s.key === 'source:198.51.100.9');
    assert.ok(at !== undefined && at - start <= 10, `start ${start}: found at ${at}`);
    const others = signals.filter((x) => x.s.key !== 'source:198.51.100.9');
    assert.deepEqual(others, [], describe(others));
  }
  // a lone source (no one to compare with)
  const d = createDetectors();
  const signals = run(d, 10, [attack(0, 10, 1500, () => ({ source: '192.0.2.1', path: '/', endpoint: 'GET /' }))]);
  assert.ok(firstAt(signals, (s) => s.detector === 'flood' && s.key === 'source:192.0.2.1')! <= 3);
});

test('benign heavy clients present from the start (Zipf-skewed sources) are not floods', () => {
  for (const [sources, rate] of [
    [24, 2000],
    [40, 600],
  ] as const) {
    const d = createDetectors();
    const signals = run(d, 40, [benign({ seed: 3, sources, zipf: true, rate: () => rate })]);
    assert.deepEqual(signals, [], describe(signals));
  }
});

test('distributed flood over the whole site: found within 10 s and labelled distributed, not as single-source floods', () => {
  const d = createDetectors();
  const signals = run(d, A + 30, [
    benign({ seed: 3, sources: 30, rate: () => 500 }),
    // 400 new sources, 4 req/s each, all over the site: 1600 req/s on top of 500
    attack(A, A + 30, 1600, (i, rand) => {
      const ep = ENDPOINTS[Math.floor(rand() * 50)]!;
      return { source: `100.64.${(i % 400) >> 8}.${i % 400 & 255}`, path: ep.path(rand), endpoint: ep.endpoint, method: ep.method };
    }),
  ]);
  assert.deepEqual(signals.filter((x) => x.t <= A), []);
  const at = firstAt(signals, (s) => s.detector === 'flood' && s.detail.kind === 'distributed');
  assert.ok(at !== undefined && at - A <= 10, `found at ${at}\n${describe(signals)}`);
  assert.equal(signals.find((x) => x.s.detector === 'flood')!.s.key, 'global');
  const s = signals.filter((x) => x.s.detector === 'flood' && x.s.key === 'global').at(-1)!.s;
  assert.ok(Number(s.detail.sources) >= 300, `sources ${s.detail.sources}`);
  assert.ok(Number(s.detail.newSources) >= 300, `new sources ${s.detail.newSources}`);
  assert.ok(Number(s.detail.topShare) < 0.05, `top share ${s.detail.topShare}`);
  assert.match(s.title, /^distributed flood: \d+ req\/s from \d+ sources/);
  assert.equal(signals.filter((x) => x.s.key.startsWith('source:')).length, 0);
  // endpoints swamped by it may say so too, as distributed floods as well
  assert.deepEqual([...new Set(signals.map((x) => `${x.s.detector} ${String(x.s.detail.kind)}`))].sort(), ['flood distributed']);

  // the same flood 8 s after start-up, while the baselines are young (judging at twice their factors)
  const d2 = createDetectors();
  const s2 = run(d2, 25, [
    benign({ seed: 3, sources: 30, rate: () => 500 }),
    attack(8, 25, 1600, (i, rand) => {
      const ep = ENDPOINTS[Math.floor(rand() * 50)]!;
      return { source: `100.64.${(i % 400) >> 8}.${i % 400 & 255}`, path: ep.path(rand), endpoint: ep.endpoint, method: ep.method };
    }),
  ]);
  assert.deepEqual(s2.filter((x) => x.t <= 8), []);
  const at2 = firstAt(s2, (s) => s.detector === 'flood' && s.detail.kind === 'distributed');
  assert.ok(at2 !== undefined && at2 - 8 <= 10, `found at ${at2}\n${describe(s2)}`);
});

test('distributed flood on one endpoint, and a source surge that barely moves the total rate', () => {
  // 200 sources × 3 req/s at one endpoint: 600 req/s where there were ~10
  const d = createDetectors();
  const signals = run(d, A + 20, [
    benign({ seed: 4, sources: 30, rate: () => 400 }),
    attack(A, A + 20, 600, (i) => ({ source: `100.65.0.${i % 200}`, path: '/v1/res20', endpoint: 'GET /v1/res20' })),
  ]);
  assert.deepEqual(signals.filter((x) => x.t <= A), []);
  const at = firstAt(signals, (s) => s.detector === 'flood' && s.key === 'endpoint:api GET /v1/res20' && s.detail.kind === 'distributed');
  assert.ok(at !== undefined && at - A <= 10, `found at ${at}\n${describe(signals)}`);

  // 300 new sources at 2 req/s each across the site: ×2.2 in rate (under spikeFactor) but ×10 in sources
  const d2 = createDetectors();
  const s2 = run(d2, A + 20, [
    benign({ seed: 5, sources: 30, rate: () => 500 }),
    attack(A, A + 20, 600, (i, rand) => {
      const ep = ENDPOINTS[Math.floor(rand() * 50)]!;
      return { source: `100.66.${(i % 300) >> 8}.${i % 300 & 255}`, path: ep.path(rand), endpoint: ep.endpoint, method: ep.method };
    }),
  ]);
  assert.deepEqual(s2.filter((x) => x.t <= A), []);
  const at2 = firstAt(s2, (s) => s.detector === 'flood' && s.key === 'global' && s.detail.by === 'sources');
  assert.ok(at2 !== undefined && at2 - A <= 10, `found at ${at2}\n${describe(s2)}`);
});

test('a spike from a few heavy sources is a rate_spike (medium), not a flood', () => {
  const d = createDetectors({ floodFactor: 100 });
  const signals = run(d, A + 20, [
    benign({ seed: 6, sources: 30, rate: () => 300 }),
    // 3 sources share 1200 req/s: top share ~30-40%, too few sources for "distributed"
    attack(A, A + 20, 1200, (i) => ({ source: `192.0.2.${i % 3}`, path: '/v1/res2', endpoint: 'GET /v1/res2' })),
  ]);
  const spike = signals.find((x) => x.s.detector === 'rate_spike');
  assert.ok(spike && spike.t - A <= 10, describe(signals));
  assert.equal(spike.s.severity, 'medium');
  assert.ok(!signals.some((x) => x.s.detector === 'flood'), describe(signals));
});

test('path scanner: one source, hundreds of distinct paths answered 404, found within 10 s', () => {
  const d = createDetectors();
  const signals = run(d, A + 20, [
    benign({ seed: 7, sources: 30, rate: () => 500 }),
    attack(A, A + 20, 30, (i) => ({ source: '203.0.113.50', path: `/${['admin', '.env', 'wp-login.php', 'backup', '.git/config'][i % 5]}${i}`, endpoint: 'other', status: 404 })),
  ]);
  assert.deepEqual(signals.filter((x) => x.t <= A), []);
  const at = firstAt(signals, (s) => s.detector === 'scan' && s.key === 'source:203.0.113.50');
  assert.ok(at !== undefined && at - A <= 10, `found at ${at}`);
  const last = signals.filter((x) => x.s.detector === 'scan').at(-1)!.s;
  assert.equal(last.severity, 'medium');
  assert.ok(Number(last.detail.distinctPaths) > 400, `distinct ${last.detail.distinctPaths}`);
  assert.ok(Number(last.detail.notFound) > 400);
  assert.equal(last.evidence?.status, 404);
  assert.ok(signals.every((x) => x.s.key === 'source:203.0.113.50'), describe(signals));
});

test('path scanner right after start-up, and an enumeration of distinct paths answered 200/403', () => {
  const d = createDetectors();
  const signals = run(d, 15, [
    benign({ seed: 8, sources: 30, rate: () => 800 }),
    attack(0, 15, 10, (i) => ({ source: '203.0.113.51', path: `/probe/${i}`, endpoint: 'GET /probe/{id}', status: 404 })),
  ]);
  assert.ok(firstAt(signals, (s) => s.detector === 'scan')! <= 10);
  assert.deepEqual(signals.filter((x) => x.s.key !== 'source:203.0.113.51'), []);

  const d2 = createDetectors();
  const s2 = run(d2, 45, [
    benign({ seed: 9, sources: 30, rate: () => 500 }),
    attack(20, 45, 40, (i) => ({ source: '203.0.113.52', path: `/files/${i.toString(36)}x`, endpoint: 'other', status: i % 4 === 0 ? 403 : 200 })),
  ]);
  const at = firstAt(s2, (s) => s.detector === 'scan' && s.key === 'source:203.0.113.52');
  assert.ok(at !== undefined && at - 20 <= 10, describe(s2));
  assert.equal(s2.find((x) => x.s.detector === 'scan')!.s.detail.by, 'distinct_paths');
  // 403s on many paths are a scan, not credential stuffing
  assert.ok(!s2.some((x) => x.s.detector === 'credential_stuffing'), describe(s2));
});

test('credential stuffing from one source: a burst of 401s on the login endpoint, found within 10 s; the password never kept', () => {
  const d = createDetectors();
  const signals = run(d, A + 20, [
    benign({ seed: 10, sources: 30, rate: () => 500 }),
    attack(A, A + 20, 8, () => ({ source: '198.51.100.77', method: 'POST', path: '/login', endpoint: 'POST /login', status: 401, body: Buffer.from('user=alice&password=hunter2') })),
  ]);
  assert.deepEqual(signals.filter((x) => x.t <= A), []);
  const at = firstAt(signals, (s) => s.detector === 'credential_stuffing' && s.key === 'source:198.51.100.77');
  assert.ok(at !== undefined && at - A <= 10, `found at ${at}`);
  const s = signals.find((x) => x.s.detector === 'credential_stuffing')!.s;
  assert.equal(s.severity, 'high');
  assert.equal(s.evidence?.status, 401);
  assert.equal(s.evidence?.body, undefined);
  assert.ok(!JSON.stringify(signals).includes('hunter2'));
  assert.ok(signals.every((x) => x.s.key === 'source:198.51.100.77'), describe(signals));
});

test('credential stuffing spread over many sources at one login endpoint: found within 10 s, keyed by the endpoint', () => {
  for (const start of [10, A]) {
    const d = createDetectors();
    // 150 sources, each under the per-source thresholds (≤ 1 failure every 3 s), 50 failures/s in all
    const signals = run(d, start + 20, [
      benign({ seed: 11, sources: 30, rate: () => 500 }),
      attack(start, start + 20, 50, (i) => ({ source: `100.70.0.${i % 150}`, method: 'POST', path: '/login', endpoint: 'POST /login', status: i % 10 === 0 ? 403 : 401 })),
    ]);
    assert.deepEqual(signals.filter((x) => x.t <= start), []);
    const at = firstAt(signals, (s) => s.detector === 'credential_stuffing' && s.key === 'endpoint:api POST /login');
    assert.ok(at !== undefined && at - start <= 10, `start ${start}: found at ${at}\n${describe(signals)}`);
    const s = signals.filter((x) => x.s.detector === 'credential_stuffing').at(-1)!.s;
    assert.equal(s.detail.kind, 'distributed');
    assert.ok(Number(s.detail.sources) >= 100);
    assert.ok(!signals.some((x) => x.s.key.startsWith('source:')));
  }
});

test('5xx burst on one upstream: found within 10 s, keyed by the upstream, the healthy one quiet', () => {
  const d = createDetectors();
  const rand = rng(12);
  const signals = run(d, A + 20, [
    benign({ seed: 12, sources: 30, rate: () => 500 }),
    // a second upstream: 100 req/s, 40% 502 from t=50
    (t, out) => {
      for (let k = 0; k < 100; k++)
        out.push(event(T0 + t * 1000 + k * 10, { source: `10.1.0.${k % 20}`, path: '/pay', endpoint: 'POST /pay', upstream: 'payments', status: t >= A && rand() < 0.4 ? 502 : 200 }));
    },
  ]);
  assert.deepEqual(signals.filter((x) => x.t <= A), []);
  const at = firstAt(signals, (s) => s.detector === 'error_burst' && s.key === 'upstream:payments');
  assert.ok(at !== undefined && at - A <= 10, `found at ${at}`);
  const s = signals.filter((x) => x.s.detector === 'error_burst').at(-1)!.s;
  assert.ok(Number(s.detail.ratio) > 0.3 && Number(s.detail.ratio) < 0.5, String(s.detail.ratio));
  assert.match(s.title, /5xx burst on upstream payments/);
  assert.ok(signals.every((x) => x.s.key === 'upstream:payments'), describe(signals));
});

test('no answer at all (status 0) counts as an error for bursts', () => {
  const d = createDetectors();
  const signals = run(d, 20, [attack(0, 20, 100, (i) => ({ source: `10.2.0.${i % 50}`, path: '/', endpoint: 'GET /', status: i % 2 === 0 ? 0 : 200 }))]);
  assert.ok(signals.some((x) => x.s.detector === 'error_burst'));
});

// ---------------------------------------------------------------- benign

test('benign: 100,000+ requests over 5 simulated minutes, ×2 diurnal swing, a few dozen sources: zero signals', () => {
  const d = createDetectors();
  let events = 0;
  // 400 → 800 → 400 req/s over 5 minutes (a compressed day), 36 sources
  const signals = run(d, 300, [benign({ seed: 20, sources: 36, rate: (t) => 600 - 200 * Math.cos((2 * Math.PI * t) / 300) })], () => events++);
  assert.ok(events >= 100_000, `events ${events}`);
  assert.deepEqual(signals, [], describe(signals));
  assert.equal(d.stats().warmStage, 2);
});

test('benign at the extremes: 2000 req/s over 24 skewed sources, 200 req/s over 40, a ×10 ramp in a minute: zero signals', () => {
  const d = createDetectors();
  let events = 0;
  const signals = run(d, 60, [benign({ seed: 21, sources: 24, skew: 3, rate: (t) => 1800 + 4 * t })], () => events++);
  assert.ok(events >= 100_000, `events ${events}`);
  assert.deepEqual(signals, [], describe(signals));

  const d2 = createDetectors();
  const s2 = run(d2, 120, [benign({ seed: 22, sources: 40, rate: (t) => 200 + t / 2 })]);
  assert.deepEqual(s2, [], describe(s2));

  // 200 → 2000 req/s between t = 40 s and t = 100 s: the baseline follows, no spike
  const d3 = createDetectors();
  const s3 = run(d3, 110, [benign({ seed: 23, sources: 30, rate: (t) => (t < 40 ? 200 : t < 100 ? 200 + (t - 40) * 30 : 2000) })]);
  assert.deepEqual(s3, [], describe(s3));
});

test('hysteresis: a flood hovering around the threshold is one continuous alarm, then it ends', () => {
  const d = createDetectors({ warmupS: 5 });
  const flips: boolean[] = [];
  const gens = [benign({ seed: 30, sources: 20, rate: () => 200 }), (t: number, out: RequestEvent[]) => {
    if (t < 40) return;
    // 130 ± 20 req/s around the 100 req/s floor... then silent from t = 70
    const n = t >= 70 ? 0 : 130 + (t % 2 === 0 ? 20 : -20);
    for (let k = 0; k < n; k++) out.push(event(T0 + t * 1000 + Math.floor((k * 1000) / n), { source: '192.0.2.200', path: '/', endpoint: 'GET /' }));
  }];
  const buf: RequestEvent[] = [];
  for (let t = 0; t < 90; t++) {
    buf.length = 0;
    for (const g of gens) g(t, buf);
    buf.sort((a, b) => a.at - b.at);
    for (const e of buf) d.observe(e);
    flips.push(d.tick(T0 + (t + 1) * 1000 + 250).some((s) => s.key === 'source:192.0.2.200'));
  }
  const on = flips.map((b, i) => (b ? i : -1)).filter((i) => i >= 0);
  assert.ok(on.length > 0);
  // one run: no gaps between the first and last alarm
  assert.equal(on.at(-1)! - on[0]! + 1, on.length);
  assert.ok(on[0]! <= 50 && on.at(-1)! < 80, `alarm ${on[0]}..${on.at(-1)}`);
});

// ---------------------------------------------------------------- bounds

test('a million distinct sources: per-source state stays at its cap, evictions counted, the flood still labelled distributed', () => {
  const maxSources = 2000;
  const d = createDetectors({ maxSources });
  const signals: Signal[] = [];
  // 40 s of 200 req/s benign, then 1,000,000 requests from 1,000,000 distinct addresses over 50 s (20,000 req/s)
  const b = benign({ seed: 40, sources: 30, rate: () => 200 });
  const buf: RequestEvent[] = [];
  let n = 0;
  for (let t = 0; t < 90; t++) {
    buf.length = 0;
    b(t, buf);
    for (const e of buf) d.observe(e);
    if (t >= 40) {
      for (let k = 0; k < 20_000; k++, n++) {
        d.observe(event(T0 + t * 1000 + (k >> 4) * 0.8, { source: `a${n}`, path: '/', endpoint: 'GET /' }));
      }
    }
    signals.push(...d.tick(T0 + (t + 1) * 1000 + 250));
    const st = d.stats();
    assert.ok(st.sources! <= maxSources);
  }
  const st = d.stats();
  assert.equal(n, 1_000_000);
  assert.equal(st.sources, maxSources);
  assert.ok(st.sourceEvictions! >= 1_000_000 - maxSources, `evictions ${st.sourceEvictions}`);
  assert.ok(signals.some((s) => s.detector === 'flood' && s.detail.kind === 'distributed'));
  assert.ok(!signals.some((s) => s.key.startsWith('source:')));
});

test('endpoints and upstreams are capped with an overflow key', () => {
  const d = createDetectors({ maxEndpoints: 10, maxUpstreams: 3 });
  for (let i = 0; i < 100; i++) d.observe(event(T0 + i, { source: 's', path: `/p${i}`, endpoint: `GET /p${i}`, upstream: `u${i}` }));
  const st = d.stats();
  assert.equal(st.endpoints, 11);
  assert.equal(st.upstreams, 4);
  assert.equal(st.endpointOverflowEvents, 90);
  assert.equal(st.upstreamOverflowEvents, 97);
});

test('options: defaults documented and validated; late and absurd timestamps are counted, not used', () => {
  assert.equal(DEFAULT_DETECTOR_OPTIONS.maxSources, 10_000);
  assert.throws(() => createDetectors({ rateWindowS: 0 }), RangeError);
  assert.throws(() => createDetectors({ floodFactor: -1 }), RangeError);
  assert.throws(() => createDetectors({ floodFactr: 3 } as unknown as Partial<DetectorOptions>), /unknown detector option floodFactr/);
  const d = createDetectors();
  d.observe(event(T0, { source: 's', path: '/', endpoint: 'GET /' }));
  d.tick(T0 + 100_000);
  d.observe(event(T0 + 10_000_000, { source: 's', path: '/', endpoint: 'GET /' }));
  d.observe(event(T0 + 90_000, { source: 's', path: '/', endpoint: 'GET /' }));
  d.observe(event(T0, { source: 's', path: '/', endpoint: 'GET /' }));
  d.observe(event(Number.NaN, { source: 's', path: '/', endpoint: 'GET /' }));
  const st = d.stats();
  assert.equal(st.ignoredEvents, 2);
  assert.equal(st.lateEvents, 1);
  assert.deepEqual(createDetectors().tick(T0), []);
});

// ---------------------------------------------------------------- building blocks

test('BucketRing: sums over buckets, forgets what left the ring, refuses late additions', () => {
  const r = new BucketRing(5);
  r.add(1000, 2);
  r.add(1999);
  r.add(3000, 4);
  assert.equal(r.get(1), 3);
  assert.equal(r.sum(0, 10), 7);
  r.add(7000);
  assert.equal(r.sum(0, 10), 5, 'bucket 1 left the ring (buckets 3..7 kept)');
  assert.equal(r.add(2000), false);
  r.add(100_000);
  assert.equal(r.sum(0, 1000), 1);
});

test('Ewma: bias-corrected mean early on, half-life decay, zeros in closed form', () => {
  const e = new Ewma(10);
  e.update(100);
  assert.equal(e.value, 100);
  for (let i = 0; i < 9; i++) e.update(100);
  assert.ok(Math.abs(e.value - 100) < 1e-9);
  const a = new Ewma(10);
  const b = new Ewma(10);
  for (let i = 0; i < 50; i++) {
    a.update(80);
    b.update(80);
  }
  for (let i = 0; i < 10; i++) a.update(0);
  b.zeros(10);
  assert.ok(Math.abs(a.value - b.value) < 1e-9);
  assert.ok(Math.abs(a.value - 40) < 1, `after one half-life of zeros: ${a.value}`);
});

test('DistinctBitmap and DistinctRing: linear counting within a few percent', () => {
  for (const n of [10, 100, 500, 2000]) {
    const b = new DistinctBitmap(1024);
    for (let i = 0; i < n; i++) b.add(hash32(`/path/${i}`));
    for (let i = 0; i < n; i++) b.add(hash32(`/path/${i}`));
    assert.ok(Math.abs(b.estimate() - n) <= Math.max(2, n * 0.1), `${n}: ${b.estimate()}`);
  }
  const ring = new DistinctRing(6, 4096);
  for (let s = 0; s < 10; s++) for (let i = 0; i < 300; i++) ring.add(s * 1000 + i, hash32(`src${s % 3}-${i}`));
  // seconds 5..9 hold the three groups of 300 keys
  assert.ok(Math.abs(ring.estimate(5, 9) - 900) < 45, String(ring.estimate(5, 9)));
  assert.ok(Math.abs(ring.estimate(9, 9) - 300) < 15);
  assert.equal(ring.estimate(20, 25), 0);
});

test('Segments: tumbling current + previous', () => {
  const s = new Segments(2, 10_000);
  assert.equal(s.roll(0), 2);
  s.add(0, 3);
  assert.equal(s.roll(12_000), 1);
  s.add(0);
  s.add(1, 5);
  assert.equal(s.value(0), 4);
  assert.equal(s.roll(5000), -2);
  assert.equal(s.roll(25_000), 1);
  assert.equal(s.value(0), 1);
  assert.equal(s.roll(1000), -1);
  assert.equal(s.roll(60_000), 2);
  assert.equal(s.value(1), 0);
});

test('Space-Saving: every key above N/k is held, count − error ≤ true ≤ count, error ≤ N/k (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 2000 }),
      (k, stream) => {
        const s = new SpaceSaving(k);
        const truth = new Map<string, number>();
        let total = 0;
        for (const [x, w] of stream) {
          const key = `k${x}`;
          s.offer(key, w);
          truth.set(key, (truth.get(key) ?? 0) + w);
          total += w;
        }
        assert.equal(s.total, total);
        assert.ok(s.size <= k);
        for (const h of s.entries()) {
          const t = truth.get(h.key) ?? 0;
          assert.ok(h.count - h.error <= t && t <= h.count, `${h.key}: ${h.count - h.error} ≤ ${t} ≤ ${h.count}`);
          assert.ok(h.error <= total / k + 1e-9);
        }
        for (const [key, t] of truth) if (t > total / k) assert.ok(s.has(key), `${key} (${t} of ${total}, k=${k}) missing`);
        // the small variant (linear scans, ≤ 16 counters) keeps the same guarantees
        if (k <= 16) {
          const small = new SmallSpaceSaving(k);
          for (const [x, w] of stream) small.offer(`k${x}`, w);
          assert.equal(small.total, total);
          for (const [key, t] of truth) {
            const c = small.countOf(key);
            if (t > total / k) assert.ok(c >= t, `small: ${key} (${t} of ${total}, k=${k}) missing`);
            if (c > 0) assert.ok(c >= t && c - t <= total / k + 1e-9);
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('Space-Saving: true heavy hitters found among 300,000+ distinct keys; merged sketches keep their bounds', () => {
  const s = new SpaceSaving(100);
  const rand = rng(99);
  const heavy = ['h1', 'h2', 'h3'];
  const truth = new Map<string, number>();
  let n = 0;
  for (let i = 0; i < 400_000; i++) {
    const x = rand();
    const key = x < 0.1 ? 'h1' : x < 0.15 ? 'h2' : x < 0.17 ? 'h3' : `u${n++}`;
    s.offer(key);
    if (key.startsWith('h')) truth.set(key, (truth.get(key) ?? 0) + 1);
  }
  assert.ok(s.size === 100 && s.evictions > 300_000);
  assert.deepEqual(
    s.top(3).map((h) => h.key),
    heavy,
  );
  for (const h of s.top(3)) {
    const t = truth.get(h.key)!;
    assert.ok(h.count - h.error <= t && t <= h.count);
    assert.ok(h.error <= 400_000 / 100);
  }
  const a = new SpaceSaving(4);
  const b = new SpaceSaving(4);
  for (const k of ['x', 'x', 'x', 'y', 'z']) a.offer(k);
  for (const k of ['x', 'w', 'w', 'v', 'u', 't']) b.offer(k);
  const merged = new Map(mergeSketches([a, b]).map((h) => [h.key, h]));
  const x = merged.get('x')!;
  assert.ok(x.count - x.error <= 4 && 4 <= x.count + x.error);
  assert.equal(merged.get('y')!.count, 1);
});
