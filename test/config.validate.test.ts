// `tapwire validate -c FILE`: in-process through commander, and as the real CLI in a subprocess.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerValidate } from '../src/cli/commands/validate.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const GOOD = 'listen: 127.0.0.1:8080\nupstreams:\n  v1: { url: http://127.0.0.1:3001 }\n  v2: { url: http://127.0.0.1:3002 }\nroutes:\n  - name: r\n    primary: v1\n    mirrors: [{ upstream: v2 }]\n';
const BAD = 'listen: 127.0.0.1:8080\nupstreams:\n  v1: { url: http://127.0.0.1:3001 }\nroutes:\n  - name: r\n    primray: v1\n    mirrors:\n      - upstream: v1\n        percentage: 150\n';

function files(t: TestContext): { good: string; bad: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-validate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.yaml');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(good, GOOD);
  writeFileSync(bad, BAD);
  return { good, bad };
}

/** Runs the command in a fresh commander program with captured output; process.exitCode is restored after. */
async function runValidate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const program = new Command('tapwire').exitOverride();
  registerValidate(program, { env: {}, stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'tapwire', 'validate', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    process.exitCode = before;
  }
}

test('validate prints ok with the route and upstream counts for a good file', async (t) => {
  const { good } = files(t);
  const r = await runValidate(['-c', good]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `ok: ${good} (1 route, 2 upstreams)\n`);
  assert.equal(r.stderr, '');
});

test('validate prints every issue with file, line and path and sets exit code 1', async (t) => {
  const { bad } = files(t);
  const r = await runValidate(['--config', bad]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    [
      `${bad}:6:5 routes[0].primray: unknown key "primray" (did you mean "primary"?)`,
      `${bad}:9:21 routes[0].mirrors[0].percentage: must be between 0 and 100`,
      `${bad}: 2 errors`,
      '',
    ].join('\n'),
  );
});

test('validate reports a missing file as an error, not a crash', async () => {
  const r = await runValidate(['-c', '/nonexistent/tapwire.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^\/nonexistent\/tapwire\.yaml: cannot read the configuration file: ENOENT/);
});

test('validate without -c is a usage error from commander', async () => {
  await assert.rejects(runValidate([]), (e: Error & { code?: string }) => e.code === 'commander.missingMandatoryOptionValue');
});

// The real CLI also imports the run and demo commands, written by other engineers; skip until they exist.
const cliReady = ['src/cli/main.ts', 'src/cli/commands/run.ts', 'src/cli/commands/demo.ts'].every((f) => existsSync(join(REPO, f)));

test('the tapwire CLI exits 1 and lists the errors for a bad file, 0 for a good one', { skip: cliReady ? false : 'src/cli/main.ts or a command it imports is missing' }, (t) => {
  const { good, bad } = files(t);
  const cli = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'validate', '-c', file], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  const failed = cli(bad);
  assert.equal(failed.status, 1, failed.stderr);
  assert.match(failed.stderr, /bad\.yaml:9:21 routes\[0\]\.mirrors\[0\]\.percentage: must be between 0 and 100/);
  assert.match(failed.stderr, /bad\.yaml:6:5 routes\[0\]\.primray: unknown key "primray" \(did you mean "primary"\?\)/);
  const passed = cli(good);
  assert.equal(passed.status, 0, passed.stderr);
  assert.equal(passed.stdout, `ok: ${good} (1 route, 2 upstreams)\n`);
});
