// Capture units: redaction (HMAC hashes, headers, cookies, query, JSON paths), trial → HAR entry, the writer's
// rotation, gzip and queue bound, the frames trials cross to the capture worker in, a crashed worker, and the reader's
// tolerance of torn and malformed lines.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHmac } from 'node:crypto';
import { trialToEntry } from '../src/capture/entry.ts';
import { decodeBatch, FrameBatch } from '../src/capture/frame.ts';
import type { HarEntry } from '../src/capture/har.ts';
import { captureFileName, captureSortKey } from '../src/capture/names.ts';
import { emptyReadStats, readCapture } from '../src/capture/read.ts';
import { Redactor } from '../src/capture/redact.ts';
import { CaptureWriter } from '../src/capture/writer.ts';
import type { ResolvedCapture } from '../src/config/types.ts';
import { TapwireError } from '../src/core/errors.ts';
import type { Trial } from '../src/core/exchange.ts';

const KEY = 'unit-test-key-0123456789';
const NONE = { headers: [], query: [], cookies: [], json: [] };

function tmp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-cap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(path: string) {
  const stats = emptyReadStats();
  const entries: HarEntry[] = [];
  for await (const e of readCapture(path, stats)) entries.push(e);
  return { entries, stats };
}

function trial(i: number, extra: Partial<Trial> = {}): Trial {
  return {
    id: `t${i}`,
    route: 'r',
    at: Date.UTC(2030, 0, 1) + i,
    request: { method: 'GET', path: `/items/${i}?q=${i}`, headers: ['Host', 'api.example.com', 'X-Forwarded-Proto', 'http'], bodyBytes: 0 },
    primary: { role: 'primary', upstream: 'v1', status: 200, headers: ['content-type', 'text/plain'], body: Buffer.from(`answer ${i}`), bodyBytes: 8, truncated: false, timings: { startMs: 0, headersMs: 1, totalMs: 2 } },
    mirrors: [],
    ...extra,
  };
}

function settings(file: string, over: Partial<ResolvedCapture> = {}): ResolvedCapture {
  return { file, rotate: { maxBytes: 64 * 1024 * 1024, maxAgeMs: 3_600_000 }, gzip: false, queue: 10_000, flushIntervalMs: 20, redact: NONE, ...over };
}

test('a secret becomes hmac: and the first 16 hex digits of HMAC-SHA256(key, value)', () => {
  const r = new Redactor(KEY, NONE);
  const expected = `hmac:${createHmac('sha256', KEY).update('Bearer abc').digest('hex').slice(0, 16)}`;
  assert.equal(r.headerValue('authorization', 'Bearer abc'), expected);
  assert.equal(r.headerValue('proxy-authorization', 'Bearer abc'), expected);
  // another key, another hash: not recoverable without the key
  assert.notEqual(new Redactor('another-key-0123456789', NONE).hash('Bearer abc'), expected);
  assert.equal(r.headerValue('accept', 'text/html'), 'text/html');
  assert.match(r.headerValue('x-api-key', 'k'), /^hmac:/);
});

test('cookies keep their names, every value is hashed; Set-Cookie keeps its attributes', () => {
  const r = new Redactor(KEY, NONE);
  assert.equal(r.cookieHeader('a=1; b=2'), `a=${r.hash('1')}; b=${r.hash('2')}`);
  assert.equal(r.setCookie('sid=xyz; Path=/; Secure'), `sid=${r.hash('xyz')}; Path=/; Secure`);
});

test('configured and secret-looking query parameters are hashed; others kept in place', () => {
  const r = new Redactor(KEY, { ...NONE, query: ['sig'] });
  assert.equal(r.queryString('a=1&sig=s&access_token=t&b'), `a=1&sig=${encodeURIComponent(r.hash('s'))}&access_token=${encodeURIComponent(r.hash('t'))}&b`);
});

test('JSON: configured paths (with [*] and ..) and secret-looking keys are hashed; unparseable JSON is refused', () => {
  const r = new Redactor(KEY, { ...NONE, json: ['$.card.number', '$.items[*].ssn', '$..pin'] });
  const out = JSON.parse(r.jsonText(JSON.stringify({ card: { number: '4111', exp: '12/30' }, items: [{ ssn: '1', n: 1 }, { ssn: '2' }], deep: { x: { pin: 1234 } }, password: 'pw', keep: 'me' }))!);
  assert.equal(out.card.number, r.hash('4111'));
  assert.equal(out.card.exp, '12/30');
  assert.deepEqual((out.items as { ssn: string }[]).map((i) => i.ssn), [r.hash('1'), r.hash('2')]);
  assert.equal(out.items[0].n, 1);
  assert.equal(out.deep.x.pin, r.hash('1234'));
  assert.equal(out.password, r.hash('pw'));
  assert.equal(out.keep, 'me');
  assert.equal(r.jsonText('{"password": "cut sho'), undefined);
  // unchanged documents are returned as they came
  assert.equal(r.jsonText('{"a": 1}'), '{"a": 1}');
  // without configured paths, a cut document with no secret-looking word is kept; with one it is refused
  const plain = new Redactor(KEY, NONE);
  assert.equal(plain.jsonText('{"a": [1, 2'), '{"a": [1, 2');
  assert.equal(plain.jsonText('{"a": 1, "session'), undefined);
  // redaction rewrites the parsed document in place: an own __proto__ key stays a key, the prototype is untouched
  assert.equal(plain.jsonText('{"__proto__": {"password": "x"}, "b": 1}'), `{"__proto__":{"password":"${plain.hash('x')}"},"b":1}`);
  assert.equal(({} as Record<string, unknown>).password, undefined);
});

test('trial → HAR entry: URL from Host and X-Forwarded-Proto, binary as base64, JSON cut short withheld, mirrors as vendor data', () => {
  const r = new Redactor(KEY, NONE);
  const bin = Buffer.from([0xff, 0x00, 0x01]);
  const e = trialToEntry(
    trial(1, {
      request: { method: 'POST', path: '/p?x=1', headers: ['Host', 'h.example', 'X-Forwarded-Proto', 'https', 'Content-Type', 'application/json'], body: Buffer.from('{"a":1,"password":"p'), bodyBytes: 500 },
      mirrors: [
        { role: 'mirror', upstream: 'v2', status: 500, headers: [], body: bin, bodyBytes: 3, truncated: false, timings: { startMs: 0, headersMs: 3, totalMs: 4 }, outcome: 'delivered' },
        { role: 'mirror', upstream: 'v3', bodyBytes: 0, truncated: false, timings: { startMs: 0, totalMs: 5000 }, outcome: 'timeout', error: 'timeout' },
      ],
    }),
    r,
    { maxBodyBytes: 64 * 1024 },
  );
  assert.equal(e.request.url, 'https://h.example/p?x=1');
  assert.deepEqual(e.request.queryString, [{ name: 'x', value: '1' }]);
  assert.equal(e.request.bodySize, 500);
  assert.equal(e.request.postData?.text, '');
  assert.match(e.request.postData?._withheld ?? '', /cannot be redacted/);
  assert.equal(e.response.content.text, 'answer 1');
  assert.equal(e.startedDateTime, '2030-01-01T00:00:00.001Z');
  assert.deepEqual(e.timings, { send: 0, wait: 1, receive: 1 });
  const [m2, m3] = e._tapwire!.mirrors;
  assert.equal(m2!.response?.content.encoding, 'base64');
  assert.equal(Buffer.from(m2!.response.content.text!, 'base64').toString('hex'), 'ff0001');
  assert.equal(m3!.outcome, 'timeout');
  assert.equal(m3!.response, undefined);
  assert.equal(e._tapwire?.v, 1);
});

test('file names sort in write order: time, then sequence', () => {
  const a = captureFileName('capture', Date.UTC(2030, 0, 1, 10, 0, 0), 9, false);
  const b = captureFileName('capture', Date.UTC(2030, 0, 1, 10, 0, 0), 10, true);
  const c = captureFileName('capture', Date.UTC(2030, 0, 1, 10, 0, 1), 1, false);
  assert.equal(a, 'capture-20300101T100000Z-000009.ndjson');
  assert.equal(b, 'capture-20300101T100000Z-000010.ndjson.gz');
  assert.deepEqual([c, b, a].sort((x, y) => captureSortKey(x)!.localeCompare(captureSortKey(y)!)), [a, b, c]);
});

test('the writer rotates by size, every file readable, in order, mode 0600', async (t) => {
  const dir = tmp(t);
  const w = new CaptureWriter({ settings: settings(`${dir}/`, { rotate: { maxBytes: 2000, maxAgeMs: 3_600_000 } }), key: KEY, maxBodyBytes: () => 1024 });
  for (let i = 0; i < 50; i++) {
    w.offer(trial(i));
    if (i % 5 === 4) await w.flush();
  }
  await w.close();
  const files = readdirSync(dir).sort();
  assert.ok(files.length >= 5, `${files.length} files`);
  for (const f of files) {
    assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
    assert.ok(statSync(join(dir, f)).size <= 2000, `${f}: ${statSync(join(dir, f)).size}`);
  }
  const { entries, stats } = await readAll(dir);
  assert.deepEqual(entries.map((e) => e._tapwire!.id), Array.from({ length: 50 }, (_, i) => `t${i}`));
  assert.equal(stats.files, files.length);
  assert.equal(w.stats().files, files.length);
  assert.equal(w.stats().routes.r?.written, 50);
});

test('the writer rotates by age', async (t) => {
  const dir = tmp(t);
  let now = Date.UTC(2030, 0, 1);
  const w = new CaptureWriter({ settings: settings(`${dir}/`, { rotate: { maxBytes: 1 << 30, maxAgeMs: 60_000 } }), key: KEY, maxBodyBytes: () => 1024, now: () => now });
  w.offer(trial(1));
  await w.flush();
  now += 61_000;
  w.offer(trial(2));
  await w.flush();
  await w.close();
  assert.deepEqual(readdirSync(dir).sort(), ['capture-20300101T000000Z-000001.ndjson', 'capture-20300101T000101Z-000002.ndjson']);
});

test('gzip: each file one gzip stream; what was flushed is readable before the file is closed', async (t) => {
  const dir = tmp(t);
  const w = new CaptureWriter({ settings: settings(`${dir}/`, { gzip: true }), key: KEY, maxBodyBytes: () => 1024 });
  for (let i = 0; i < 10; i++) w.offer(trial(i));
  await w.flush();
  // not closed: the stream has no trailer yet (as after kill -9), and the sync flush made every line readable
  const [name] = readdirSync(dir);
  assert.match(name!, /\.ndjson\.gz$/);
  const open = await readAll(dir);
  assert.equal(open.entries.length, 10);
  assert.equal(open.stats.torn, false);
  for (let i = 10; i < 20; i++) w.offer(trial(i));
  await w.close();
  const text = gunzipSync(readFileSync(join(dir, name!))).toString('utf8');
  assert.equal(text.trim().split('\n').length, 20);
});

test('past the queue bound trials are dropped and counted, never queued', async (t) => {
  const dir = tmp(t);
  const w = new CaptureWriter({ settings: settings(`${dir}/`, { queue: 5 }), key: KEY, maxBodyBytes: () => 1024 });
  for (let i = 0; i < 12; i++) w.offer(trial(i));
  assert.equal(w.depth, 5);
  await w.close();
  assert.deepEqual(w.stats().routes.r, { written: 5, dropped_queue_full: 7, dropped_write_error: 0, sampled_out: 0 });
  assert.equal((await readAll(dir)).entries.length, 5);
});

test('a write error drops and counts the batch; the next batch goes to a new file', async (t) => {
  const dir = tmp(t);
  // the prefix's directory is a file: every open fails
  writeFileSync(join(dir, 'blocker'), '');
  const warnings: string[] = [];
  const w = new CaptureWriter({ settings: settings(join(dir, 'blocker', 'cap')), key: KEY, maxBodyBytes: () => 1024, onWarn: (m) => warnings.push(m) });
  for (let i = 0; i < 3; i++) w.offer(trial(i));
  await w.close();
  assert.equal(w.stats().routes.r?.dropped_write_error, 3);
  assert.equal(warnings.length, 1);
});

test('reader: torn last line counted, malformed lines skipped, newer versions refused', async (t) => {
  const dir = tmp(t);
  const line = (i: number, v = 1) => JSON.stringify({ request: { method: 'GET', url: `http://h/${i}` }, response: { status: 200 }, _tapwire: { v } });
  const f1 = join(dir, captureFileName('capture', Date.UTC(2030, 0, 1), 1, false));
  writeFileSync(f1, `${line(1)}\n{not json\n\n${line(2)}\n["an array"]\n${line(3).slice(0, 30)}`);
  const f2 = join(dir, captureFileName('capture', Date.UTC(2030, 0, 1), 2, true));
  // a gzip stream cut short in the middle of its second line
  const gz = gzipSync(`${line(4)}\n${line(5)}\n`);
  writeFileSync(f2, gz.subarray(0, gz.length - 12));
  const { entries, stats } = await readAll(dir);
  assert.deepEqual(entries.map((e) => e.request.url).slice(0, 3), ['http://h/1', 'http://h/2', 'http://h/4']);
  assert.equal(stats.skipped, 2);
  assert.equal(stats.torn, true);
  assert.equal(stats.files, 2);
  // a single file path, and a line that ends exactly without its newline is whole
  const f3 = join(dir, 'single.ndjson');
  writeFileSync(f3, `${line(7)}\n${line(8)}`);
  const single = await readAll(f3);
  assert.equal(single.entries.length, 2);
  assert.equal(single.stats.torn, false);
  appendFileSync(f3, `\n${line(9, 2)}\n`);
  await assert.rejects(readAll(f3), (e: unknown) => e instanceof TapwireError && e.code === 'TW_ERR_CAPTURE' && /version 2/.test(e.message));
  await assert.rejects(readAll(join(dir, 'nothing-here')), (e: unknown) => e instanceof TapwireError && e.code === 'TW_ERR_CAPTURE');
});

test('frames: a trial comes back from a batch as it was encoded (bodies, mirrors, missing fields, non-ASCII); a large frame gets its own buffer', () => {
  const taken: { buffer: ArrayBuffer; bytes: number; count: number }[] = [];
  const batch = new FrameBatch((min) => new ArrayBuffer(Math.max(min, 4096)));
  const full = (): void => {
    const b = batch.take();
    if (b) taken.push(b);
  };
  const a = trial(1, {
    request: { method: 'POST', path: '/p/é?x=ü', headers: ['Host', 'h', 'X-Name', 'zoë 😀'], body: Buffer.from([0, 1, 2, 255]), bodyBytes: 9 },
    mirrors: [
      { role: 'secondary', upstream: 'v2', status: 201, headers: ['a', 'b'], body: Buffer.from('{"x":1}'), bodyBytes: 7, truncated: true, timings: { startMs: 1.5, headersMs: 2.25, totalMs: 3 }, outcome: 'delivered' },
      { role: 'mirror', upstream: 'v3', bodyBytes: 0, truncated: false, timings: { startMs: 0, totalMs: 5000 }, outcome: 'timeout', error: 'timeout' },
    ],
  });
  const b = trial(2, { primary: { role: 'primary', upstream: 'v1', bodyBytes: 0, truncated: false, timings: { startMs: 0, totalMs: 1 }, error: 'TW_ERR_UPSTREAM_CONNECT' } });
  const big = trial(3, { request: { method: 'PUT', path: '/big', headers: [], body: Buffer.alloc(10_000, 7), bodyBytes: 10_000 } });
  batch.append(a, 111, full);
  batch.append(b, 222, full);
  batch.append(big, 333, full);
  full();
  assert.equal(taken.length, 2);
  assert.deepEqual(
    taken.map((t) => t.count),
    [2, 1],
  );
  const decoded = taken.flatMap((t) => [...decodeBatch(t.buffer, t.bytes)]);
  assert.deepEqual(
    decoded.map((d) => d.maxBodyBytes),
    [111, 222, 333],
  );
  // Buffers compare by content; the decoded trial has exactly the encoded one's fields.
  assert.deepEqual(decoded.map((d) => d.trial), [a, b, big]);
});

test('a crashed worker: what it held is counted as dropped_write_error, a warning is logged, a new worker writes on', async (t) => {
  const dir = tmp(t);
  const warnings: string[] = [];
  const w = new CaptureWriter({ settings: settings(`${dir}/`), key: KEY, maxBodyBytes: () => 1024, onWarn: (m) => warnings.push(m) });
  // a failed assertion must not leave the worker thread holding the test file open
  t.after(() => w.close());
  await w.flush();
  for (let i = 0; i < 20; i++) w.offer(trial(i));
  // The batch goes to the worker on its 5 ms timer: wait past it, so the crash finds the trials in the worker's hands
  // (without the wait, a fast terminate() could end before the batch was ever posted).
  await sleep(30);
  await w.crashWorkerForTests();
  const s = w.stats().routes.r!;
  assert.equal(s.written + s.dropped_write_error + w.depth, 20, JSON.stringify(s));
  assert.equal(w.depth, 0);
  assert.equal(warnings.filter((m) => /capture worker exited/.test(m)).length, 1);
  for (let i = 20; i < 30; i++) w.offer(trial(i));
  await w.close();
  const after = w.stats().routes.r!;
  assert.equal(after.written - s.written, 10);
  const ids = (await readAll(dir)).entries.map((e) => e._tapwire!.id);
  assert.equal(ids.length, after.written);
  assert.deepEqual(ids.slice(-10), Array.from({ length: 10 }, (_, i) => `t${i + 20}`));
});
