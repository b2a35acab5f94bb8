// `tapwire findings`: as a real process against a SQLite store written with writeFindings (-c) and against a
// fake admin API on port 0 (--admin); filters, table and JSON, --fail-on exit codes, a memory store and a
// missing store refused (never created), usage errors, and escaping of text from traffic.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Command, CommanderError } from 'commander';
import type { Finding } from '../src/analysis/types.ts';
import { findingsUrl, formatFindingsTable, registerFindings } from '../src/cli/commands/findings.ts';
import { openStore } from '../src/store/open.ts';

const REPO = new URL('../', import.meta.url).pathname;

/** A temporary directory removed when the test ends. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-findings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const TOKEN = 'findings-test-token-0123456789';
const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);

function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: '0123456789abcdef',
    detector: 'flood',
    key: 'source:203.0.113.7',
    severity: 'high',
    title: 'single-source flood from 203.0.113.7: 812 req/s (baseline 3 req/s)',
    state: 'ongoing',
    firstSeen: T0,
    lastSeen: T0 + 60_000,
    count: 412,
    detail: { rate: 812, baseline: 3 },
    evidence: [{ at: T0, method: 'GET', target: '/login?token=[REDACTED]', source: '203.0.113.7', headers: [], status: 401 }],
    ...over,
  };
}

/** Newest lastSeen first: scan (medium, open), flood (high, ongoing), signature (critical, resolved, oldest). */
const FINDINGS: Finding[] = [
  finding(),
  finding({ id: 'aaaaaaaaaaaaaaaa', detector: 'scan', key: 'source:198.51.100.9', severity: 'medium', state: 'open', title: 'path scan from 198.51.100.9\u001b[2J', lastSeen: T0 + 120_000, count: 3 }),
  finding({ id: 'bbbbbbbbbbbbbbbb', detector: 'signature', key: 'rule:sqli-union|source:192.0.2.1', severity: 'critical', state: 'resolved', title: 'SQL injection', lastSeen: T0 + 1_000, resolvedAt: T0 + 61_000 }),
];

function configYaml(storage: string): string {
  return `listen: 127.0.0.1:0
log: { level: silent }
storage: "${storage}"
upstreams:
  v1: { url: "http://127.0.0.1:1" }
routes:
  - name: api
    primary: v1
`;
}

interface CliResult {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node --import tsx src/cli/main.ts findings ARGS`, killed after `timeoutMs`. */
function cli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
  const base: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '' };
  delete base.TAPWIRE_ADMIN_TOKEN;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'findings', ...args], { cwd: REPO, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, stdout, stderr });
    });
  });
}

/** The command in-process, with captured output; resolves to the exit code the CLI would exit with. */
async function inProcess(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  let out = '';
  let err = '';
  const program = new Command('tapwire').exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: (s) => (out += s) });
  registerFindings(program, { env, stdout: (s) => (out += s), stderr: (s) => (err += s) });
  const before = process.exitCode;
  try {
    await program.parseAsync(['findings', ...args], { from: 'user' });
    const code = process.exitCode ?? 0;
    return { code, stdout: out, stderr: err };
  } catch (e) {
    // as main.ts does: everything commander rejects is a usage error
    if (e instanceof CommanderError) return { code: e.exitCode === 0 ? 0 : 2, stdout: out, stderr: err };
    throw e;
  } finally {
    process.exitCode = before;
  }
}

const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

async function sqliteConfig(t: TestContext, findings: readonly Finding[] = FINDINGS): Promise<{ file: string; db: string }> {
  const dir = tempDir(t);
  const db = join(dir, 'tapwire.db');
  const store = await openStore(`sqlite:${db}`);
  try {
    await store.writeFindings(findings);
  } finally {
    await store.close();
  }
  const file = join(dir, 'tapwire.yaml');
  writeFileSync(file, configYaml('sqlite:tapwire.db')); // relative to the config's directory
  return { file, db };
}

const rows = (stdout: string) => stdout.split('\n').filter((l) => /^(info|low|medium|high|critical)\s/.test(l));

describe('tapwire findings -c (offline, SQLite store)', () => {
  test('lists active findings by default, newest first, as a table; all states, filters, JSON; exit 0', { timeout: 60_000 }, async (t) => {
    const { file } = await sqliteConfig(t);
    const [table, all, json, scan, one] = await Promise.all([
      cli(['-c', file]),
      cli(['-c', file, '--state', 'all']),
      cli(['-c', file, '--format', 'json', '--state', 'resolved']),
      cli(['-c', file, '--detector', 'scan', '--state', 'all']),
      cli(['-c', file, '--limit', '1']),
    ]);
    for (const r of [table, all, json, scan, one]) assert.equal(r.code, 0, show(r));
    const lines = table.stdout.split('\n');
    assert.match(lines[0]!, /^SEVERITY\s+STATE\s+DETECTOR\s+TITLE\s+COUNT\s+FIRST SEEN\s+LAST SEEN\s+KEY$/, show(table));
    assert.deepEqual(
      rows(table.stdout).map((l) => l.split(/\s{2,}/).slice(0, 3)),
      [
        ['medium', 'open', 'scan'],
        ['high', 'ongoing', 'flood'],
      ],
    );
    assert.match(
      rows(table.stdout)[1]!,
      /^high\s+ongoing\s+flood\s+single-source flood from 203\.0\.113\.7: 812 req\/s \(baseline 3 req\/s\)\s+412\s+2024-01-02T03:04:05\.000Z\s+2024-01-02T03:05:05\.000Z\s+source:203\.0\.113\.7$/,
    );
    assert.match(table.stdout, /\n2 findings \(open or ongoing\)\n$/);
    // the escape sequence in a title reaches the terminal as text, not as a command
    assert.ok(!table.stdout.includes('\u001b'), 'no raw ESC');
    assert.ok(table.stdout.includes('path scan from 198.51.100.9\\u001b[2J'));

    assert.equal(rows(all.stdout).length, 3);
    assert.match(rows(all.stdout)[2]!, /^critical\s+resolved\s+signature\s+SQL injection/);
    const parsed = JSON.parse(json.stdout) as { findings: Finding[] };
    assert.deepEqual(parsed, { findings: [FINDINGS[2]] });
    assert.deepEqual(
      rows(scan.stdout).map((l) => l.split(/\s{2,}/)[2]),
      ['scan'],
    );
    assert.equal(rows(one.stdout).length, 1);
    assert.match(one.stdout, /1 finding \(open or ongoing\)/);
  });

  test('--fail-on: exit 1 when a listed finding is at least that severe, else 0', { timeout: 60_000 }, async (t) => {
    const { file } = await sqliteConfig(t);
    const [high, critical, criticalAll, info] = await Promise.all([
      cli(['-c', file, '--fail-on', 'high']),
      cli(['-c', file, '--fail-on', 'critical']),
      cli(['-c', file, '--fail-on', 'critical', '--state', 'all']),
      cli(['-c', file, '--fail-on', 'info', '--detector', 'rate_spike']),
    ]);
    assert.equal(high.code, 1, show(high));
    assert.equal(rows(high.stdout).length, 2, 'the list is printed anyway');
    assert.match(high.stderr, /^tapwire findings: 1 finding at or above high \(--fail-on high\)\n$/);
    assert.equal(critical.code, 0, show(critical));
    assert.equal(criticalAll.code, 1, show(criticalAll));
    assert.equal(info.code, 0, show(info));
    assert.match(info.stdout, /^no findings \(open or ongoing, detector rate_spike\)\n$/);
  });

  test('a memory store: exit 1 with a hint to ask the admin API; a missing SQLite file: exit 1 naming it, not created', { timeout: 60_000 }, async (t) => {
    const dir = tempDir(t);
    const mem = join(dir, 'memory.yaml');
    writeFileSync(mem, configYaml('memory'));
    const missingDb = join(dir, 'nope', '..', 'missing.db');
    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, configYaml('sqlite:missing.db'));
    const [m, x] = await Promise.all([cli(['-c', mem]), cli(['-c', missing])]);
    assert.equal(m.code, 1, show(m));
    assert.match(m.stderr, /storage is memory: an in-memory store .* tapwire findings --admin http:\/\/HOST:PORT/);
    assert.equal(x.code, 1, show(x));
    assert.ok(x.stderr.includes(join(dir, 'missing.db')), show(x));
    assert.match(x.stderr, /does not exist/);
    assert.ok(!existsSync(join(dir, 'missing.db')), 'never created');
    assert.ok(!existsSync(missingDb));
    // an invalid config is reported like `tapwire validate` does
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'listen: [nope\n');
    const b = await inProcess(['-c', bad]);
    assert.equal(b.code, 1, show(b));
    assert.match(b.stderr, /bad\.yaml/);
  });
});

describe('tapwire findings --admin (a running tapwire)', () => {
  async function fakeAdmin(t: TestContext, answer: (url: URL, headers: IncomingHttpHeaders) => { status: number; body: string }): Promise<{ base: string; seen: { url: string; auth: string | undefined }[] }> {
    const seen: { url: string; auth: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      const a = answer(new URL(req.url ?? '/', 'http://x'), req.headers);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as { port: number };
    return { base: `http://127.0.0.1:${port}`, seen };
  }

  /** Answers like the admin endpoint will: the store's query, applied to FINDINGS. */
  const storeLike = (url: URL, headers: IncomingHttpHeaders) => {
    if (headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, body: JSON.stringify({ error: { code: 'TW_ERR_ADMIN_UNAUTHORIZED', message: 'missing or invalid bearer token' } }) };
    if (url.pathname !== '/prefix/api/v1/findings') return { status: 404, body: '{}' };
    const state = url.searchParams.get('state');
    const detector = url.searchParams.get('detector');
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const list = FINDINGS.filter((f) => (state === null || state === f.state || (state === 'active' && f.state !== 'resolved')) && (detector === null || f.detector === detector))
      .sort((a, b) => b.lastSeen - a.lastSeen)
      .slice(0, limit);
    return { status: 200, body: JSON.stringify({ findings: list }) };
  };

  test('asks GET /api/v1/findings with the filters and the token; table, JSON and --fail-on as offline', { timeout: 60_000 }, async (t) => {
    const admin = await fakeAdmin(t, storeLike);
    const base = `${admin.base}/prefix`;
    const [table, json, fail] = await Promise.all([
      cli(['--admin', base, '--token', TOKEN]),
      cli(['--admin', `${base}/`, '--state', 'all', '--detector', 'signature', '--limit', '7', '--format', 'json'], { TAPWIRE_ADMIN_TOKEN: TOKEN }),
      cli(['--admin', base, '--fail-on', 'medium'], { TAPWIRE_ADMIN_TOKEN: TOKEN }),
    ]);
    assert.equal(table.code, 0, show(table));
    assert.deepEqual(
      rows(table.stdout).map((l) => l.split(/\s{2,}/)[2]),
      ['scan', 'flood'],
    );
    assert.equal(json.code, 0, show(json));
    assert.deepEqual(JSON.parse(json.stdout), { findings: [FINDINGS[2]] });
    assert.equal(fail.code, 1, show(fail));
    assert.match(fail.stderr, /2 findings at or above medium/);
    const urls = admin.seen.map((s) => s.url).sort();
    assert.deepEqual(urls, [
      '/prefix/api/v1/findings?detector=signature&limit=7',
      '/prefix/api/v1/findings?state=active&limit=50',
      '/prefix/api/v1/findings?state=active&limit=50',
    ]);
    assert.ok(admin.seen.every((s) => s.auth === `Bearer ${TOKEN}`));
  });

  test('a refused token, a wrong answer and an unreachable admin API: exit 1 with a reason', { timeout: 60_000 }, async (t) => {
    const admin = await fakeAdmin(t, storeLike);
    const junk = await fakeAdmin(t, () => ({ status: 200, body: JSON.stringify({ findings: [{ id: 1 }] }) }));
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const [noToken, wrong, notFound, unreachable] = await Promise.all([
      inProcess(['--admin', `${admin.base}/prefix`]),
      inProcess(['--admin', junk.base]),
      inProcess(['--admin', admin.base, '--token', TOKEN]),
      inProcess(['--admin', `http://127.0.0.1:${port}`]),
    ]);
    assert.equal(unreachable.code, 1, show(unreachable));
    assert.match(unreachable.stderr, new RegExp(`cannot reach the admin API at http://127\\.0\\.0\\.1:${port}/api/v1/findings: ECONNREFUSED`));
    assert.equal(noToken.code, 1, show(noToken));
    assert.match(noToken.stderr, /answered 401 Unauthorized \(no token was sent: pass --token or set TAPWIRE_ADMIN_TOKEN\)/);
    assert.equal(wrong.code, 1, show(wrong));
    assert.match(wrong.stderr, /not a list of tapwire findings/);
    assert.equal(notFound.code, 1, show(notFound));
    assert.match(notFound.stderr, /answered 404/);
    assert.equal(findingsUrl(new URL('http://h:1/a?x=1#y'), { state: 'open', limit: 5 }).href, 'http://h:1/a/api/v1/findings?state=open&limit=5');
    assert.equal(findingsUrl(new URL('http://h:1'), {}).href, 'http://h:1/api/v1/findings');
  });
});

describe('tapwire findings usage', () => {
  test('usage errors exit 2', async () => {
    for (const args of [
      [],
      ['-c', 'x.yaml', '--admin', 'http://127.0.0.1:1'],
      ['-c', 'x.yaml', '--state', 'closed'],
      ['-c', 'x.yaml', '--limit', '0'],
      ['-c', 'x.yaml', '--limit', '501'],
      ['-c', 'x.yaml', '--limit', 'ten'],
      ['-c', 'x.yaml', '--detector', 'nope'],
      ['-c', 'x.yaml', '--fail-on', 'urgent'],
      ['-c', 'x.yaml', '--format', 'markdown'],
      ['-c', 'x.yaml', '--token', 'x'],
      ['--admin', 'ftp://h'],
      ['--admin', 'http://user:pw@h:1'],
    ]) {
      const r = await inProcess(args);
      assert.equal(r.code, 2, `${args.join(' ')}\n${show(r)}`);
    }
  });

  test('the table escapes control and bidi characters and cuts long titles', () => {
    const out = formatFindingsTable([finding({ title: `x\u202ey${'z'.repeat(300)}`, key: 'k\r\n' })], { state: 'all' });
    assert.ok(!/[\u202e\r]/.test(out));
    assert.ok(out.includes('x\\u202ey'));
    assert.ok(out.includes('k\\u000d\\u000a'));
    assert.ok(out.includes('z…'));
    assert.match(out, /1 finding \(any state\)\n$/);
  });
});
