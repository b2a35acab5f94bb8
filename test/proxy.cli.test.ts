// `tapwire run` as a real process: SIGTERM drains (readiness 503, the request in flight completes, a copy
// still in flight at the deadline counts as shutdown, exit 0); SIGHUP and a changed file reload a valid
// config and refuse an invalid one while the old one keeps serving.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';
import { harness, request, waitFor, writeConfig, type CliProcess, type Upstream } from './helpers/harness.ts';

function config(primary: Upstream, mirror?: Upstream, extra = ''): string {
  return `listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
log:
  level: info
shutdown:
  drainTimeout: 1s
upstreams:
  primary: { url: ${primary.url} }
${mirror ? `  mirror: { url: ${mirror.url} }\n` : ''}routes:
  - name: main
    primary: primary
${mirror ? '    mirrors: [{ upstream: mirror, timeout: 30s }]\n' : ''}${extra}`;
}

interface StatsBody {
  routes: { route: string; mirrors: { mirror: string; inFlight: number; outcomes: Record<string, number> }[] }[];
  reloads: { ok: number; error: number };
}

async function stats(p: CliProcess): Promise<StatsBody> {
  const r = await request(p.adminPort, { path: '/api/v1/stats' });
  assert.equal(r.status, 200);
  return JSON.parse(r.body.toString()) as StatsBody;
}

/** An admin request whose headers are not finished yet: the admin server counts it as active, not idle. */
function pendingAdminRequest(port: number, path: string): { finish(): Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  return {
    async finish() {
      socket.write('Connection: close\r\n\r\n');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
      socket.destroy();
      return text;
    },
  };
}

describe('SIGTERM', () => {
  test('drains: readiness turns 503, the slow request in flight completes with 200, the stuck copy counts as shutdown, exit 0', async (t) => {
    const h = harness(t);
    const primary = await h.upstream('primary', { kind: 'slow', ms: 500 });
    const never = await h.upstream('never', { kind: 'never' });
    const file = writeConfig(h.tempDir(), 'tapwire.yaml', config(primary, never));
    const p = await h.cli(file);
    assert.equal((await request(p.adminPort, { path: '/readyz' })).status, 200);

    const reply = request(p.port, { path: '/slow' });
    assert.ok(await waitFor(() => primary.requests.length === 1 && never.requests.length === 1, 5000), 'request or copy did not arrive');
    // Opened before SIGTERM, finished after the drain deadline: how the final counts are read before the exit.
    const final = pendingAdminRequest(p.adminPort, '/api/v1/stats');
    await new Promise((r) => setTimeout(r, 50));
    p.child.kill('SIGTERM');

    assert.ok(
      await waitFor(async () => (await request(p.adminPort, { path: '/readyz' }).catch(() => undefined))?.status === 503, 2000, 20),
      'readiness did not turn 503 while draining',
    );
    const r = await reply;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow hello from primary');
    assert.equal(r.headers.connection, 'close');

    // At the drain deadline the copy is aborted (the mirror sees its request closed) and counted.
    assert.ok(await waitFor(() => never.requests[0]!.closedEarly, 5000), 'the copy was not aborted at the drain deadline');
    const text = await final.finish();
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as StatsBody;
    const mirror = body.routes[0]!.mirrors[0]!;
    assert.equal(mirror.outcomes.shutdown, 1, text);
    assert.equal(mirror.inFlight, 0);

    assert.equal(await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]), 0, p.stderr());
    assert.ok(p.logs().some((l) => l.msg === 'draining'), 'no "draining" log line');
    assert.ok(p.logs().some((l) => l.msg === 'tapwire stopped'), 'no "tapwire stopped" log line');
  });
});

test(
  'an idle tapwire exits promptly on SIGTERM instead of waiting out its drain timeout',
  async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const file = writeConfig(h.tempDir(), 'tapwire.yaml', config(v1).replace('drainTimeout: 1s', 'drainTimeout: 6s'));
    const p = await h.cli(file);
    assert.equal((await request(p.port, { path: '/' })).status, 200);
    const started = performance.now();
    p.child.kill('SIGTERM');
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('still running'), 4000))]);
    assert.equal(code, 0);
    const took = performance.now() - started;
    assert.ok(took < 3000, `exit took ${took.toFixed(0)} ms with nothing in flight`);
  },
);

describe('reload through the CLI', () => {
  test('SIGHUP applies a valid edit, refuses an invalid one and keeps serving the last good config', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const file = writeConfig(h.tempDir(), 'tapwire.yaml', config(v1));
    const p = await h.cli(file, ['--no-watch']);
    assert.equal((await request(p.port, { path: '/' })).body.toString(), 'hello from v1');

    writeFileSync(file, config(v2));
    p.child.kill('SIGHUP');
    assert.ok(
      await waitFor(async () => (await request(p.port, { path: '/' })).body.toString() === 'hello from v2', 5000, 50),
      'the valid edit did not take effect',
    );
    assert.equal((await stats(p)).reloads.ok, 1);

    writeFileSync(file, config(v1).replace('primary: primary', 'primary: nowhere'));
    p.child.kill('SIGHUP');
    assert.ok(await waitFor(async () => (await stats(p)).reloads.error === 1, 5000, 50), 'the invalid edit was not counted as refused');
    assert.ok(p.logs().some((l) => l.msg === 'configuration reload refused; the old configuration keeps serving'));
    for (let i = 0; i < 5; i++) assert.equal((await request(p.port, { path: `/still/${i}` })).body.toString(), 'hello from v2');
    assert.equal(p.child.exitCode, null);
  });

  test('a changed config file is reloaded without a signal, and an invalid edit is refused', async (t) => {
    const h = harness(t);
    const v1 = await h.upstream('v1');
    const v2 = await h.upstream('v2');
    const file = writeConfig(h.tempDir(), 'tapwire.yaml', config(v1));
    const p = await h.cli(file);
    assert.equal((await request(p.port, { path: '/' })).body.toString(), 'hello from v1');

    writeFileSync(file, config(v2, undefined, '    timeout: 5s\n'));
    assert.ok(
      await waitFor(async () => (await request(p.port, { path: '/' })).body.toString() === 'hello from v2', 6000, 100),
      'the edited file did not take effect',
    );

    writeFileSync(file, `${config(v1)}  - name: broken\n    primary: primary\n    mirrors: [{ upstream: primary, percentage: 150 }]\n`);
    assert.ok(await waitFor(async () => (await stats(p)).reloads.error >= 1, 6000, 100), 'the invalid edit was not refused');
    assert.equal((await request(p.port, { path: '/' })).body.toString(), 'hello from v2');
  });
});
