// replay --compare as a CI gate: the replayed answers judged against the recorded ones with compare's own rules,
// against real targets on port 0 (one that behaves like the recording, one with a planted regression), and the
// exit codes: 0 pass, 1 fail or insufficient data, 2 usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReplayFlags } from '../src/cli/commands/replay.ts';
import { entry, runReplay, target, tempDir, type TempDir } from './helpers/replay-fixtures.ts';

const T0 = 1_700_000_000_000;
const N = 120;

/** The recording: GET /api/users/{i} answered {id, name, generatedAt}; recorded latency 2 s (replays are faster). */
function recording(): ReturnType<typeof entry>[] {
  return Array.from({ length: N }, (_, i) => entry({ path: `/api/users/${i}`, at: T0 + i * 10, time: 2000, body: JSON.stringify({ id: i, name: `user ${i}`, generatedAt: T0 }) }));
}

/** Answers like the recording, except `generatedAt` (always) and, when `regress`, `name` for one user in four. */
function like(regress: boolean) {
  return target((req) => {
    const id = Number((req.url ?? '').split('/').pop());
    const name = regress && id % 4 === 0 ? `USER ${id}` : `user ${id}`;
    return { body: JSON.stringify({ id, name, generatedAt: Date.now() }) };
  });
}

function flags(input: string, url: string, extra: Partial<ReplayFlags> = {}): ReplayFlags {
  return {
    input,
    target: url,
    concurrency: '8',
    loop: false,
    filter: [],
    header: [],
    timeout: '5s',
    maxBody: '1MiB',
    compare: true,
    ignore: [],
    allowInsufficient: false,
    format: 'json',
    progress: false,
    ...extra,
  };
}

const run = runReplay;

async function withCapture(fn: (file: string, dir: TempDir) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    await fn(await dir.write('c.ndjson', recording()), dir);
  } finally {
    await dir.remove();
  }
}

test('a target that answers like the recording passes (the ignored field aside) and exits 0', async () => {
  await withCapture(async (file) => {
    const t = await like(false);
    try {
      const r = await run(flags(file, t.url, { ignore: ['$.generatedAt'] }));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const v = JSON.parse(r.stdout);
      assert.equal(v.verdict, 'pass');
      assert.equal(v.endpoints.length, 1);
      assert.equal(v.endpoints[0].endpoint, 'GET /api/users/{id}');
      assert.equal(v.endpoints[0].compared, N);
      assert.equal(v.endpoints[0].upstream, t.url);
      assert.match(r.stderr, /sent 120 /);
    } finally {
      await t.close();
    }
  });
});

test('a planted regression fails the verdict, names the field and exits 1', async () => {
  await withCapture(async (file) => {
    const t = await like(true);
    try {
      const r = await run(flags(file, t.url, { ignore: ['$.generatedAt'] }));
      assert.equal(r.code, 1);
      const v = JSON.parse(r.stdout);
      assert.equal(v.verdict, 'fail');
      assert.deepEqual((v.endpoints[0].regressions as Array<{ field: string }>).map((x) => x.field), ["$.name"]);
      assert.equal(v.endpoints[0].differing, N / 4);
    } finally {
      await t.close();
    }
  });
});

test('the ignore rule matters: without it the changing field fails the same target', async () => {
  await withCapture(async (file) => {
    const t = await like(false);
    try {
      const r = await run(flags(file, t.url, { format: 'table' }));
      assert.equal(r.code, 1);
      assert.match(r.stdout, /\$\.generatedAt/);
    } finally {
      await t.close();
    }
  });
});

test("a config's route rules and thresholds apply, and an upstream name is a target", async () => {
  await withCapture(async (file, dir) => {
    const t = await like(false);
    try {
      const cfg = join(dir.dir, 'tapwire.yaml');
      await writeFile(
        cfg,
        [
          'listen: 127.0.0.1:0',
          'upstreams:',
          `  v2: { url: "${t.url}" }`,
          'routes:',
          '  - name: api',
          '    match: { path: { prefix: / } }',
          '    primary: v2',
          '    compare:',
          '      ignore: ["$.generatedAt"]',
          '      thresholds: { minSamples: 200 }',
          '',
        ].join('\n'),
      );
      const r = await run(flags(file, 'v2', { config: cfg }));
      // 120 compared pairs, 200 needed by the route's thresholds
      assert.equal(r.code, 1, r.stderr);
      assert.equal(JSON.parse(r.stdout).verdict, 'insufficient_data');
      const ok = await run(flags(file, 'v2', { config: cfg, minSamples: '50', format: 'markdown' }));
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.match(ok.stdout, /tapwire verdict: ✅ pass/);
      const allowed = await run(flags(file, 'v2', { config: cfg, allowInsufficient: true }));
      assert.equal(allowed.code, 0);
    } finally {
      await t.close();
    }
  });
});

test('usage errors exit 2 before anything is sent', async () => {
  await withCapture(async (file) => {
    const t = await like(false);
    try {
      const cases: Array<Partial<ReplayFlags>> = [
        { speed: '2x', rate: '10/s' },
        { filter: ['verb:GET'] },
        { header: ['no colon'] },
        { ignore: ['$.a['] },
        { concurrency: '0' },
        { target: 'v2' },
        { loop: true },
      ];
      for (const c of cases) {
        const r = await run({ ...flags(file, t.url), ...c });
        assert.equal(r.code, 2, JSON.stringify(c));
        assert.match(r.stderr, /tapwire replay: /);
      }
      assert.equal(t.seen.length, 0);
    } finally {
      await t.close();
    }
  });
});

test('the CLI maps a missing required flag to exit 2', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'replay', '--input', 'x.ndjson'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--target/);
});
