// The compare engine's bounds: the per-second budget (admit), the queue (drop and count, never grow), flushes
// reaching the sink, on the worker thread and inline.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CompareEngine, type EngineOptions } from '../src/compare/engine.ts';
import type { ProcessorSettings } from '../src/compare/processor.ts';
import type { CompareBatch } from '../src/compare/types.ts';
import type { Exchange, Trial } from '../src/core/exchange.ts';

const SETTINGS: ProcessorSettings = {
  routes: [{ route: 'api', ignoreHeaders: [], ignore: [], arrays: {}, tolerance: { absolute: 0, relative: 0 }, headers: true, endpoints: [], maxEndpoints: 50 }],
  limits: { maxDecodedBytes: 1 << 20, maxExpansionRatio: 100, maxJsonBytes: 1 << 20, maxDepth: 64, maxDiffs: 100, maxNodes: 100_000 },
  examples: { first: 2, reservoir: 2 },
  redact: { headers: [], jsonPaths: [] },
};

function exchange(role: Exchange['role'], upstream: string, body: string): Exchange {
  const b = Buffer.from(body);
  return { role, upstream, status: 200, headers: ['content-type', 'application/json'], body: b, bodyBytes: b.length, truncated: false, timings: { startMs: 0, headersMs: 1, totalMs: 2 } };
}

function trial(i: number): Trial {
  return {
    id: `t${i}`,
    route: 'api',
    at: 1_700_000_000_000 + i,
    request: { method: 'GET', path: `/items/${i}`, headers: ['host', 'example'], bodyBytes: 0 },
    primary: exchange('primary', 'v1', `{"id":${i},"price":1}`),
    mirrors: [exchange('mirror', 'v2', `{"id":${i},"price":2}`), exchange('secondary', 'v1b', `{"id":${i},"price":1}`)],
  };
}

function engine(over: Partial<EngineOptions>, batches: CompareBatch[]): CompareEngine {
  return new CompareEngine({
    settings: SETTINGS,
    queue: 1000,
    maxPerSecond: 0,
    flushIntervalMs: 60_000,
    worker: false,
    sink: (b) => {
      batches.push(b);
      return Promise.resolve();
    },
    onError: (m, err) => assert.fail(`${m}: ${String(err)}`),
    ...over,
  });
}

describe('compare engine', () => {
  test('admit: at most maxPerSecond per second, one second of burst, refilled with time', () => {
    let now = 0;
    const e = engine({ maxPerSecond: 10, now: () => now }, []);
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (e.admit()) admitted++;
    assert.equal(admitted, 10, 'the burst is one second of budget');
    now += 500;
    admitted = 0;
    for (let i = 0; i < 100; i++) if (e.admit()) admitted++;
    assert.equal(admitted, 5, 'half a second refills half the budget');
    now += 60_000;
    admitted = 0;
    for (let i = 0; i < 100; i++) if (e.admit()) admitted++;
    assert.equal(admitted, 10, 'tokens never pile up beyond the burst');
    assert.equal(e.stats().sampledOut, 90 + 95 + 90);
    void e.close();
  });

  test('admit with maxPerSecond 0 takes every request', () => {
    const e = engine({ maxPerSecond: 0 }, []);
    for (let i = 0; i < 1000; i++) assert.equal(e.admit(), true);
    void e.close();
  });

  test('a full queue drops and counts, never grows; what was accepted is compared and written (inline)', async () => {
    const batches: CompareBatch[] = [];
    const e = engine({ queue: 5 }, batches);
    let accepted = 0;
    for (let i = 0; i < 20; i++) if (e.offer(trial(i))) accepted++;
    assert.equal(accepted, 5);
    assert.equal(e.stats().dropped.queue_full, 15);
    assert.ok(e.stats().depth <= 5);
    await e.flush();
    assert.equal(e.stats().processed, 5);
    assert.equal(e.stats().depth, 0);
    const deltas = batches.flatMap((b) => b.deltas);
    const candidate = deltas.filter((d) => d.role === 'candidate').reduce((n, d) => n + d.compared, 0);
    const price = deltas.filter((d) => d.role === 'candidate').reduce((n, d) => n + (d.fields['$.price'] ?? 0), 0);
    assert.equal(candidate, 5);
    assert.equal(price, 5);
    const noise = deltas.filter((d) => d.role === 'secondary').reduce((n, d) => n + (d.fields['$.price'] ?? 0), 0);
    assert.equal(noise, 0);
    await e.close();
    assert.equal(e.offer(trial(99)), false);
    assert.equal(e.stats().dropped.shutdown, 1);
  });

  test('on the worker thread: every accepted trial is compared and its deltas reach the sink on flush', async () => {
    const batches: CompareBatch[] = [];
    const e = engine({ worker: true }, batches);
    for (let i = 0; i < 300; i++) assert.ok(e.offer(trial(i)));
    const until = Date.now() + 10_000;
    while (e.stats().processed < 300 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await e.flush();
    assert.equal(e.stats().processed, 300);
    assert.equal(e.stats().failed, 0);
    const compared = batches.flatMap((b) => b.deltas).filter((d) => d.role === 'candidate').reduce((n, d) => n + d.compared, 0);
    assert.equal(compared, 300);
    assert.ok(batches.flatMap((b) => b.examples).length > 0, 'no examples kept');
    await e.close();
  });

  test('a sink that fails is counted and logged, and later batches still go through', async () => {
    const errors: string[] = [];
    let fail = true;
    const written: CompareBatch[] = [];
    const e = new CompareEngine({
      settings: SETTINGS,
      queue: 100,
      maxPerSecond: 0,
      flushIntervalMs: 60_000,
      worker: false,
      sink: (b) => {
        if (fail) return Promise.reject(new Error('disk full'));
        written.push(b);
        return Promise.resolve();
      },
      onError: (m) => errors.push(m),
    });
    e.offer(trial(1));
    await e.flush();
    assert.equal(e.stats().sinkErrors, 1);
    assert.match(errors[0]!, /store failed/);
    fail = false;
    e.offer(trial(2));
    await e.flush();
    assert.equal(e.stats().batches, 1);
    assert.equal(written.length, 1);
    await e.close();
  });
});
