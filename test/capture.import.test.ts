// tapwire import: a browser HAR export and a GoReplay .gor file become capture lines, redacted like a capture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { emptyImportStats, importGor, importHar, parseGorPayload } from '../src/capture/import.ts';
import { Redactor } from '../src/capture/redact.ts';
import { importCommand } from '../src/cli/commands/import.ts';
import { harEntryProblems, toSpecEntry } from '../src/capture/export.ts';
import type { HarEntry } from '../src/capture/har.ts';
import { tempDir } from './helpers/replay-fixtures.ts';

const redaction = { headers: [], query: [], cookies: [], json: ['$.password'] };
const opts = () => ({ redactor: new Redactor('test-key', redaction), maxBodyBytes: 1024 });

async function all(g: AsyncGenerator<HarEntry>): Promise<HarEntry[]> {
  const out: HarEntry[] = [];
  for await (const e of g) out.push(e);
  return out;
}

const browserHar = {
  log: {
    version: '1.2',
    creator: { name: 'WebInspector', version: '537.36' },
    entries: [
      {
        startedDateTime: '2026-01-02T03:04:05.678Z',
        time: 42.5,
        _initiator: { type: 'script' },
        request: {
          method: 'POST',
          url: 'https://shop.example.com/api/login?next=%2Fhome',
          httpVersion: 'h2',
          headers: [
            { name: ':authority', value: 'shop.example.com' },
            { name: 'authorization', value: 'Bearer s3cret' },
            { name: 'cookie', value: 'sid=abc123; theme=dark' },
            { name: 'content-type', value: 'application/json' },
          ],
          postData: { mimeType: 'application/json', text: '{"user":"ann","password":"hunter2"}' },
        },
        response: {
          status: 200,
          statusText: '',
          headers: [
            { name: 'content-type', value: 'application/json' },
            { name: 'content-encoding', value: 'br' },
          ],
          content: { size: 11, mimeType: 'application/json', text: '{"ok":true}' },
        },
      },
      { startedDateTime: '2026-01-02T03:04:06.000Z', time: 1, request: { method: 'GET', url: 'data:image/png;base64,AAAA' }, response: { status: 200 } },
    ],
  },
};

test('a browser HAR imports as redacted capture lines that replay and export read', async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.dir, 'b.har');
    await writeFile(file, JSON.stringify(browserHar));
    const stats = emptyImportStats();
    const [e, ...rest] = await all(importHar(file, opts(), stats));
    assert.equal(rest.length, 0);
    assert.equal(stats.skipped, 1); // the data: URL
    assert.ok(e);
    assert.equal(e.request.method, 'POST');
    assert.equal(e.request.url, 'https://shop.example.com/api/login?next=%2Fhome');
    assert.equal(e.startedDateTime, '2026-01-02T03:04:05.678Z');
    assert.equal(e.time, 42.5);
    const h = Object.fromEntries(e.request.headers.map((x) => [x.name.toLowerCase(), x.value]));
    assert.match(h.authorization!, /^hmac:[0-9a-f]{16}$/);
    assert.match(h.cookie!, /^sid=hmac:[0-9a-f]{16}; theme=hmac:[0-9a-f]{16}$/);
    assert.equal(h[':authority'], undefined);
    assert.equal(h.host, 'shop.example.com');
    assert.doesNotMatch(e.request.postData!.text, /hunter2/);
    assert.equal(e.response.content.text, '{"ok":true}');
    assert.equal(e._tapwire?.source, 'har');
    assert.deepEqual(harEntryProblems(toSpecEntry(e)), []);
  } finally {
    await dir.remove();
  }
});

const SEP = '\n🐵🙈🙉\n';

function gorFile(): Buffer {
  const chunked = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n';
  const gz = gzipSync('{"list":[1,2]}');
  const parts: Buffer[] = [
    Buffer.from('1 aaa1 1700000000000000000 0\nGET /api/items?page=2 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer tok\r\n\r\n'),
    Buffer.from(`2 aaa1 1700000000005000000 5000000\n${chunked}`),
    Buffer.from('1 bbb2 1700000000010000000 0\nPOST /api/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"n":"x"}'),
    Buffer.concat([Buffer.from(`2 bbb2 1700000000030000000 20000000\nHTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`), gz]),
    Buffer.from('3 bbb2 1700000000040000000 1000000\nHTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n'),
    Buffer.from('1 ccc3 1700000000050000000 0\nGET /api/orphan HTTP/1.1\r\nHost: api.example.com\r\n\r\n'),
    Buffer.from('2 zzz9 1700000000060000000 1\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
  ];
  const out: Buffer[] = [];
  for (const p of parts) out.push(p, Buffer.from(SEP));
  return Buffer.concat(out);
}

test('a .gor payload parses: meta line, request line, headers, chunked body', () => {
  const p = parseGorPayload(Buffer.from('2 x1 1700000000005000000 5000000\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'));
  assert.ok(p);
  assert.equal(p.type, '2');
  assert.equal(p.id, 'x1');
  assert.equal(p.at, 1_700_000_000_005);
  assert.equal(p.latencyMs, 5);
  assert.equal(p.message.body.toString(), 'abc');
  assert.equal(parseGorPayload(Buffer.from('garbage')), undefined);
});

for (const gzip of [false, true]) {
  test(`a GoReplay .gor file${gzip ? ' (gzipped)' : ''} imports as request/response pairs by id`, async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.dir, 'traffic.gor');
      await writeFile(file, gzip ? gzipSync(gorFile()) : gorFile());
      const stats = emptyImportStats();
      const entries = await all(importGor(file, opts(), stats));
      assert.equal(entries.length, 3);
      assert.deepEqual({ unpaired: stats.unpaired, dropped: stats.dropped, skipped: stats.skipped }, { unpaired: 1, dropped: 2, skipped: 0 });
      const [get, post, orphan] = entries;
      assert.equal(get!.request.url, 'http://api.example.com/api/items?page=2');
      assert.equal(get!.response.status, 200);
      assert.equal(get!.response.content.text, '{"a":1}');
      assert.equal(get!.time, 5);
      assert.equal(get!.startedDateTime, new Date(1_700_000_000_000).toISOString());
      assert.match(get!.request.headers.find((h) => h.name === 'Authorization')!.value, /^hmac:/);
      assert.equal(post!.request.postData?.text, '{"n":"x"}');
      assert.equal(post!.response.status, 201);
      assert.equal(post!.response.content.text, '{"list":[1,2]}');
      assert.equal(orphan!.request.url, 'http://api.example.com/api/orphan');
      assert.equal(orphan!.response.status, 0);
      for (const e of entries) assert.equal(e._tapwire?.source, 'gor');
    } finally {
      await dir.remove();
    }
  });
}

test('tapwire import writes the lines with mode 0600', async () => {
  const dir = await tempDir();
  try {
    const input = join(dir.dir, 't.gor');
    const output = join(dir.dir, 'out.ndjson');
    await writeFile(input, gorFile());
    let err = '';
    const code = await importCommand({ from: 'gor', input, output, maxBody: '1MiB' }, { env: {}, stderr: (s) => (err += s) });
    assert.equal(code, 0, err);
    assert.equal((await stat(output)).mode & 0o777, 0o600);
    const lines = (await readFile(output, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(err, /import: 3 entries/);
  } finally {
    await dir.remove();
  }
});
