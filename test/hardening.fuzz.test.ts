// The mutation fuzzer in the test suite (reliability-anchors §5 B13): a short run with a fixed seed, and every input
// it (or a longer `npm run fuzz`) ever caught replayed as a regression case. test/hardening/fuzz.ts has the mutators
// and the invariants; FUZZ_SECONDS and FUZZ_SEED change the run.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureFiles, fuzz, replay, summary } from './hardening/fuzz.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/fuzz/', import.meta.url));

test('ten seconds of mutated requests break no invariant: answers or closes in time, nothing refused reaches an upstream, counts reconcile', async (t) => {
  const seconds = Number(process.env.FUZZ_SECONDS ?? 10);
  const seed = Number(process.env.FUZZ_SEED ?? 20260301);
  // Offending inputs go to a temporary directory: a test run never writes into the repository.
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const report = await fuzz({ seed, durationMs: seconds * 1000, concurrency: 48, fixturesDir: dir });
  t.diagnostic(summary(report));
  const shown = report.violations.slice(0, 10).map((v) => `[exec ${v.exec ?? '-'}] ${v.rule}: ${v.detail.split('\n')[0]}`);
  assert.equal(report.violations.length, 0, `${report.violations.length} violation(s) (inputs kept in test/fixtures/fuzz only by npm run fuzz; reproduce: npm run fuzz -- --seconds ${seconds} --seed ${seed}):\n${shown.join('\n')}`);
  // A stalled fuzzer, not a slow box: about 400/s here on 2 shared cores.
  assert.ok(report.execs >= 50 * seconds, `only ${report.execs} execs in ${seconds} s`);
  assert.ok(report.forwarded > report.execs / 20, `only ${report.forwarded} of ${report.execs} execs reached the primary: the mutations destroy too much to test forwarding`);
});

test('every input in test/fixtures/fuzz replays without breaking an invariant', async (t) => {
  const files = fixtureFiles(FIXTURES);
  t.diagnostic(`${files.length} regression input(s)`);
  assert.ok(files.length > 0, 'no regression inputs found');
  const violations = await replay(files);
  assert.deepEqual(
    violations.map((v) => `${v.rule}: ${v.detail.split('\n')[0]}`),
    [],
  );
});
