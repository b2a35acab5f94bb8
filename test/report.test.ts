// `tapwire report` as a real process: the verdict from a SQLite store (offline) and from a running tapwire's
// admin API, in table, Markdown and JSON; exit codes (0 pass, 1 fail / insufficient / error, 2 usage); a
// missing store is named and never created; plus the pure renderer (escaping, colour).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Command, CommanderError } from 'commander';
import type { FullVerdict } from '../src/admin/compare.ts';
import { adminVerdict, registerReport, verdictUrl } from '../src/cli/commands/report.ts';
import { formatMarkdown, formatTable, safeText } from '../src/cli/format-verdict.ts';
import { createLatencyHistogram, encodeLatency, recordLatencyMs } from '../src/compare/latency.ts';
import type { CompareBatch, EndpointDelta } from '../src/compare/types.ts';
import { openStore } from '../src/store/open.ts';
import { harness, REPO } from './helpers/harness.ts';

const TOKEN = 'report-test-token-0123456789';
const FAILING = 'GET /users/{id}';
const PASSING = 'GET /catalog';

function hist(n: number, valueMs: number): string {
  const h = createLatencyHistogram();
  for (let i = 0; i < n; i++) recordLatencyMs(h, valueMs);
  return encodeLatency(h);
}

function delta(over: Partial<EndpointDelta> & Pick<EndpointDelta, 'endpoint' | 'role' | 'upstream'>): EndpointDelta {
  return { route: 'api', exchanges: 0, compared: 0, differing: 0, errors5xx: 0, failed: 0, fields: {}, latency: '', ...over };
}

/** One endpoint's rows: the primary, and the candidate v2 with `differing` pairs that differ on `field`. */
function endpointRows(endpoint: string, compared: number, differing: number, field = '$.email'): EndpointDelta[] {
  return [
    delta({ endpoint, role: 'primary', upstream: 'v1', exchanges: compared, latency: hist(compared, 10) }),
    delta({
      endpoint,
      role: 'candidate',
      upstream: 'v2',
      exchanges: compared,
      compared,
      differing,
      fields: differing > 0 ? { [field]: differing } : {},
      latency: hist(compared, 10.5),
    }),
  ];
}

/** The failing store: GET /users/{id} lost $.email in every pair; GET /catalog is identical. */
const FAIL_BATCH: CompareBatch = { at: 1_700_000_000_000, deltas: [...endpointRows(FAILING, 20, 20), ...endpointRows(PASSING, 20, 0)], examples: [] };
const PASS_BATCH: CompareBatch = { at: 1_700_000_000_000, deltas: [...endpointRows(PASSING, 20, 0), ...endpointRows('GET /health', 15, 0)], examples: [] };
/** 3 compared pairs, 10 needed */
const THIN_BATCH: CompareBatch = { at: 1_700_000_000_000, deltas: endpointRows(PASSING, 3, 0), examples: [] };

async function sqliteStore(path: string, batch: CompareBatch): Promise<void> {
  const store = await openStore(`sqlite:${path}`);
  try {
    await store.write(batch);
  } finally {
    await store.close();
  }
}

function configYaml(storage: string, extra = ''): string {
  return `listen: 127.0.0.1:0
log: { level: silent }
storage: "${storage}"
compare:
  worker: false
  thresholds: { minSamples: 10 }
upstreams:
  v1: { url: "http://127.0.0.1:1" }
  v2: { url: "http://127.0.0.1:2" }
routes:
  - name: api
    primary: v1
    mirrors: [{ upstream: v2 }]
    compare: {}
${extra}`;
}

interface CliResult {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node --import tsx src/cli/main.ts report ARGS`, killed after `timeoutMs`. */
function report(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
  const base: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '' };
  delete base.TAPWIRE_ADMIN_TOKEN;
  delete base.NO_COLOR;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', ...args], {
    cwd: REPO,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

type Verdictish = FullVerdict & { endpoints: { endpoint: string; verdict: string; regressions: { field: string }[] }[] };

describe('tapwire report -c (offline, SQLite store)', () => {
  test('a failing store: exit 1, the failing endpoint and field in table, Markdown and JSON', { timeout: 60_000 }, async (t) => {
    const dir = harness(t).tempDir();
    await sqliteStore(join(dir, 'tapwire.db'), FAIL_BATCH);
    const file = join(dir, 'tapwire.yaml');
    writeFileSync(file, configYaml('sqlite:tapwire.db')); // relative to the config's directory
    const [table, markdown, json] = await Promise.all([report(['-c', file]), report(['-c', file, '--format', 'markdown']), report(['-c', file, '--format', 'json'])]);

    for (const r of [table, markdown, json]) assert.equal(r.code, 1, show(r));
    // table: the overall verdict first, a row per endpoint, then why
    const lines = table.stdout.split('\n');
    assert.match(lines[0]!, /^verdict: FAIL\s+1 fail, 1 pass, 0 insufficient data \(2 endpoints compared\)/, show(table));
    assert.ok(!table.stdout.includes('\u001b['), 'no colour when stdout is not a TTY');
    const failRow = lines.find((l) => l.includes(FAILING) && l.includes('FAIL'));
    assert.ok(failRow, show(table));
    assert.match(failRow, /api\s+GET \/users\/\{id\}\s+v2\s+FAIL\s+20\s+100\.00%\s+\$\.email\s+10\.0 → 10\.5 ms ×1\.05/);
    assert.match(lines.find((l) => l.includes(PASSING))!, /pass\s+20\s+0%/);
    assert.match(table.stdout, /why:\n\s+FAIL\s+api\s+GET \/users\/\{id\}\s+→ v2\n\s+- \$\.email differs in 100\.00% of pairs, noise 0\.00%/);
    // Markdown: a heading, a summary, a GitHub table, the reasons as a list
    assert.match(markdown.stdout, /^### tapwire verdict: ❌ fail\n\n1 fail, 1 pass, 0 insufficient data \(2 endpoints compared\), generated \d{4}-\d\d-\d\dT/);
    assert.match(markdown.stdout, /\n\| Route \| Endpoint \|.*\n\|---\|---\|/);
    assert.match(markdown.stdout, /\| api \| GET \/users\/\\\{id\\\} \| v2 \| ❌ fail \| 20 \| 100\.00% \| \\\$\.email \|/);
    assert.match(markdown.stdout, /#### Why\n\n- ❌ fail \*\*api\*\* GET \/users\/\\\{id\\\} → v2\n {2}- \\\$\.email differs in 100\.00% of pairs/);
    // JSON: the API's FullVerdict
    const v = JSON.parse(json.stdout) as Verdictish;
    assert.equal(v.verdict, 'fail');
    assert.deepEqual(v.summary, { endpoints: 2, pass: 1, fail: 1, insufficient_data: 0 });
    const failing = v.endpoints.find((e) => e.endpoint === FAILING)!;
    assert.equal(failing.verdict, 'fail');
    assert.deepEqual(failing.regressions.map((r) => r.field), ['$.email']);
    assert.equal(v.routes[0]!.thresholds.minSamples, 10, 'the route thresholds come from the config');
    assert.equal(json.stderr, '');
  });

  test('a passing store exits 0; --route filters; an unknown route is an error', { timeout: 60_000 }, async (t) => {
    const dir = harness(t).tempDir();
    await sqliteStore(join(dir, 'pass.db'), PASS_BATCH);
    const file = join(dir, 'tapwire.yaml');
    writeFileSync(file, configYaml(`sqlite:${join(dir, 'pass.db')}`));
    const [pass, routed, unknown] = await Promise.all([report(['-c', file]), report(['-c', file, '--route', 'api', '--format', 'json']), report(['-c', file, '--route', 'nope'])]);
    assert.equal(pass.code, 0, show(pass));
    assert.match(pass.stdout, /^verdict: pass\s+0 fail, 2 pass/);
    assert.ok(!pass.stdout.includes('why:'));
    assert.equal(routed.code, 0, show(routed));
    assert.equal((JSON.parse(routed.stdout) as FullVerdict).endpoints.length, 2);
    assert.equal(unknown.code, 1, show(unknown));
    assert.match(unknown.stderr, /no route named "nope" compares .*routes that compare: api/);
  });

  test('too little data: exit 1 (with why), exit 0 with --allow-insufficient', { timeout: 60_000 }, async (t) => {
    const dir = harness(t).tempDir();
    await sqliteStore(join(dir, 'thin.db'), THIN_BATCH);
    const file = join(dir, 'tapwire.yaml');
    writeFileSync(file, configYaml('sqlite:thin.db'));
    const [strict, allowed] = await Promise.all([report(['-c', file]), report(['-c', file, '--allow-insufficient'])]);
    assert.equal(strict.code, 1, show(strict));
    assert.match(strict.stdout, /^verdict: insufficient data/);
    assert.match(strict.stdout, /3 compared pairs, 10 needed/);
    assert.match(strict.stderr, /--allow-insufficient/);
    assert.equal(allowed.code, 0, show(allowed));
  });

  test('a missing store file is named, exit 1, and not created; a memory store points at --admin; a bad config lists its errors', { timeout: 60_000 }, async (t) => {
    const dir = harness(t).tempDir();
    const missing = join(dir, 'missing.db');
    const noFile = join(dir, 'missing.yaml');
    writeFileSync(noFile, configYaml(`sqlite:${missing}`));
    const memFile = join(dir, 'memory.yaml');
    writeFileSync(memFile, configYaml('memory'));
    const badFile = join(dir, 'bad.yaml');
    writeFileSync(badFile, configYaml('memory').replace('primary: v1', 'primary: v9'));
    const [gone, memory, bad] = await Promise.all([report(['-c', noFile]), report(['-c', memFile]), report(['-c', badFile])]);
    assert.equal(gone.code, 1, show(gone));
    assert.ok(gone.stderr.includes(missing), show(gone));
    assert.match(gone.stderr, /does not exist/);
    assert.equal(gone.stdout, '');
    assert.equal(existsSync(missing), false, 'report must not create the store');
    assert.equal(existsSync(`${missing}-wal`), false);
    assert.equal(memory.code, 1, show(memory));
    assert.match(memory.stderr, /in-memory store .*--admin/);
    assert.equal(bad.code, 1, show(bad));
    assert.ok(bad.stderr.includes(`${badFile}:`) && bad.stderr.includes('v9'), show(bad));
  });
});

describe('tapwire report: usage', () => {
  test('-c with --admin, or neither: exit 2 from the real CLI', { timeout: 60_000 }, async () => {
    const [both, neither] = await Promise.all([report(['-c', 'x.yaml', '--admin', 'http://127.0.0.1:9']), report([])]);
    for (const r of [both, neither]) {
      assert.equal(r.code, 2, show(r));
      assert.equal(r.stdout, '');
    }
    assert.match(both.stderr, /cannot be used with/);
    assert.match(neither.stderr, /one of -c, --config <file> or --admin <url> is required/);
  });

  test('an unknown format, a URL that is not http(s) or carries credentials, --token without --admin: usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['-c', 'x.yaml', '--format', 'yaml'], /argument 'yaml' is invalid. Allowed choices are table, markdown, json/],
      [['--admin', 'not a url'], /expected the admin base URL/],
      [['--admin', 'ftp://127.0.0.1/'], /must be http:\/\/ or https:\/\//],
      [['--admin', 'http://user:secret@127.0.0.1:9/'], /put the token in --token or TAPWIRE_ADMIN_TOKEN/],
      [['-c', 'x.yaml', '--token', 't'], /--token goes with --admin/],
    ];
    for (const [args, message] of cases) {
      let err = '';
      let out = '';
      const program = new Command('tapwire').exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: (s) => (out += s) });
      registerReport(program, { env: {}, stdout: (s) => (out += s), stderr: (s) => (err += s), color: false });
      await assert.rejects(program.parseAsync(['report', ...args], { from: 'user' }), (e: unknown) => e instanceof CommanderError && e.exitCode !== 0, args.join(' '));
      assert.match(err, message, args.join(' '));
      assert.equal(out, '', args.join(' '));
    }
  });
});

describe('tapwire report --admin (a running tapwire)', () => {
  test('the same verdict as offline; a wrong or missing token is a clear exit 1; an unreachable address too', { timeout: 60_000 }, async (t) => {
    const h = harness(t);
    const tw = await h.tapwire(`listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
  token: ${TOKEN}
log: { level: silent }
shutdown: { drainTimeout: 1s }
compare:
  worker: false
  thresholds: { minSamples: 10 }
upstreams:
  v1: { url: "http://127.0.0.1:1" }
  v2: { url: "http://127.0.0.1:2" }
routes:
  - name: api
    primary: v1
    mirrors: [{ upstream: v2 }]
    compare: {}
`);
    await tw.app.store!.write(FAIL_BATCH);
    const dir = h.tempDir();
    await sqliteStore(join(dir, 'tapwire.db'), FAIL_BATCH);
    const file = join(dir, 'tapwire.yaml');
    writeFileSync(file, configYaml('sqlite:tapwire.db'));
    const admin = `http://127.0.0.1:${tw.adminPort}`;
    const nobody = `http://127.0.0.1:${await closedPort()}`;

    const [online, offline, fromEnv, md, wrong, none, unreachable] = await Promise.all([
      report(['--admin', admin, '--token', TOKEN, '--format', 'json']),
      report(['-c', file, '--format', 'json']),
      report(['--admin', `${admin}/`, '--route', 'api'], { TAPWIRE_ADMIN_TOKEN: TOKEN }),
      report(['--admin', admin, '--format', 'markdown'], { TAPWIRE_ADMIN_TOKEN: TOKEN }),
      report(['--admin', admin, '--token', 'not-the-token']),
      report(['--admin', admin]),
      report(['--admin', nobody]),
    ]);
    assert.equal(online.code, 1, show(online));
    assert.equal(offline.code, 1, show(offline));
    const strip = (r: CliResult) => ({ ...(JSON.parse(r.stdout) as FullVerdict), generatedAt: 0 });
    assert.deepEqual(strip(online), strip(offline), 'the CLI computes what the admin API answers');
    assert.equal(strip(online).verdict, 'fail');
    assert.equal(fromEnv.code, 1, show(fromEnv));
    assert.match(fromEnv.stdout, /^verdict: FAIL/);
    assert.ok(fromEnv.stdout.includes(FAILING));
    assert.equal(md.code, 1, show(md));
    assert.match(md.stdout, /^### tapwire verdict: ❌ fail/);

    assert.equal(wrong.code, 1, show(wrong));
    assert.match(wrong.stderr, /401 Unauthorized \(the token was refused/);
    assert.ok(!wrong.stderr.includes('not-the-token'), 'the token is never echoed');
    assert.equal(wrong.stdout, '');
    assert.equal(none.code, 1, show(none));
    assert.match(none.stderr, /401 Unauthorized \(no token was sent: pass --token or set TAPWIRE_ADMIN_TOKEN/);
    assert.equal(unreachable.code, 1, show(unreachable));
    assert.ok(unreachable.stderr.includes(`cannot reach the admin API at ${nobody}/api/v1/verdict: ECONNREFUSED`), show(unreachable));
  });
});

describe('adminVerdict (in-process, against small servers)', () => {
  async function serve(t: TestContext, handle: Parameters<typeof createHttpServer>[1]): Promise<URL> {
    const server: Server = createHttpServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    return new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/prefix`);
  }

  test('keeps a path prefix, drops query and fragment, adds the route', () => {
    assert.equal(verdictUrl(new URL('http://h:1/tapwire/?x=1#f'), 'a b').href, 'http://h:1/tapwire/api/v1/verdict?route=a+b');
    assert.equal(verdictUrl(new URL('http://h:1'), undefined).href, 'http://h:1/api/v1/verdict');
  });

  test('a server that never answers times out; non-JSON, foreign JSON and 404 are clear errors', { timeout: 10_000 }, async (t) => {
    const silent = await serve(t, () => undefined);
    await assert.rejects(adminVerdict(silent, undefined, undefined, 200), /did not answer within 0.2 s/);
    const seen: (string | undefined)[] = [];
    const text = await serve(t, (req, res) => {
      seen.push(req.url, req.headers.authorization);
      res.end('<html>');
    });
    await assert.rejects(adminVerdict(text, 'tok', 'api'), /answered 200 with a body that is not JSON/);
    assert.deepEqual(seen, ['/prefix/api/v1/verdict?route=api', 'Bearer tok']);
    const foreign = await serve(t, (_req, res) => res.end('{"status":"ok"}'));
    await assert.rejects(adminVerdict(foreign, undefined, undefined), /JSON that is not a tapwire verdict/);
    const missing = await serve(t, (_req, res) => {
      res.statusCode = 404;
      res.end('{"error":{"code":"TW_ERR_ADMIN_BAD_REQUEST","message":"no such admin endpoint"}}');
    });
    await assert.rejects(adminVerdict(missing, undefined, undefined), /answered 404: is this a tapwire admin address.*no such admin endpoint/);
  });
});

describe('format-verdict (pure)', () => {
  const verdict = (endpoint: string, field: string): FullVerdict => {
    const side = { count: 0, p50: null, p90: null, p99: null };
    return {
      generatedAt: 0,
      verdict: 'fail',
      thresholds: { relative: 0.2, absolute: 0.0003, minSamples: 1, latencyRatio: 1.2, latencyPercentile: 'p99', latencyMinDeltaMs: 1, errorRateDelta: 0.01 },
      summary: { endpoints: 1, pass: 0, fail: 1, insufficient_data: 0 },
      routes: [],
      endpoints: [
        {
          id: 'x',
          route: 'api',
          endpoint,
          upstream: 'v2',
          verdict: 'fail',
          reasons: [{ code: 'field_regression', field, rawRate: 1, noiseRate: 0, message: `${field} differs` }],
          compared: 5,
          differing: 5,
          diffRate: 1,
          noiseCompared: 0,
          regressions: [{ field, raw: 5, rawRate: 1, noise: 0, noiseRate: 0 }],
          noisyFields: [],
          latency: { primary: side, candidate: side, ratioP50: null, ratioP99: null },
          errorRate: { primary: 0, candidate: 0, delta: 0 },
        },
      ],
    };
  };

  test('terminal output never carries control characters from traffic; colour only when asked', () => {
    const v = verdict('GET /a\u001b[2J\u0007', '$.x\r\n');
    const plain = formatTable(v);
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(plain), JSON.stringify(plain));
    assert.ok(plain.includes('GET /a\\u001b[2J\\u0007'));
    assert.equal(safeText('a\u202eb'), 'a\\u202eb');
    const coloured = formatTable(v, { color: true });
    assert.ok(coloured.includes('\u001b[31m'), 'fail is red');
    // eslint-disable-next-line no-control-regex
    assert.equal(coloured.replace(/\u001b\[\d+m/g, ''), plain, 'colour changes nothing but the escapes');
  });

  test('Markdown escapes table breaks, links, HTML and mentions from traffic', () => {
    const md = formatMarkdown(verdict('GET /a|b[x](http://evil)<img>', '@team'));
    const row = md.split('\n').find((l) => l.startsWith('| api'))!;
    assert.equal(row.split(/(?<!\\)\|/).length, 12, row); // 10 cells: the endpoint's | does not split it
    assert.ok(row.includes('GET /a\\|b\\[x\\]\\(http\\://evil\\)\\<img\\>'), row);
    assert.ok(!md.includes('@team'), 'no @mention');
  });
});
