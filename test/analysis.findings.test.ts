// The finding tracker: the lifecycle (open → ongoing → resolved), a recurrence as a new finding, the
// highest severity, capped evidence, the bound on active findings, the rate limit on updates, restore
// after a restart; and the tracker's transitions written to a store, which stays bounded in memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFindingTracker, findingId, severityRank, type Transition } from '../src/analysis/findings.ts';
import type { Evidence, Signal } from '../src/analysis/types.ts';
import { createMemoryStore } from '../src/store/memory.ts';

function ev(n: number): Evidence {
  return { at: n, method: 'GET', target: `/p/${n}`, source: '203.0.113.7', headers: ['authorization', '[REDACTED]'], status: 404 };
}

function signal(over: Partial<Signal> = {}): Signal {
  return { detector: 'scan', key: 'source:203.0.113.7', severity: 'medium', title: 'path scan from 203.0.113.7', detail: { paths: 40 }, at: 1_000, ...over };
}

/** A tracker on a clock the test moves. */
function setup(opts: { resolveAfterMs?: number; maxFindings?: number; maxEvidence?: number; updateIntervalMs?: number } = {}) {
  const clock = { t: 1_000 };
  const tracker = createFindingTracker({ now: () => clock.t, ...opts });
  /** a signal at the clock's time */
  const at = (over: Partial<Signal> = {}) => tracker.add(signal({ at: clock.t, ...over }));
  return { clock, tracker, at };
}

void describe('finding tracker', () => {
  void it('opens on the first signal, keeps the finding ongoing on later ones, resolves it after silence', () => {
    const { clock, tracker, at } = setup({ resolveAfterMs: 60_000, updateIntervalMs: 0 });
    const opened = at({ evidence: ev(1) });
    assert.ok(opened);
    assert.equal(opened.kind, 'opened');
    const f = opened.finding;
    assert.deepEqual(
      { ...f, id: undefined },
      {
        id: undefined,
        detector: 'scan',
        key: 'source:203.0.113.7',
        severity: 'medium',
        title: 'path scan from 203.0.113.7',
        state: 'open',
        firstSeen: 1_000,
        lastSeen: 1_000,
        count: 1,
        detail: { paths: 40 },
        evidence: [ev(1)],
      },
    );
    assert.equal(f.id, findingId('scan', 'source:203.0.113.7', 1_000));
    assert.match(f.id, /^[0-9a-f]{16}$/);

    clock.t = 5_000;
    const upd = at({ detail: { paths: 90 }, title: 'path scan from 203.0.113.7 (90 paths)' });
    assert.equal(upd?.kind, 'updated');
    assert.equal(upd.finding.id, f.id);
    assert.deepEqual([upd.finding.state, upd.finding.count, upd.finding.lastSeen, upd.finding.firstSeen], ['ongoing', 2, 5_000, 1_000]);
    assert.deepEqual(upd.finding.detail, { paths: 90 }, 'the latest detail');
    assert.equal(upd.finding.title, 'path scan from 203.0.113.7 (90 paths)');
    // the earlier snapshot did not change
    assert.deepEqual([f.state, f.count, f.detail], ['open', 1, { paths: 40 }]);
    assert.deepEqual(tracker.active().map((a) => [a.id, a.state]), [[f.id, 'ongoing']]);

    // not silent long enough yet
    assert.deepEqual(tracker.tick(64_999), []);
    const resolved = tracker.tick(65_000);
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0]!.kind, 'resolved');
    assert.deepEqual(
      [resolved[0]!.finding.id, resolved[0]!.finding.state, resolved[0]!.finding.resolvedAt, resolved[0]!.finding.count],
      [f.id, 'resolved', 65_000, 2],
    );
    assert.deepEqual(tracker.active(), []);
    assert.deepEqual(tracker.tick(200_000), [], 'resolved once');
    assert.deepEqual(tracker.stats(), { active: 0, signals: 2, opened: 1, updated: 1, resolved: 1, dropped: 0 });
  });

  void it('tick() without an argument uses the clock', () => {
    const { clock, tracker, at } = setup({ resolveAfterMs: 10 });
    at();
    clock.t += 10;
    assert.deepEqual(
      tracker.tick().map((t) => t.kind),
      ['resolved'],
    );
  });

  void it('a signal after resolution opens a new finding with a new id', () => {
    const { clock, tracker, at } = setup({ resolveAfterMs: 1_000 });
    const first = at()!.finding;
    clock.t = 3_000;
    assert.equal(tracker.tick().length, 1);
    clock.t = 4_000;
    const again = at();
    assert.equal(again?.kind, 'opened');
    assert.notEqual(again.finding.id, first.id);
    assert.deepEqual([again.finding.firstSeen, again.finding.count, again.finding.state], [4_000, 1, 'open']);
    assert.equal(tracker.stats().opened, 2);
  });

  void it('keeps the highest severity seen, and reports a rise at once whatever the rate limit', () => {
    const { clock, tracker, at } = setup({ updateIntervalMs: 10_000 });
    at({ severity: 'low' });
    clock.t += 1;
    const high = at({ severity: 'high' });
    assert.equal(high?.kind, 'updated');
    assert.equal(high.finding.severity, 'high');
    assert.equal(high.previousSeverity, 'low');
    clock.t += 1;
    assert.equal(at({ severity: 'info' }), undefined, 'no rise, within the interval: held back');
    clock.t += 1;
    const critical = at({ severity: 'critical' });
    assert.deepEqual([critical?.finding.severity, critical?.previousSeverity, critical?.finding.count], ['critical', 'high', 4]);
    assert.equal(tracker.active()[0]!.severity, 'critical');
    // an unknown severity never lowers nor breaks it
    assert.equal(severityRank('urgent'), -1);
  });

  void it('keeps the first maxEvidence pieces of evidence', () => {
    const { clock, tracker, at } = setup({ maxEvidence: 3, updateIntervalMs: 0 });
    for (let i = 1; i <= 8; i++) {
      at({ evidence: ev(i) });
      clock.t += 1;
    }
    at(); // a signal without evidence adds none
    const [f] = tracker.active();
    assert.deepEqual(
      f!.evidence.map((e) => e.target),
      ['/p/1', '/p/2', '/p/3'],
    );
    assert.equal(f!.count, 9);
    const none = setup({ maxEvidence: 0 });
    assert.deepEqual(none.at({ evidence: ev(1) })!.finding.evidence, []);
  });

  void it('holds at most maxFindings active: signals for new keys are dropped and counted, known keys still fold in', () => {
    const { clock, tracker, at } = setup({ maxFindings: 3, resolveAfterMs: 1_000, updateIntervalMs: 0 });
    for (let i = 0; i < 5; i++) at({ key: `k${i}` });
    assert.equal(tracker.active().length, 3);
    assert.deepEqual(tracker.stats(), { active: 3, signals: 5, opened: 3, updated: 0, resolved: 0, dropped: 2 });
    assert.equal(at({ key: 'k4' }), undefined);
    assert.equal(at({ key: 'k0' })?.kind, 'updated');
    assert.equal(tracker.stats().dropped, 3);
    // once some resolve there is room again
    clock.t += 1_000;
    assert.equal(tracker.tick().length, 3);
    assert.equal(at({ key: 'k4' })?.kind, 'opened');
    // other detectors with the same key are other findings
    assert.equal(at({ key: 'k4', detector: 'flood' })?.kind, 'opened');
  });

  void it('reports at most one update per finding per interval; tick() reports one held back once the interval passed', () => {
    const { clock, tracker, at } = setup({ updateIntervalMs: 10_000, resolveAfterMs: 60_000 });
    const kinds: string[] = [];
    const record = (t: Transition | undefined) => t && kinds.push(`${t.kind}@${clock.t}`);
    // a signal every 100 ms for 25 s: 1 opened, then updates at most every 10 s
    for (let i = 0; i < 250; i++) {
      record(at());
      for (const t of tracker.tick()) record(t);
      clock.t += 100;
    }
    assert.deepEqual(kinds, ['opened@1000', 'updated@11000', 'updated@21000']);
    // the last changes (signals after 21 s) were held back: tick reports them once the interval is over
    clock.t = 30_999;
    assert.deepEqual(tracker.tick(), []);
    clock.t = 31_000;
    const late = tracker.tick();
    assert.deepEqual(
      late.map((t) => [t.kind, t.finding.count]),
      [['updated', 250]],
    );
    assert.deepEqual(tracker.tick(), [], 'nothing new: nothing to report');
    assert.equal(tracker.stats().updated, 3);
  });

  void it('uses idFor when given, and findingId is sha256(detector|key|firstSeen) cut to 16 hex digits', () => {
    const tracker = createFindingTracker({ now: () => 7, idFor: (d, k, first) => `${d}/${k}/${first}` });
    assert.equal(tracker.add(signal({ at: 7 }))!.finding.id, 'scan/source:203.0.113.7/7');
    assert.equal(findingId('flood', 'x', 1), findingId('flood', 'x', 1));
    assert.notEqual(findingId('flood', 'x', 1), findingId('flood', 'x', 2));
    assert.notEqual(findingId('flood', 'x', 1), findingId('scan', 'x', 1));
  });

  void it('restores active findings without reopening them; silence resolves them, signals keep them ongoing', () => {
    const { clock, tracker, at } = setup({ resolveAfterMs: 1_000, updateIntervalMs: 0 });
    const before = createFindingTracker({ now: () => 0 });
    const a = before.add(signal({ key: 'a', at: 500 }))!.finding;
    const b = before.add(signal({ key: 'b', at: 500 }))!.finding;
    const gone = { ...b, id: 'gone', key: 'gone', state: 'resolved' as const, resolvedAt: 600 };
    assert.equal(tracker.restore([a, b, gone]), 2);
    const upd = at({ key: 'a' });
    assert.deepEqual([upd?.kind, upd?.finding.id, upd?.finding.count, upd?.finding.state], ['updated', a.id, 2, 'ongoing']);
    clock.t = 2_000;
    assert.deepEqual(
      tracker.tick().map((t) => [t.kind, t.finding.id]),
      [
        ['resolved', a.id],
        ['resolved', b.id],
      ],
    );
    assert.equal(tracker.stats().opened, 0);
  });

  void it('refuses nonsensical options', () => {
    assert.throws(() => createFindingTracker({ now: Date.now, resolveAfterMs: -1 }), RangeError);
    assert.throws(() => createFindingTracker({ now: Date.now, maxFindings: Number.NaN }), RangeError);
  });
});

void describe('tracker → store', () => {
  void it('writing every transition keeps the store in step with the tracker', async () => {
    const store = createMemoryStore();
    const { clock, tracker, at } = setup({ resolveAfterMs: 5_000, updateIntervalMs: 1_000 });
    const write = async (ts: readonly (Transition | undefined)[]) => {
      const fs = ts.filter((t): t is Transition => t !== undefined).map((t) => t.finding);
      if (fs.length) await store.writeFindings(fs);
    };
    for (let i = 0; i < 30; i++) {
      await write([at({ key: 'a', evidence: ev(i) }), at({ key: `b${i % 2}`, severity: i === 20 ? 'critical' : 'low' }), ...tracker.tick()]);
      clock.t += 100;
    }
    await write(tracker.tick(clock.t + 10_000));
    const stored = await store.findings();
    assert.deepEqual(
      stored.map((f) => [f.key, f.state, f.count]).sort(),
      [
        ['a', 'resolved', 30],
        ['b0', 'resolved', 15],
        ['b1', 'resolved', 15],
      ],
    );
    assert.equal(stored.find((f) => f.key === 'b0')!.severity, 'critical');
    assert.equal(stored.find((f) => f.key === 'a')!.evidence.length, 5);
    assert.deepEqual(await store.findings({ state: 'active' }), []);
    await store.close();
  });

  void it('the memory store keeps at most maxFindings, dropping resolved ones first, the oldest first', async () => {
    const store = createMemoryStore({ maxFindings: 3 });
    const f = (id: string, lastSeen: number, state: 'open' | 'resolved') => ({
      id,
      detector: 'flood' as const,
      key: id,
      severity: 'low' as const,
      title: id,
      state,
      firstSeen: 1,
      lastSeen,
      count: 1,
      detail: {},
      evidence: [],
    });
    await store.writeFindings([f('open-old', 1, 'open'), f('res-new', 50, 'resolved'), f('res-old', 10, 'resolved')]);
    await store.writeFindings([f('open-new', 100, 'open')]);
    assert.deepEqual(
      (await store.findings()).map((x) => x.id),
      ['open-new', 'res-new', 'open-old'],
    );
    await store.writeFindings([f('open-newer', 200, 'open')]);
    assert.deepEqual(
      (await store.findings()).map((x) => x.id),
      ['open-newer', 'open-new', 'open-old'],
    );
    await store.writeFindings([f('open-newest', 300, 'open')]);
    assert.deepEqual(
      (await store.findings()).map((x) => x.id),
      ['open-newest', 'open-newer', 'open-new'],
    );
    assert.equal((await store.size()).findings, 3);
    await store.close();
  });
});
