// The loader end to end: the PRODUCT.md example, defaults, many errors at once, positions, files and formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIssues, loadConfigFile, loadConfigText } from '../src/config/load.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/config/', import.meta.url));
const MINIMAL = 'listen: 127.0.0.1:8080\nupstreams:\n  v1: { url: http://127.0.0.1:3001 }\n  v2: { url: http://127.0.0.1:3002 }\nroutes:\n  - name: r\n    primary: v1\n    mirrors:\n      - upstream: v2\n';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the PRODUCT.md example loads with every value it states', async () => {
  const r = await loadConfigFile(join(FIXTURES, 'product.yaml'), { TAPWIRE_ADMIN_TOKEN: 'a-token-of-sixteen-chars' });
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const c = r.config;
  assert.deepEqual({ ...c.listen }, { host: '0.0.0.0', port: 8080 });
  assert.deepEqual({ ...c.admin }, { host: '127.0.0.1', port: 9901, token: 'a-token-of-sixteen-chars' });
  assert.equal(c.storage, `sqlite:${join(FIXTURES, 'tapwire.db')}`);
  assert.equal(c.source, join(FIXTURES, 'product.yaml'));
  assert.deepEqual([...c.upstreams.keys()], ['v1', 'v1b', 'v2']);
  const v2 = c.upstreams.get('v2')!;
  assert.deepEqual(v2.urls.map(String), ['http://10.0.0.7:3002/', 'http://10.0.0.8:3002/']);
  assert.equal(v2.timeoutMs, 5000);
  assert.equal(v2.sandboxed, true);
  const route = c.routes[0]!;
  assert.equal(route.name, 'users');
  assert.equal(route.primary, 'v1');
  assert.equal(route.secondary, 'v1b');
  assert.deepEqual(route.match.host, { exact: 'api.example.com' });
  assert.deepEqual(route.match.path, { kind: 'prefix', value: '/api/' });
  assert.deepEqual(route.match.methods, ['GET', 'POST']);
  assert.deepEqual(route.match.headers, [['x-beta', { kind: 'exact', value: '1' }]]);
  assert.deepEqual(route.match.query, [['debug', { kind: 'absent' }]]);
  assert.equal(route.match.sources?.[0]?.text, '10.0.0.0/8');
  const m = route.mirrors[0]!;
  assert.deepEqual(
    { ...m, sampleBy: { ...m.sampleBy }, host: { ...m.host } },
    {
      role: 'candidate',
      name: 'v2',
      upstream: 'v2',
      percentage: 12.5,
      sampleBy: { kind: 'header', name: 'x-user-id' },
      methods: ['GET', 'HEAD', 'OPTIONS'],
      maxBodyBytes: 1024 * 1024,
      timeoutMs: 5000,
      maxInFlight: 100,
      host: { kind: 'preserve' },
      setHeaders: [['x-env', 'shadow']],
      removeHeaders: ['authorization'],
    },
  );
  // The secondary gets a copy like a mirror (only to learn noise), whenever the candidate's copy goes out.
  const secondary = route.mirrors[1]!;
  assert.equal(route.mirrors.length, 2);
  assert.equal(secondary.role, 'secondary');
  assert.equal(secondary.upstream, 'v1b');
  assert.equal(secondary.percentage, 100);
  assert.deepEqual(secondary.methods, ['GET', 'HEAD', 'OPTIONS']);
  assert.deepEqual({ ...route.compare!, tolerance: { ...route.compare!.tolerance }, thresholds: { ...route.compare!.thresholds } }, {
    ignoreHeaders: ['date'],
    ignore: ['$.meta.generatedAt'],
    noise: [],
    arrays: {},
    tolerance: { absolute: 0, relative: 0 },
    headers: true,
    endpoints: [],
    maxEndpoints: 200,
    thresholds: { relative: 0.2, absolute: 0.0003, minSamples: 100, latencyRatio: 1.2, latencyPercentile: 'p99', latencyMinDeltaMs: 1, errorRateDelta: 0.01 },
  });
});

test('a minimal config gets every documented default', () => {
  const r = loadConfigText(MINIMAL);
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const c = r.config;
  assert.deepEqual({ ...c.admin }, { host: '127.0.0.1', port: 9901 });
  assert.equal(c.storage, 'memory');
  assert.deepEqual(c.trustedProxies, []);
  assert.deepEqual({ ...c.limits }, {
    maxHeaderBytes: 16 * 1024,
    maxHeaders: 100,
    maxRequestLineBytes: 8 * 1024,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5000,
    maxBodyBytes: 10 * 1024 * 1024,
  });
  assert.deepEqual({ ...c.mirroring }, { maxBufferedBytes: 128 * 1024 * 1024, maxResponseBytes: 256 * 1024, connectTimeoutMs: 1000 });
  assert.deepEqual({ ...c.shutdown }, { drainTimeoutMs: 20_000, delayMs: 0 });
  assert.deepEqual({ ...c.log }, { level: 'info', access: false });
  const v1 = c.upstreams.get('v1')!;
  assert.deepEqual({ ...v1, urls: v1.urls.map(String) }, {
    name: 'v1',
    urls: ['http://127.0.0.1:3001/'],
    timeoutMs: 30_000,
    connectTimeoutMs: 2000,
    sandboxed: false,
    maxConnections: 128,
  });
  const route = c.routes[0]!;
  assert.deepEqual(route.match, {});
  assert.equal(route.maxBodyBytes, 10 * 1024 * 1024);
  assert.equal(route.timeoutMs, undefined);
  assert.equal(route.secondary, undefined);
  assert.equal(route.compare, undefined);
  const m = route.mirrors[0]!;
  assert.equal(m.percentage, 100);
  assert.deepEqual(m.sampleBy, { kind: 'random' });
  assert.deepEqual(m.methods, ['GET', 'HEAD', 'OPTIONS']);
  assert.equal(m.maxBodyBytes, 1024 * 1024);
  assert.equal(m.timeoutMs, 5000, "the upstream's 30s timeout, capped at 5s");
  assert.equal(m.maxInFlight, 100);
  assert.deepEqual(m.host, { kind: 'preserve' });
  assert.deepEqual(m.setHeaders, []);
  assert.deepEqual(m.removeHeaders, []);
});

test('reports every error at once, sorted by line', () => {
  const yaml = [
    'listen: 127.0.0.1:8080',
    'log: { level: loud }',
    'upstreams:',
    '  v1: { url: http://127.0.0.1:3001/x }',
    'routes:',
    '  - name: r',
    '    primary: v1',
    '    mirrors:',
    '      - { upstream: v1, percentage: 101, sampleBy: nope }',
    '',
  ].join('\n');
  const r = loadConfigText(yaml);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.issues.map((i) => `${i.line}:${i.col} ${i.path}`),
    ['2:15 log.level', '4:14 upstreams.v1.url', '9:37 routes[0].mirrors[0].percentage', '9:52 routes[0].mirrors[0].sampleBy'],
  );
});

test('cross-check errors are all reported together once the schema passes', () => {
  const yaml = MINIMAL.replace('primary: v1', 'primary: v1\n    secondary: v1').replace('upstream: v2', 'upstream: v9') + '  - name: r\n    primary: v2\n';
  const r = loadConfigText(yaml);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.issues.map((i) => i.path), ['routes[0].match', 'routes[0].secondary', 'routes[0].mirrors[0].upstream', 'routes[1].name']);
});

test('an unknown key points at the key itself and a missing key at its parent mapping', () => {
  const r = loadConfigText('listen: 127.0.0.1:8080\nupstreams:\n  v1:\n    url: http://a\n    sandboxd: true\nroutes:\n  - name: r\n    mirrors: []\n');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.issues, [
    { path: 'upstreams.v1.sandboxd', message: 'unknown key "sandboxd" (did you mean "sandboxed"?)', line: 5, col: 5 },
    { path: 'routes[0].primary', message: 'required', line: 7, col: 5 },
  ]);
});

test('a YAML syntax error is reported with its line and column and nothing else', () => {
  const r = loadConfigText('listen: 127.0.0.1:8080\nupstreams:\n  v1: [http://a\nroutes: []\n');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.ok(r.issues.length >= 1);
  assert.ok(r.issues.every((i) => i.path === '' && i.message.startsWith('YAML: ') && typeof i.line === 'number'), JSON.stringify(r.issues));
});

test('an alias bomb is refused instead of expanded', () => {
  const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  const r = loadConfigText(lines.join('\n'));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(r.issues[0]!.message, /^YAML: .*alias/i);
});

test('a missing file is one issue with an empty path', async () => {
  const r = await loadConfigFile('/nonexistent/tapwire.yaml', {});
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.issues.length, 1);
  assert.equal(r.issues[0]!.path, '');
  assert.match(r.issues[0]!.message, /cannot read the configuration file: ENOENT/);
});

test('relative TLS paths are read from the config file directory', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'tapwire.yaml');
  const absolute = `listen:\n  address: 127.0.0.1:8443\n  tls: { cert: ${join(FIXTURES, 'localhost.crt')}, key: ${join(FIXTURES, 'localhost.key')} }\n`;
  writeFileSync(file, MINIMAL.replace('listen: 127.0.0.1:8080\n', absolute));
  const fromAbsolute = await loadConfigFile(file, {});
  assert.ok(fromAbsolute.ok, fromAbsolute.ok ? '' : formatIssues(fromAbsolute.issues));

  copyFileSync(join(FIXTURES, 'localhost.crt'), join(dir, 'c.crt'));
  copyFileSync(join(FIXTURES, 'localhost.key'), join(dir, 'c.key'));
  writeFileSync(file, MINIMAL.replace('listen: 127.0.0.1:8080\n', 'listen:\n  address: 127.0.0.1:8443\n  tls: { cert: c.crt, key: c.key }\n'));
  const relative = await loadConfigFile(file, {});
  assert.ok(relative.ok, relative.ok ? '' : formatIssues(relative.issues));
  const t2 = relative.config.listen.tls!;
  assert.equal(t2.certPath, join(dir, 'c.crt'));
  assert.equal(t2.keyPath, join(dir, 'c.key'));
  assert.match(t2.cert, /BEGIN CERTIFICATE/);
  assert.match(t2.key, /PRIVATE KEY/);
});

test('an upstream CA file is read into the resolved upstream', () => {
  const r = loadConfigText(MINIMAL.replace('v2: { url: http://127.0.0.1:3002 }', 'v2: { url: https://127.0.0.1:3002, tls: { ca: localhost.crt, servername: localhost } }'), { baseDir: FIXTURES });
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const v2 = r.config.upstreams.get('v2')!;
  assert.match(v2.ca ?? '', /BEGIN CERTIFICATE/);
  assert.equal(v2.servername, 'localhost');
});

test('formatIssues prints FILE:LINE:COL path: message, one line each', () => {
  const out = formatIssues(
    [
      { path: 'routes[0].mirrors[0].percentage', message: 'must be between 0 and 100', line: 12, col: 21 },
      { path: '', message: 'cannot read the configuration file: ENOENT' },
      { path: 'admin.token', message: 'required when admin.listen is not loopback', line: 3, col: 3 },
    ],
    'tapwire.yaml',
  );
  assert.equal(
    out,
    [
      'tapwire.yaml:12:21 routes[0].mirrors[0].percentage: must be between 0 and 100',
      'tapwire.yaml: cannot read the configuration file: ENOENT',
      'tapwire.yaml:3:3 admin.token: required when admin.listen is not loopback',
    ].join('\n'),
  );
  assert.equal(formatIssues([{ path: 'listen', message: 'required', line: 1, col: 1 }]), '1:1 listen: required');
});
