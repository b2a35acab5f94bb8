// `tapwire record` as a child process: SIGTERM flushes everything; SIGKILL under load loses nothing that was
// flushed, and the reader tolerates the torn last line it may leave.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, constants as zc } from 'node:zlib';
import { emptyReadStats, readCapture } from '../src/capture/read.ts';
import type { HarEntry } from '../src/capture/har.ts';
import { REPO, harness, request, waitFor, writeConfig } from './helpers/harness.ts';

interface Child {
  readonly child: ChildProcess;
  readonly port: number;
  stderr(): string;
  readonly exited: Promise<number | string>;
}

async function startRecord(args: readonly string[]): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'record', ...args], { cwd: REPO, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout.resume();
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)));
  const ok = await waitFor(() => /proxy on [^\s,]+:\d+/.test(err) || child.exitCode !== null, 20_000, 50);
  const m = /proxy on [^\s,]+:(\d+)/.exec(err);
  if (!ok || !m) {
    child.kill('SIGKILL');
    throw new Error(`record did not start: ${err}`);
  }
  return { child, port: Number(m[1]), stderr: () => err, exited };
}

async function readAll(path: string) {
  const stats = emptyReadStats();
  const entries: HarEntry[] = [];
  for await (const e of readCapture(path, stats)) entries.push(e);
  return { entries, stats };
}

test('tapwire record --primary --output: SIGTERM writes every request and exits 0', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1', { kind: 'normal', body: 'hello' });
  const dir = join(h.tempDir(), 'rec');
  const rec = await startRecord(['--primary', v1.url, '--listen', '127.0.0.1:0', '--output', dir]);
  t.after(() => void rec.child.kill('SIGKILL'));
  assert.match(rec.stderr(), /recording to .*rec\//);
  for (let i = 0; i < 30; i++) assert.equal((await request(rec.port, { path: `/r/${i}` })).status, 200);
  rec.child.kill('SIGTERM');
  assert.equal(await rec.exited, 0);
  const { entries, stats } = await readAll(dir);
  assert.deepEqual(entries.map((e) => new URL(e.request.url).pathname), Array.from({ length: 30 }, (_, i) => `/r/${i}`));
  assert.equal(entries[0]!.response.content.text, 'hello');
  assert.equal(stats.torn, false);
  assert.match(rec.stderr(), /recorded 30 requests in 1 file\(s\).*dropped 0 \(queue full\), 0 \(write errors\)/);
});

test('tapwire record -c FILE: the routes record, their mirrors are not sent', async (t) => {
  const h = harness(t);
  const v1 = await h.upstream('v1');
  const v2 = await h.upstream('v2');
  const dir = h.tempDir();
  const file = writeConfig(dir, 'rec.yaml', `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { level: silent }
upstreams: { v1: { url: ${v1.url} }, v2: { url: ${v2.url} } }
capture: { redact: { key: "0123456789abcdef-test-key" } }
routes: [{ name: r, primary: v1, mirrors: [{ upstream: v2 }] }]
`);
  // without --output the config must name capture.file
  const bad = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'record', '-c', file], { cwd: REPO, env: { ...process.env, NODE_OPTIONS: '' } });
  let badErr = '';
  bad.stderr.on('data', (c: Buffer) => (badErr += c.toString()));
  assert.equal(await new Promise((r) => bad.once('exit', r)), 2);
  assert.match(badErr, /no capture\.file: give --output DIR/);
  const out = join(dir, 'out');
  const rec = await startRecord(['-c', file, '--output', out, '--gzip']);
  t.after(() => void rec.child.kill('SIGKILL'));
  for (let i = 0; i < 5; i++) await request(rec.port, { path: `/x/${i}` });
  rec.child.kill('SIGINT');
  assert.equal(await rec.exited, 0);
  assert.equal(v2.requests.length, 0);
  assert.ok(readdirSync(out).every((f) => f.endsWith('.ndjson.gz')));
  assert.equal((await readAll(out)).entries.length, 5);
});

for (const gzip of [false, true]) {
  test(`kill -9 under load (${gzip ? 'gzip' : 'plain'}): every line flushed before the kill is read back; a torn last line is tolerated`, async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1', { kind: 'normal', body: JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}` })) }) });
    const dir = join(h.tempDir(), 'k');
    const rec = await startRecord(['--primary', v1.url, '--listen', '127.0.0.1:0', '--output', dir, ...(gzip ? ['--gzip'] : [])]);
    t.after(() => void rec.child.kill('SIGKILL'));
    let stop = false;
    let sent = 0;
    const agentless = async (): Promise<void> => {
      while (!stop) {
        try {
          await request(rec.port, { method: 'POST', path: `/load/${sent++}`, body: JSON.stringify({ n: sent, pad: 'p'.repeat(300) }), headers: ['Content-Type', 'application/json'] });
        } catch {
          return; // the kill
        }
      }
    };
    const clients = Array.from({ length: 8 }, agentless);
    // load for a while; flushInterval is 1 s, so at least one flush happens under load
    await new Promise((r) => setTimeout(r, 1800));
    // what is in the files now was flushed: it must all survive the kill
    const before = readdirSync(dir).map((f) => {
      const raw = readFileSync(join(dir, f));
      const text = gzip ? gunzipSync(raw, { finishFlush: zc.Z_SYNC_FLUSH }).toString('utf8') : raw.toString('utf8');
      return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).length;
    });
    const flushed = before.reduce((a, b) => a + b, 0);
    rec.child.kill('SIGKILL');
    stop = true;
    await rec.exited;
    await Promise.all(clients);
    assert.ok(flushed > 0, 'nothing was flushed within 1.8 s of load');
    const { entries, stats } = await readAll(dir);
    assert.ok(entries.length >= flushed, `read ${entries.length} entries, ${flushed} were flushed before the kill`);
    assert.ok(entries.length <= sent);
    assert.equal(stats.skipped, 0);
    assert.equal(stats.lines - (stats.torn ? 1 : 0), entries.length);
    // each entry is whole: its request and the primary's answer
    for (const e of entries) {
      assert.equal(e.request.method, 'POST');
      assert.equal(JSON.parse(e.response.content.text!).items.length, 20);
    }
  });
}
