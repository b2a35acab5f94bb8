// Replay pacing: the schedule (pure) and a real replay against a target on port 0, with bounded tolerances
// (the machine is shared: the bounds catch a broken scheduler, not a noisy neighbour).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Schedule, parseRate, parseSpeed, PacingError } from '../src/replay/pacing.ts';
import { startReplay } from '../src/replay/run.ts';
import { targetPool } from '../src/replay/send.ts';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { emptyReadStats } from '../src/capture/read.ts';
import { parseFilter } from '../src/replay/filter.ts';
import { entry, target, tempDir } from './helpers/replay-fixtures.ts';

const T0 = 1_700_000_000_000;

test('parses speed factors and rates, and refuses nonsense', () => {
  assert.equal(parseSpeed('2x'), 2);
  assert.equal(parseSpeed('0.5x'), 0.5);
  assert.equal(parseSpeed('200%'), 2);
  assert.equal(parseRate('500/s'), 500);
  assert.equal(parseRate('30/m'), 0.5);
  assert.equal(parseRate('250'), 250);
  for (const bad of ['0x', '-1x', 'fast', '']) assert.throws(() => parseSpeed(bad), PacingError);
  for (const bad of ['0/s', '5/d', 'lots']) assert.throws(() => parseRate(bad), PacingError);
});

test('speed mode divides the recorded gaps by the factor, never goes backwards, and loops one mean gap later', () => {
  const s = new Schedule({ kind: 'speed', factor: 2 });
  assert.deepEqual([T0, T0 + 100, T0 + 300, T0 + 250].map((at) => s.next(at)), [0, 50, 150, 150]);
  s.newPass();
  // mean gap of the pass: 150 / 3 = 50
  assert.deepEqual([T0, T0 + 100].map((at) => s.next(at)), [200, 250]);
});

test('rate mode spaces requests evenly and unpaced sends everything at once', () => {
  const r = new Schedule({ kind: 'rate', perSecond: 500 });
  assert.deepEqual([0, 0, 0, 0].map(() => r.next(0)), [0, 2, 4, 6]);
  const u = new Schedule({ kind: 'unpaced' });
  assert.deepEqual([T0, T0 + 1000].map((at) => u.next(at)), [0, 0]);
});

test('a --rate replay keeps the asked rate and spaces starts evenly (bounded tolerance)', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    const n = 150;
    const file = await dir.write('c.ndjson', Array.from({ length: n }, (_, i) => entry({ path: `/r/${i}`, at: T0 + i })));
    const pool = targetPool([new URL(t.url)], { connections: 32, connectTimeoutMs: 2000 });
    const run = startReplay({
      input: file, dispatcher: pool, basePath: '', pacing: { kind: 'rate', perSecond: 150 }, concurrency: 32, loop: false,
      filters: [], headers: [], timeoutMs: 5000, keep: false, cap: 1024, readStats: emptyReadStats(),
    });
    const s = await run.done;
    await pool.close();
    assert.equal(s.sent, n);
    assert.equal(s.ok, n);
    assert.equal(t.seen.length, n);
    // 150 requests at 150/s: the last is due at 993.3 ms
    assert.ok(s.elapsedMs >= 990 && s.elapsedMs < 2500, `elapsed ${s.elapsedMs} ms`);
    // a scheduler that slept "since the last one" would add every timer's lateness (~1 ms each, more under load)
    assert.ok(s.rate > 125 && s.rate <= 152, `rate ${s.rate}/s (150 asked)`);
    assert.ok(s.interArrivalError.p50 !== null && s.interArrivalError.p50 < 8, `inter-arrival error p50 ${s.interArrivalError.p50} ms`);
  } finally {
    await t.close();
    await dir.remove();
  }
});

test('a --speed 4x replay takes a quarter of the recorded span', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    // 11 requests recorded 80 ms apart: 800 ms, so 200 ms at 4x
    const file = await dir.write('c.ndjson', Array.from({ length: 11 }, (_, i) => entry({ path: `/s/${i}`, at: T0 + i * 80 })));
    const pool = targetPool([new URL(t.url)], { connections: 4, connectTimeoutMs: 2000 });
    const run = startReplay({
      input: file, dispatcher: pool, basePath: '', pacing: { kind: 'speed', factor: 4 }, concurrency: 4, loop: false,
      filters: [], headers: [], timeoutMs: 5000, keep: false, cap: 1024, readStats: emptyReadStats(),
    });
    const s = await run.done;
    await pool.close();
    assert.equal(s.sent, 11);
    const span = t.seen.at(-1)!.at - t.seen[0]!.at;
    assert.ok(span >= 150 && span < 600, `span ${span} ms (200 expected)`);
  } finally {
    await t.close();
    await dir.remove();
  }
});

test('--loop with --duration repeats the input and stops at the duration', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    const file = await dir.write('c.ndjson', Array.from({ length: 5 }, (_, i) => entry({ path: `/l/${i}`, at: T0 + i })));
    const pool = targetPool([new URL(t.url)], { connections: 4, connectTimeoutMs: 2000 });
    const run = startReplay({
      input: file, dispatcher: pool, basePath: '', pacing: { kind: 'rate', perSecond: 100 }, concurrency: 4, loop: true, durationMs: 300,
      filters: [], headers: [], timeoutMs: 5000, keep: false, cap: 1024, readStats: emptyReadStats(),
    });
    const s = await run.done;
    await pool.close();
    assert.ok(s.passes >= 5, `passes ${s.passes}`);
    assert.ok(s.sent >= 25 && s.sent <= 31, `sent ${s.sent} (30 due in 300 ms)`);
    assert.ok(s.elapsedMs < 1500);
  } finally {
    await t.close();
    await dir.remove();
  }
});

test('a looped input is parsed once: later passes send the same requests in the same order from memory, counting reads and skips per pass', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    // 4 sendable entries (out of recorded order) and one skipped by the filter
    const entries = [entry({ path: '/m/2', at: T0 + 20 }), entry({ path: '/m/0', at: T0 }), entry({ path: '/skip', at: T0 + 5 }), entry({ path: '/m/1', at: T0 + 10 }), entry({ path: '/m/3', at: T0 + 30 })];
    const file = await dir.write('c.ndjson', entries);
    const pool = targetPool([new URL(t.url)], { connections: 1, connectTimeoutMs: 2000 });
    const readStats = emptyReadStats();
    const ac = new AbortController();
    const run = startReplay({
      input: file, dispatcher: pool, basePath: '', pacing: { kind: 'speed', factor: 1 }, concurrency: 1, loop: true,
      filters: [parseFilter('path:/m/')], headers: [], timeoutMs: 5000, keep: false, cap: 1024, readStats, signal: ac.signal,
    });
    // once the first pass is under way the file goes: later passes can only come from memory
    const until = async (n: number) => {
      for (let i = 0; i < 400 && t.seen.length < n; i++) await sleep(5);
    };
    await until(1);
    await rm(file);
    await until(12);
    ac.abort();
    const s = await run.done;
    await pool.close();
    const pass = ['/m/0', '/m/1', '/m/2', '/m/3'];
    assert.deepEqual(t.seen.slice(0, 12).map((x) => x.url), [...pass, ...pass, ...pass]);
    assert.ok(s.passes >= 3, `passes ${s.passes}`);
    assert.equal(s.read, s.passes * 5, 'every pass counts the five entries it read');
    assert.equal(s.skipped.filtered, s.passes, 'and the one it skipped');
    assert.equal(readStats.files, 1, 'the file was read once');
  } finally {
    await t.close();
    await dir.remove();
  }
});
