// What a replay sends: filters (method, path prefix, regex), header overrides, recorded headers cleaned of the
// recorded connection's, bodies, redacted values as recorded, and the input's torn last line and rotated files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileFilters, parseFilter, FilterError } from '../src/replay/filter.ts';
import { parseHeaderOverride, replayRequest, HeaderError } from '../src/replay/request.ts';
import { startReplay, type ReplayOptions } from '../src/replay/run.ts';
import { targetPool } from '../src/replay/send.ts';
import { emptyReadStats } from '../src/capture/read.ts';
import { entry, target, tempDir } from './helpers/replay-fixtures.ts';

const T0 = 1_700_000_000_000;

test('filters: kinds must all hold, filters of one kind are alternatives', () => {
  const keep = compileFilters(['method:GET,head', 'path:/api/', 'path:~^/v[0-9]+/'].map(parseFilter));
  const cases: Array<[string, string, boolean]> = [
    ['GET', '/api/users', true],
    ['HEAD', '/v2/things', true],
    ['get', '/api/x', true],
    ['POST', '/api/users', false],
    ['GET', '/static/app.js', false],
    ['GET', '/vx/things', false],
  ];
  for (const [m, p, want] of cases) assert.equal(keep(m, p), want, `${m} ${p}`);
  assert.equal(compileFilters([])('DELETE', '/anything'), true);
  for (const bad of ['GET', 'method:', 'path:api', 'path:~(', 'host:x']) assert.throws(() => parseFilter(bad), FilterError, bad);
});

test('header overrides parse, and refuse names and values that would break the request', () => {
  assert.deepEqual(parseHeaderOverride('Authorization: Bearer test-token'), { name: 'Authorization', lower: 'authorization', value: 'Bearer test-token' });
  for (const bad of ['no colon', ': value', 'bad name: x']) assert.throws(() => parseHeaderOverride(bad), HeaderError, bad);
});

test('a replayed request drops the recorded connection headers, keeps redacted values, and applies overrides', () => {
  const e = entry({
    method: 'POST',
    path: '/api/orders?x=1',
    at: T0,
    requestHeaders: [['Connection', 'keep-alive'], ['Content-Length', '12'], ['Authorization', 'hmac:0123456789abcdef'], ['X-Api-Key', 'hmac:fedcba9876543210'], [':authority', 'h2']],
    requestBody: '{"qty":2}',
  });
  const r = replayRequest(e, [parseHeaderOverride('X-Api-Key: test-key')]);
  assert.ok(typeof r !== 'string');
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/api/orders?x=1');
  assert.deepEqual(r.headers, ['Authorization', 'hmac:0123456789abcdef', 'X-Api-Key', 'test-key']);
  assert.equal(r.body?.toString(), '{"qty":2}');
  const cut = { ...e, request: { ...e.request, postData: { mimeType: 'text/plain', text: 'abc', _truncated: true } } };
  assert.equal(replayRequest(cut, []), 'body_truncated');
});

function options(file: string, url: string, extra: Partial<ReplayOptions> = {}): ReplayOptions {
  return {
    input: file,
    dispatcher: targetPool([new URL(url)], { connections: 4, connectTimeoutMs: 2000 }),
    basePath: '',
    pacing: { kind: 'unpaced' },
    concurrency: 4,
    loop: false,
    filters: [],
    headers: [],
    timeoutMs: 5000,
    keep: false,
    cap: 1024,
    readStats: emptyReadStats(),
    ...extra,
  };
}

test('a replay sends only what the filters keep, with the --header value on every request', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    const file = await dir.write('c.ndjson', [
      entry({ path: '/api/a', at: T0, requestHeaders: [['Authorization', 'hmac:aaaaaaaaaaaaaaaa']] }),
      entry({ method: 'POST', path: '/api/b', at: T0 + 1, requestBody: '{"n":1}' }),
      entry({ path: '/static/c.js', at: T0 + 2 }),
      entry({ path: '/api/d?q=1', at: T0 + 3 }),
    ]);
    const o = options(file, t.url, { filters: [parseFilter('method:GET'), parseFilter('path:/api/')], headers: [parseHeaderOverride('Authorization: Bearer test')] });
    const s = await startReplay(o).done;
    await o.dispatcher.close();
    assert.equal(s.sent, 2);
    assert.equal(s.skipped.filtered, 2);
    assert.deepEqual(t.seen.map((x) => `${x.method} ${x.url}`).sort(), ['GET /api/a', 'GET /api/d?q=1']);
    for (const x of t.seen) assert.equal(x.headers.authorization, 'Bearer test');
  } finally {
    await t.close();
    await dir.remove();
  }
});

test('bodies are replayed and a base path on the target prefixes every path', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    const file = await dir.write('c.ndjson', [entry({ method: 'PUT', path: '/items/7', at: T0, requestBody: '{"name":"x"}' })]);
    const o = options(file, t.url, { basePath: '/staging' });
    await startReplay(o).done;
    await o.dispatcher.close();
    assert.equal(t.seen.length, 1);
    assert.equal(t.seen[0]!.url, '/staging/items/7');
    assert.equal(t.seen[0]!.body, '{"name":"x"}');
    assert.equal(t.seen[0]!.headers['content-length'], '12');
  } finally {
    await t.close();
    await dir.remove();
  }
});

test('a torn last line is skipped and counted; every whole line before it is replayed', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    const whole = [0, 1, 2].map((i) => entry({ path: `/w/${i}`, at: T0 + i }));
    const torn = JSON.stringify(entry({ path: '/torn', at: T0 + 9 })).slice(0, 80);
    const file = await dir.write('c.ndjson', whole, torn);
    const o = options(file, t.url);
    const s = await startReplay(o).done;
    await o.dispatcher.close();
    assert.equal(s.sent, 3);
    assert.equal(o.readStats.torn, true);
    assert.deepEqual(t.seen.map((x) => x.url).sort(), ['/w/0', '/w/1', '/w/2']);
  } finally {
    await t.close();
    await dir.remove();
  }
});

test('a directory of rotated files, one of them gzipped, is replayed in write order', async () => {
  const dir = await tempDir();
  const t = await target();
  try {
    const line = (i: number) => `${JSON.stringify(entry({ path: `/r/${i}`, at: T0 + i }))}\n`;
    await writeFile(join(dir.dir, 'capture-20260101T000000Z-000001.ndjson.gz'), gzipSync(line(0) + line(1)));
    await writeFile(join(dir.dir, 'capture-20260101T000001Z-000002.ndjson'), line(2));
    const o = options(dir.dir, t.url, { concurrency: 1 });
    const s = await startReplay(o).done;
    await o.dispatcher.close();
    assert.equal(s.sent, 3);
    assert.equal(o.readStats.files, 2);
    assert.deepEqual(t.seen.map((x) => x.url), ['/r/0', '/r/1', '/r/2']);
  } finally {
    await t.close();
    await dir.remove();
  }
});

test('a target that refuses connections ends every request as connect_error, counted', async () => {
  const dir = await tempDir();
  const t = await target();
  const url = t.url;
  await t.close();
  try {
    const file = await dir.write('c.ndjson', [entry({ path: '/x', at: T0 }), entry({ path: '/y', at: T0 + 1 })]);
    const o = options(file, url);
    const s = await startReplay(o).done;
    await o.dispatcher.close();
    assert.equal(s.sent, 2);
    assert.equal(s.ok, 0);
    assert.equal(s.failures.connect_error, 2);
  } finally {
    await dir.remove();
  }
});
