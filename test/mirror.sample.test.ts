// Sampling decisions (src/mirror/sample.ts): rates within statistical bounds, and the sticky properties
// (same key same decision; 10% ⊂ 30%; monotonic in the percentage) as fast-check properties.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cookieValue, hashKey, keyPoint, sampleKey, shouldSample, type SampleInput } from '../src/mirror/sample.ts';

/** A seeded PRNG (mulberry32) so that the "random" rate checks are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const never = (): number => {
  throw new Error('a sticky key must not consume randomness');
};

/** Whether `count` successes out of `n` fit a binomial(n, p) within `sigmas` standard deviations. */
function withinBounds(count: number, n: number, p: number, sigmas = 5): { ok: boolean; low: number; high: number } {
  const sd = Math.sqrt(n * p * (1 - p));
  const low = n * p - sigmas * sd;
  const high = n * p + sigmas * sd;
  return { ok: count >= low && count <= high, low, high };
}

const N = 20_000;
const PERCENTAGES = [0.5, 1, 10, 12.5, 33.3, 50, 90, 99.9];

describe('sampling rates', () => {
  for (const pct of PERCENTAGES) {
    test(`random sampling at ${pct}% keeps a binomial share of ${N} decisions`, () => {
      const random = seeded(Math.round(pct * 1000));
      let yes = 0;
      for (let i = 0; i < N; i++) if (shouldSample(pct, undefined, random)) yes++;
      const b = withinBounds(yes, N, pct / 100);
      assert.ok(b.ok, `${yes} of ${N} sampled at ${pct}%, expected ${b.low.toFixed(0)}..${b.high.toFixed(0)}`);
    });

    test(`sticky sampling at ${pct}% keeps a binomial share of ${N} distinct user keys`, () => {
      let yes = 0;
      for (let i = 0; i < N; i++) if (shouldSample(pct, `user-${i}`, never)) yes++;
      const b = withinBounds(yes, N, pct / 100);
      assert.ok(b.ok, `${yes} of ${N} keys sampled at ${pct}%, expected ${b.low.toFixed(0)}..${b.high.toFixed(0)}`);
    });
  }

  test('sticky sampling spreads sequential IPv4 addresses like any other keys', () => {
    let yes = 0;
    for (let i = 0; i < N; i++) if (shouldSample(25, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, never)) yes++;
    const b = withinBounds(yes, N, 0.25);
    assert.ok(b.ok, `${yes} of ${N} addresses sampled at 25%, expected ${b.low.toFixed(0)}..${b.high.toFixed(0)}`);
  });

  test('key points are spread evenly over [0, 100) in ten buckets', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < N; i++) buckets[Math.floor(keyPoint(`session-${i}`) / 10)]!++;
    for (const [i, count] of buckets.entries()) {
      const b = withinBounds(count, N, 0.1);
      assert.ok(b.ok, `bucket ${i} holds ${count} keys, expected ${b.low.toFixed(0)}..${b.high.toFixed(0)}`);
    }
  });

  test('0% never samples and 100% always samples, keyed or not', () => {
    const random = seeded(7);
    for (let i = 0; i < 1000; i++) {
      assert.equal(shouldSample(0, `k${i}`, never), false);
      assert.equal(shouldSample(0, undefined, random), false);
      assert.equal(shouldSample(100, `k${i}`, never), true);
      assert.equal(shouldSample(100, undefined, random), true);
    }
  });
});

describe('sticky sampling properties', () => {
  const pct = fc.double({ min: 0, max: 100, noNaN: true });

  test('the same key gets the same decision whatever the randomness and however often it is asked', () => {
    fc.assert(
      fc.property(fc.string(), pct, fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 1, maxLength: 5 }), (key, p, rs) => {
        const first = shouldSample(p, key, never);
        for (const r of rs) assert.equal(shouldSample(p, key, () => r), first);
      }),
      { numRuns: 2000 },
    );
  });

  test('a key sampled at 10% is also sampled at 30%', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (key) => {
        if (shouldSample(10, key, never)) assert.equal(shouldSample(30, key, never), true);
      }),
      { numRuns: 5000 },
    );
  });

  test('a key sampled at a lower percentage is sampled at every higher one', () => {
    fc.assert(
      fc.property(fc.string(), pct, pct, (key, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        if (shouldSample(lo, key, never)) assert.equal(shouldSample(hi, key, never), true, `${key}: sampled at ${lo}% but not at ${hi}%`);
      }),
      { numRuns: 5000 },
    );
  });

  test('random sampling with the same random draw is monotonic in the percentage', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 0.999999, noNaN: true }), pct, pct, (r, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        if (shouldSample(lo, undefined, () => r)) assert.equal(shouldSample(hi, undefined, () => r), true);
      }),
      { numRuns: 5000 },
    );
  });

  test('over 10,000 keys the keys sampled at 10% are a subset of those at 30%, at about a third of their number', () => {
    const at10 = new Set<string>();
    const at30 = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const key = `user-${i}`;
      if (shouldSample(10, key, never)) at10.add(key);
      if (shouldSample(30, key, never)) at30.add(key);
    }
    for (const k of at10) assert.ok(at30.has(k), `${k} is sampled at 10% but not at 30%`);
    const ratio = at10.size / at30.size;
    assert.ok(ratio > 0.28 && ratio < 0.39, `10%/30% ratio is ${ratio}`);
  });

  test('the hash is stable across versions and instances: known keys keep their known values', () => {
    // If these change, every sticky user moves between "mirrored" and "not mirrored" on upgrade.
    assert.equal(hashKey(''), 2872998923);
    assert.equal(hashKey('user-1'), 2005895916);
    assert.equal(hashKey('alice'), 3927234078);
    assert.equal(hashKey('10.0.0.1'), 2931590574);
    assert.equal(hashKey('ü'), 134528209);
  });
});

describe('sample keys', () => {
  const input: SampleInput = {
    header: (n) => (n === 'x-user-id' ? 'u-42' : undefined),
    cookie: (n) => (n === 'sid' ? 'abc' : undefined),
    query: (n) => (n === 'tenant' ? 't1' : undefined),
    source: '10.1.2.3',
  };

  test('each sampleBy kind reads its own part of the request, and random reads none', () => {
    assert.equal(sampleKey({ kind: 'random' }, input), undefined);
    assert.equal(sampleKey({ kind: 'header', name: 'x-user-id' }, input), 'u-42');
    assert.equal(sampleKey({ kind: 'cookie', name: 'sid' }, input), 'abc');
    assert.equal(sampleKey({ kind: 'query', name: 'tenant' }, input), 't1');
    assert.equal(sampleKey({ kind: 'source' }, input), '10.1.2.3');
    assert.equal(sampleKey({ kind: 'header', name: 'x-missing' }, input), undefined);
  });

  test('cookie values are read by exact name, first occurrence, untouched', () => {
    assert.equal(cookieValue('a=1; sid=xyz; b=2', 'sid'), 'xyz');
    assert.equal(cookieValue('xsid=no; sid=yes', 'sid'), 'yes');
    assert.equal(cookieValue('sid=first; sid=second', 'sid'), 'first');
    assert.equal(cookieValue('sid=a%20b', 'sid'), 'a%20b');
    assert.equal(cookieValue('other=1', 'sid'), undefined);
    assert.equal(cookieValue(undefined, 'sid'), undefined);
  });
});
