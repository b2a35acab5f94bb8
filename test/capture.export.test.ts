// tapwire export --har: a capture (with a torn last line, across rotated files) becomes one valid HAR 1.2 document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportHar, harEntryProblems, toSpecEntry } from '../src/capture/export.ts';
import { exportCommand } from '../src/cli/commands/export.ts';
import { entry, tempDir } from './helpers/replay-fixtures.ts';

const T0 = 1_700_000_000_000;

test('the validator knows HAR 1.2: required fields, types, and _ on custom fields', () => {
  const good = toSpecEntry(entry({ path: '/a', at: T0 }));
  assert.deepEqual(harEntryProblems(good), []);
  const bad = { ...(good as Record<string, unknown>), time: -1, custom: 1, response: { status: 200 } };
  const problems = harEntryProblems(bad);
  assert.ok(problems.includes('time: must be a number >= 0'));
  assert.ok(problems.some((p) => p.startsWith('custom:')));
  assert.ok(problems.some((p) => p.startsWith('response.statusText')));
});

test('export writes one valid HAR 1.2 document, mode 0600, and skips a torn last line', async () => {
  const dir = await tempDir();
  try {
    const post = entry({ method: 'POST', path: '/b', at: T0 + 1, requestBody: '{"x":1}' });
    const binary = { ...post, request: { ...post.request, postData: { mimeType: 'application/octet-stream', text: 'AAEC', encoding: 'base64' as const } } };
    await writeFile(join(dir.dir, 'capture-20260101T000000Z-000001.ndjson'), `${JSON.stringify(entry({ path: '/a', at: T0 }))}\n`);
    await writeFile(join(dir.dir, 'capture-20260101T000001Z-000002.ndjson'), `${JSON.stringify(binary)}\n${JSON.stringify(entry({ path: '/c', at: T0 + 2 })).slice(0, 50)}`);
    const out = join(dir.dir, 'out.har');
    const s = await exportHar(dir.dir, out, { name: 'tapwire', version: '0.0.0-test' });
    assert.equal(s.written, 2);
    assert.equal(s.read.torn, true);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    const doc = JSON.parse(await readFile(out, 'utf8'));
    assert.equal(doc.log.version, '1.2');
    assert.deepEqual(doc.log.creator, { name: 'tapwire', version: '0.0.0-test' });
    assert.equal(doc.log.entries.length, 2);
    for (const e of doc.log.entries) assert.deepEqual(harEntryProblems(e), []);
    assert.equal(doc.log.entries[1].request.postData._encoding, 'base64');
    assert.equal('encoding' in doc.log.entries[1].request.postData, false);
    assert.equal(doc.log.entries[0]._tapwire.route, 'api');
  } finally {
    await dir.remove();
  }
});

test('export of a missing input fails with exit 1 and writes nothing', async () => {
  const dir = await tempDir();
  try {
    let err = '';
    const code = await exportCommand({ input: join(dir.dir, 'nope'), output: join(dir.dir, 'out.har') }, { stderr: (s) => (err += s) });
    assert.equal(code, 1);
    assert.match(err, /no such capture file/);
    await assert.rejects(stat(join(dir.dir, 'out.har')));
  } finally {
    await dir.remove();
  }
});
