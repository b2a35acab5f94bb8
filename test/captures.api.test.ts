// The captures API behind the dashboard's Captures page: GET /api/v1/captures lists what tapwire wrote under
// capture.file (with the writer's counters) and the replay reports `tapwire replay --report` left beside it;
// GET /api/v1/captures/<name> previews one listed file, and nothing else (no path outside the directory).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { listCaptures, previewCapture, MAX_PREVIEW_ENTRIES } from '../src/capture/catalog.ts';
import type { ReplayFlags } from '../src/cli/commands/replay.ts';
import { LISTEN, harness, waitFor } from './helpers/harness.ts';
import { entry, runReplay, target, tempDir } from './helpers/replay-fixtures.ts';

interface Listing {
  configured: boolean;
  path: string;
  routes: Array<{ route: string; percentage: number }>;
  writer?: { routes: Record<string, { written: number }> };
  files: Array<{ name: string; bytes: number; writing: boolean }>;
  totalFiles: number;
  replays: Array<{ name: string; report?: { kind: string; target: string; headers: string[]; summary: { sent: number }; verdict?: { verdict: string } }; problem?: string }>;
}

/** `tapwire replay` with the flags a plain replay takes, these overriding them. */
const replayWith = (f: Partial<ReplayFlags> & Pick<ReplayFlags, 'input' | 'target'>) =>
  runReplay({ concurrency: '4', loop: false, filter: [], header: [], timeout: '5s', maxBody: '1MiB', compare: false, ignore: [], allowInsufficient: true, format: 'json', progress: false, ...f });

test('lists the capture files with the writer counters, previews a listed file, and lists a replay report written beside it', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1', { kind: 'normal', status: 200, body: '{"ok":true}' });
  const dir = join(h.tempDir(), 'caps');
  const app = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
capture:
  file: ${dir}/
  flushInterval: 50ms
  redact: { key: "0123456789abcdef-test-key" }
routes:
  - name: api
    primary: v1
    capture: { percentage: 100 }
`);
  for (let i = 0; i < 12; i++) assert.equal((await app.send({ path: `/api/items/${i}?token=t${i}` })).status, 200);
  assert.ok(await waitFor(() => (app.app.capture?.stats().routes.api?.written ?? 0) >= 12, 5000));
  await app.app.capture?.flush();

  const listing = JSON.parse((await app.admin('/api/v1/captures')).body.toString()) as Listing;
  assert.equal(listing.configured, true);
  assert.deepEqual(listing.routes.map((r) => [r.route, r.percentage]), [['api', 100]]);
  assert.equal(listing.writer?.routes.api?.written, 12);
  assert.equal(listing.totalFiles, 1);
  assert.equal(listing.files[0]!.writing, true);
  assert.equal(listing.files[0]!.bytes, statSync(join(dir, listing.files[0]!.name)).size);
  assert.deepEqual(listing.replays, []);

  const name = listing.files[0]!.name;
  const preview = JSON.parse((await app.admin(`/api/v1/captures/${name}?limit=5`)).body.toString()) as { entries: Array<{ method: string; url: string; status: number }>; more: boolean };
  assert.equal(preview.entries.length, 5);
  assert.equal(preview.more, true);
  assert.deepEqual(preview.entries.map((e) => [e.method, e.status]), Array.from({ length: 5 }, () => ['GET', 200]));
  assert.ok(preview.entries.every((e) => /\/api\/items\/\d+\?token=/.test(e.url)));

  // only names from the listing: no traversal, no other file of the directory, a clear 404
  writeFileSync(join(dir, 'notes.txt'), 'not a capture');
  for (const bad of ['..%2F..%2Fetc%2Fpasswd', '../x.ndjson', 'notes.txt', 'capture-nope.ndjson', `${name}x`]) {
    const r = await app.admin(`/api/v1/captures/${bad}`);
    assert.equal(r.status, 404, bad);
    assert.equal((JSON.parse(r.body.toString()) as { error: { code: string } }).error.code, 'TW_ERR_ADMIN_BAD_REQUEST');
  }
  assert.equal((await app.admin(`/api/v1/captures/${name}?limit=x`)).status, 400);

  // a replay of that capture, its report written into the capture directory, shows up in the listing
  const tgt = await target();
  t.after(() => tgt.close());
  const r = await replayWith({ input: dir, target: tgt.url, header: ['Authorization: Bearer test-credential'], report: `${dir}/` });
  assert.equal(r.code, 0, r.stderr);
  const again = JSON.parse((await app.admin('/api/v1/captures')).body.toString()) as Listing;
  assert.equal(again.replays.length, 1);
  const rep = again.replays[0]!;
  assert.match(rep.name, /^replay-\d{8}T\d{6}Z-caps\.replay\.json$/);
  assert.equal(rep.report?.kind, 'tapwire-replay-report');
  assert.equal(rep.report?.summary.sent, 12);
  assert.equal(rep.report?.target, tgt.url);
  assert.deepEqual(rep.report?.headers, ['Authorization'], 'the replaced header is named');
  const raw = readFileSync(join(dir, rep.name), 'utf8');
  assert.ok(!raw.includes('test-credential'), 'a --header value never reaches the report');
  assert.equal(statSync(join(dir, rep.name)).mode & 0o777, 0o600);
  // the report is not a capture file: replaying the directory again does not read it
  assert.equal(again.totalFiles, 1);
});

test('capture.file unset: the API says capture is off, and previews nothing', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1', { kind: 'normal', status: 200, body: 'x' });
  const app = await h.tapwire(`${LISTEN}
upstreams:
  v1: { url: ${v1.url} }
routes:
  - name: api
    primary: v1
`);
  const listing = JSON.parse((await app.admin('/api/v1/captures')).body.toString()) as Listing;
  assert.equal(listing.configured, false);
  assert.deepEqual(listing.files, []);
  assert.equal((await app.admin('/api/v1/captures/capture-20260101T000000Z-000001.ndjson')).status, 404);
});

test('the catalog: a prefix setting lists only its own files, newest first; a report that is not ours is listed with a problem; a preview is bounded', async () => {
  const d = await tempDir();
  try {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => entry({ path: `/p/${i}`, at: 1_700_000_000_000 + i }));
    await d.write('shop-20261101T000000Z-000001.ndjson', lines(3));
    await d.write('shop-20261102T000000Z-000002.ndjson', lines(MAX_PREVIEW_ENTRIES + 10));
    await d.write('other-20261103T000000Z-000001.ndjson', lines(1));
    writeFileSync(join(d.dir, 'x.replay.json'), '{"kind":"something else"}');
    mkdirSync(join(d.dir, 'sub.ndjson'));
    const l = await listCaptures(join(d.dir, 'shop'));
    assert.deepEqual(l.files.map((f) => f.name), ['shop-20261102T000000Z-000002.ndjson', 'shop-20261101T000000Z-000001.ndjson']);
    assert.equal(l.prefix, 'shop');
    assert.deepEqual(l.replays.map((r) => [r.name, r.problem]), [['x.replay.json', 'not a tapwire replay report']]);
    assert.equal(await previewCapture(join(d.dir, 'shop'), 'other-20261103T000000Z-000001.ndjson'), undefined, "another prefix's file");
    const p = await previewCapture(join(d.dir, 'shop'), 'shop-20261102T000000Z-000002.ndjson', 10_000);
    assert.equal(p?.entries.length, MAX_PREVIEW_ENTRIES);
    assert.equal(p?.more, true);
    const missing = await listCaptures(join(d.dir, 'nope', 'deeper/'));
    assert.equal(missing.files.length, 0);
    assert.match(missing.problem ?? '', /cannot list/);
  } finally {
    await d.remove();
  }
});
