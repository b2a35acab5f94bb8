// Capture end to end: a real upstream on port 0, tapwire with captured routes, requests in, the files read back
// with readCapture and compared to what was sent; secrets never reach the file in clear.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { emptyReadStats, readCapture } from '../src/capture/read.ts';
import type { HarEntry } from '../src/capture/har.ts';
import { LISTEN, harness, waitFor } from './helpers/harness.ts';

async function readAll(path: string): Promise<{ entries: HarEntry[]; stats: ReturnType<typeof emptyReadStats> }> {
  const stats = emptyReadStats();
  const entries: HarEntry[] = [];
  for await (const e of readCapture(path, stats)) entries.push(e);
  return { entries, stats };
}

const header = (list: readonly { name: string; value: string }[], name: string): string | undefined => list.find((h) => h.name.toLowerCase() === name)?.value;

test('captures the request, the primary answer and the mirror answer of every request, redacted, into 0600 files', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1', {
    kind: 'custom',
    handle: (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'sid=s3cr3t-session; Path=/; HttpOnly' });
        res.end(JSON.stringify({ ok: true, path: req.url!.split('?')[0], token: 'tok-from-primary' }));
      });
    },
  });
  const v2 = await h.upstream('v2', { kind: 'normal', status: 201, body: 'mirror says hi' });
  const dir = join(h.tempDir(), 'caps');
  const app = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
  v2: { url: ${v2.url}, sandboxed: true }
capture:
  file: ${dir}/
  flushInterval: 50ms
  redact: { key: "0123456789abcdef-test-key", headers: [x-custom-secret], query: [sig], json: ["$.card.number"] }
routes:
  - name: api
    match: { path: { prefix: /api/ } }
    primary: v1
    mirrors: [{ upstream: v2, methods: [GET, POST] }]
    capture: {}
  - name: plain
    primary: v1
    capture: { maxBodyBytes: 16B }
`, { admin: false });
  const sent: { method: string; path: string; body?: string }[] = [];
  for (let i = 0; i < 20; i++) {
    const path = `/api/items/${i}?sig=abc${i % 2}&page=${i}`;
    const body = i % 2 === 0 ? undefined : JSON.stringify({ name: `n${i}`, password: 'hunter2', card: { number: '4111111111111111' } });
    const r = await app.send({
      method: body ? 'POST' : 'GET',
      path,
      headers: ['Authorization', 'Bearer very-secret-token', 'Cookie', 'sid=cookie-secret; theme=dark', 'X-Custom-Secret', 'xyz', 'Content-Type', 'application/json'],
      ...(body ? { body } : {}),
    });
    assert.equal(r.status, 200);
    sent.push({ method: body ? 'POST' : 'GET', path, ...(body ? { body } : {}) });
  }
  const long = await app.send({ method: 'POST', path: '/other', body: 'x'.repeat(100), headers: ['Content-Type', 'text/plain'] });
  assert.equal(long.status, 200);
  assert.ok(await waitFor(() => (app.app.capture?.stats().routes.api?.written ?? 0) >= 20 && (app.app.capture?.stats().routes.plain?.written ?? 0) >= 1, 5000));
  await app.stop();

  const files = readdirSync(dir);
  assert.ok(files.length >= 1 && files.every((f) => /^capture-\d{8}T\d{6}Z-\d{6}\.ndjson$/.test(f)), files.join(','));
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of files) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);

  const { entries, stats } = await readAll(dir);
  assert.equal(stats.torn, false);
  assert.equal(stats.skipped, 0);
  assert.equal(entries.length, 21);
  const api = entries.filter((e) => e._tapwire?.route === 'api');
  assert.equal(api.length, 20);
  // every request captured once, in order, with method, URL and body
  api.forEach((e, i) => {
    const s = sent[i]!;
    assert.equal(e.request.method, s.method);
    const url = new URL(e.request.url);
    assert.equal(url.pathname, `/api/items/${i}`);
    assert.equal(url.searchParams.get('page'), String(i));
    assert.match(url.searchParams.get('sig')!, /^hmac:[0-9a-f]{16}$/);
    assert.equal(e.response.status, 200);
    assert.equal(JSON.parse(e.response.content.text!).path, `/api/items/${i}`);
    assert.match(JSON.parse(e.response.content.text!).token, /^hmac:/);
    assert.equal(e._tapwire?.primary, 'v1');
    assert.equal(e._tapwire?.mirrors.length, 1);
    const m = e._tapwire.mirrors[0]!;
    assert.equal(m.upstream, 'v2');
    assert.equal(m.outcome, 'delivered');
    assert.equal(m.response?.status, 201);
    assert.equal(m.response?.content.text, 'mirror says hi');
    assert.match(header(e.request.headers, 'authorization')!, /^hmac:[0-9a-f]{16}$/);
    assert.match(header(e.request.headers, 'x-custom-secret')!, /^hmac:/);
    assert.match(header(e.request.headers, 'cookie')!, /^sid=hmac:[0-9a-f]{16}; theme=hmac:[0-9a-f]{16}$/);
    assert.match(header(e.response.headers, 'set-cookie')!, /^sid=hmac:[0-9a-f]{16}; Path=\/; HttpOnly$/);
    if (s.body) {
      const doc = JSON.parse(e.request.postData!.text);
      assert.equal(doc.name, `n${i}`);
      assert.match(doc.password, /^hmac:/);
      assert.match(doc.card.number, /^hmac:/);
      assert.equal(e.request.bodySize, Buffer.byteLength(s.body));
    } else assert.equal(e.request.postData, undefined);
  });
  // equal secrets hash equally (correlatable), different ones differently
  const auth = new Set(api.map((e) => header(e.request.headers, 'authorization')));
  assert.equal(auth.size, 1);
  const sigs = new Set(api.map((e) => new URL(e.request.url).searchParams.get('sig')));
  assert.equal(sigs.size, 2);
  // the body cap of the route
  const plain = entries.find((e) => e._tapwire?.route === 'plain')!;
  assert.equal(plain.request.postData?.text, 'x'.repeat(16));
  assert.equal(plain.request.postData?._truncated, true);
  assert.equal(plain.request.bodySize, 100);
  assert.deepEqual(plain._tapwire?.mirrors, []);
  // nothing secret in clear anywhere in the files
  const text = files.map((f) => readFileSync(join(dir, f), 'utf8')).join('');
  for (const secret of ['very-secret-token', 'cookie-secret', 'hunter2', '4111111111111111', 's3cr3t-session', 'tok-from-primary', 'abc0', 'abc1', 'xyz"']) {
    assert.ok(!text.includes(secret), `${secret} reached the capture file`);
  }
});

test('a gzip-compressed JSON answer is decoded and redacted, not written in base64', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1', {
    kind: 'normal',
    headers: ['content-type', 'application/json', 'content-encoding', 'gzip'],
    body: gzipSync(JSON.stringify({ user: 'ann', password: 'pw-in-gzip' })),
  });
  const dir = join(h.tempDir(), 'gz');
  const app = await h.tapwire(`${LISTEN}
upstreams: { v1: { url: ${v1.url} } }
capture: { file: ${dir}/, gzip: true, flushInterval: 50ms, redact: { key: "0123456789abcdef-test-key" } }
routes: [{ name: r, primary: v1, capture: {} }]
`, { admin: false });
  for (let i = 0; i < 5; i++) assert.equal((await app.send({ path: `/u/${i}` })).status, 200);
  assert.ok(await waitFor(() => (app.app.capture?.stats().routes.r?.written ?? 0) >= 5, 5000));
  await app.stop();
  const files = readdirSync(dir);
  assert.ok(files.every((f) => f.endsWith('.ndjson.gz')));
  const { entries, stats } = await readAll(dir);
  assert.equal(entries.length, 5);
  assert.equal(stats.torn, false);
  const doc = JSON.parse(entries[0]!.response.content.text!);
  assert.equal(doc.user, 'ann');
  assert.match(doc.password, /^hmac:/);
});

test('sampling: a percentage of requests is captured, the rest counted as sampled_out; sticky keys decide the same way every time', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1');
  const dir = join(h.tempDir(), 's');
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const app = await h.tapwire(
    `${LISTEN}
upstreams: { v1: { url: ${v1.url} } }
capture: { file: ${dir}/cap, flushInterval: 50ms, redact: { key: "0123456789abcdef-test-key" } }
routes:
  - { name: rand, match: { path: { prefix: /r } }, primary: v1, capture: { percentage: 25 } }
  - { name: sticky, primary: v1, capture: { percentage: 50, sampleBy: "header:x-user" } }
`,
    { random },
  );
  const N = 400;
  for (let i = 0; i < N; i++) await app.send({ path: `/r/${i}` });
  for (let round = 0; round < 3; round++) for (let u = 0; u < 40; u++) await app.send({ path: `/s/${u}`, headers: ['x-user', `user-${u}`] });
  const stats = (): Record<string, Record<string, number>> => app.app.capture!.stats().routes;
  assert.ok(await waitFor(() => {
    const s = stats();
    return (s.rand?.written ?? 0) + (s.rand?.sampled_out ?? 0) === N && (s.sticky?.written ?? 0) + (s.sticky?.sampled_out ?? 0) === 120;
  }, 5000));
  const s = stats();
  // 25% of 400: binomial sd ~8.7; ±40 is beyond 4.5 sd
  assert.ok(Math.abs(s.rand!.written! - 100) <= 40, `rand captured ${s.rand!.written}`);
  const metrics = (await app.admin('/metrics')).body.toString();
  assert.match(metrics, new RegExp(`tapwire_capture_entries_total\\{route="rand",result="written"\\} ${s.rand!.written}`));
  assert.match(metrics, new RegExp(`tapwire_capture_entries_total\\{route="rand",result="sampled_out"\\} ${s.rand!.sampled_out}`));
  assert.match(metrics, /tapwire_capture_files_total 1/);
  await app.stop();
  // the file prefix: <dir>/cap-TIME-SEQ.ndjson, read back by prefix
  assert.ok(readdirSync(dir).every((f) => f.startsWith('cap-')));
  const { entries } = await readAll(join(dir, 'cap'));
  const users = entries.filter((e) => e._tapwire?.route === 'sticky').map((e) => header(e.request.headers, 'x-user')!);
  const byUser = new Map<string, number>();
  for (const u of users) byUser.set(u, (byUser.get(u) ?? 0) + 1);
  // sticky: a user is captured in all three rounds or in none
  for (const [u, n] of byUser) assert.equal(n, 3, `${u} captured ${n} times of 3`);
  assert.ok(byUser.size > 5 && byUser.size < 35, `${byUser.size} of 40 users captured`);
});
