// Hostile input on the wire (reliability-anchors §2, tests B1-B9): generated variants per class, sent over raw
// sockets to a tapwire in front of a recording primary and a recording sandboxed mirror that takes every method.
// Refused: the right 4xx, Connection: close, a closed connection, and nothing of the request at either upstream,
// parsed or as raw bytes. Accepted: both upstreams got the same request, whole, framed canonically.
// Prints a per-class table; HARDENING_REPORT=FILE also writes it as JSON.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test, type TestContext } from 'node:test';
import { configFrom, LISTEN, request, waitFor } from './helpers/harness.ts';
import * as gen from './hardening/cases.ts';
import type { Case } from './hardening/model.ts';
import { startRecorder } from './hardening/recorder.ts';
import { startRig, type Rig, type RigOptions } from './hardening/rig.ts';
import { runClass, table, type ClassReport } from './hardening/run.ts';
import { exchange, type Step } from './hardening/wire.ts';

const reports: ClassReport[] = [];

after(() => {
  if (reports.length === 0) return;
  console.log(`\nhardening: bad-input classes (reliability-anchors §2)\n${table(reports)}\n`);
  if (process.env.HARDENING_REPORT) writeFileSync(process.env.HARDENING_REPORT, JSON.stringify(reports, null, 2));
});

async function rig(t: TestContext, o: RigOptions = {}): Promise<Rig> {
  const r = await startRig(o);
  t.after(() => r.close());
  return r;
}

/** Runs one class on a rig of its own and fails with the first problems found, one line each. */
async function check(t: TestContext, cases: readonly Case[], o: RigOptions = {}, minimum = 1): Promise<ClassReport> {
  assert.ok(cases.length >= minimum, `only ${cases.length} cases generated`);
  const r = await rig(t, o);
  const report = await runClass(r, cases[0]!.cls, cases);
  reports.push(report);
  t.diagnostic(`${report.cls}: ${report.tried} tried, ${report.rejected} rejected, ${report.accepted} accepted, ${report.forwardedWhenRejected} forwarded when rejected`);
  assert.equal(report.failures.length, 0, `${report.failures.length} problem(s):\n${report.failures.slice(0, Number(process.env.HARDENING_SHOW ?? 25)).join('\n')}`);
  assert.equal(report.forwardedWhenRejected, 0, 'a refused request reached an upstream');
  return report;
}

describe('request smuggling', () => {
  test('every CL.TE and TE.CL combination is refused with 400 and nothing of it reaches the primary or the mirror', async (t) => {
    await check(t, gen.clTe(), {}, 200);
  });

  test('Transfer-Encoding counts only when it is exactly chunked; every obfuscation is refused or read as an ordinary header, never desynced', async (t) => {
    await check(t, gen.teTe(), {}, 200);
  });

  test('a Content-Length that is not one plain decimal is refused, and a valid one frames exactly its bytes', async (t) => {
    await check(t, gen.contentLength(), {}, 60);
  });

  test('chunk sizes and extensions are parsed strictly: malformed ones are refused before or during the body, never forwarded whole', async (t) => {
    await check(t, gen.chunks(), {}, 60);
  });

  test('obs-fold is refused wherever it appears', async (t) => {
    await check(t, gen.obsFold(), {}, 40);
  });

  test('a bare CR or bare LF anywhere in the head is refused', async (t) => {
    await check(t, gen.lineEndings(), {}, 50);
  });

  test('header names with bytes outside tchar are refused, and underscore names that collide with a dash name are refused', async (t) => {
    await check(t, gen.headerNames(), {}, 150);
  });
});

describe('limits', () => {
  test('oversize request lines, header blocks, header counts and bodies get 414, 431 and 413', async (t) => {
    await check(t, gen.oversize(), {}, 20);
  });

  test('slowloris heads and slow bodies are cut at the limits with 408', async (t) => {
    await check(t, gen.slow(), {}, 8);
  });

  test('while slow clients dribble, other clients are served at once', async (t) => {
    const r = await rig(t);
    const slow: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const steps: Step[] = [];
      for (const ch of `GET /t/slow${i} HTTP/1.1\r\nHost: a.example\r\n`) steps.push(Buffer.from(ch), { pauseMs: 200 });
      slow.push(exchange(r.tw.port, steps, { timeoutMs: 6000 }));
    }
    await new Promise((res) => setTimeout(res, 300));
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await request(r.tw.port, { path: `/t/fast${i}` });
      assert.equal(reply.status, 200);
      times.push(reply.ms);
    }
    const outcomes = (await Promise.all(slow)) as { responses: { status: number }[]; closedAtMs?: number }[];
    times.sort((a, b) => a - b);
    t.diagnostic(`fast requests during the slowloris: p50 ${times[10]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
    assert.ok(times.at(-1)! < 500, `a fast request took ${times.at(-1)!.toFixed(0)} ms`);
    for (const o of outcomes) {
      assert.equal(o.responses[0]?.status, 408);
      assert.ok(o.closedAtMs !== undefined && o.closedAtMs < 3500, `a slow socket lived ${o.closedAtMs} ms`);
    }
    assert.equal(r.primary.bytes() > 0, true);
    assert.equal(r.primary.requests.filter((s) => s.url.includes('slow')).length, 0, 'a slowloris request reached the primary');
  });
});

describe('targets and hosts', () => {
  test('absolute-form never picks a destination and CONNECT gets 405 without a tunnel', async (t) => {
    const bystander = await startRecorder('bystander');
    t.after(() => bystander.close());
    await check(t, gen.targets(bystander.port), {}, 40);
    assert.equal(bystander.connections(), 0, 'a request target made tapwire connect to the host it named');
  });

  test('Host is validated, unique, matched anchored, and HTTP/1.0 without Host goes to a route without a host condition', async (t) => {
    await check(t, gen.hosts(), {}, 35);
  });

  test('HTTP/1.0 without Host is refused with 400 when every route has a host condition', async (t) => {
    await check(t, gen.hostless(), { noCatchAll: true }, 3);
  });

  test('a target whose meaning a normalising upstream would change is refused; every other target is routed and forwarded byte for byte', async (t) => {
    await check(t, gen.paths(), {}, 80);
  });

  test('request lines with another HTTP version, an unknown method or bad separators are refused', async (t) => {
    await check(t, gen.requestLines(), {}, 40);
  });
});

describe('headers on the way', () => {
  test('Connection options strip the headers they name, never Host, framing or the headers tapwire sets', async (t) => {
    await check(t, gen.hopByHop(), {}, 60);
  });

  test('CR and LF never reach an upstream: encoded ones stay encoded, raw ones are refused, look-alike bytes pass unchanged', async (t) => {
    await check(t, gen.injection(), {}, 15);
  });

  test('config values carrying CR, LF or NUL are refused at load, so none can reach an upstream at run time', () => {
    const base = `${LISTEN}upstreams:\n  p: { url: "http://127.0.0.1:1" }\n  m: { url: "http://127.0.0.1:2" }\nroutes:\n  - name: r\n    primary: p\n`;
    for (const value of ['"a\\r\\nX-Injected: 1"', '"a\\nb"', '"a\\u0000b"', '"a\\rb"']) {
      assert.throws(() => configFrom(`${base}    mirrors: [{ upstream: m, headers: { set: { x-a: ${value} } } }]\n`), /CR, LF or NUL/, `mirror header value ${value} was accepted`);
    }
    for (const name of ['"x-a\\r\\nx-b"', '"x a"', '"x:a"']) {
      assert.throws(() => configFrom(`${base}    mirrors: [{ upstream: m, headers: { set: { ${name}: v } } }]\n`), /header name/, `mirror header name ${name} was accepted`);
    }
    assert.throws(() => configFrom(`${base}    mirrors: [{ upstream: m, host: "literal:a\\r\\nb" }]\n`), /not a valid host/);
  });

  test('obs-text and invalid UTF-8 in header values and bodies pass byte for byte; raw in the target they are refused', async (t) => {
    await check(t, gen.obsText(), {}, 150);
  });

  test('Expect: 100-continue is honoured and never forwarded; any other expectation gets 417', async (t) => {
    await check(t, gen.expectHeader(), {}, 12);
  });
});

describe('connections', () => {
  test('pipelined requests are answered in order, and a malformed one is answered 400 after those before it, then the connection closes', async (t) => {
    await check(t, gen.pipelining(), {}, 40);
  });

  test('a client that leaves while a pipelined request is half-sent strands no mirror copy and no primary request', async (t) => {
    const r = await rig(t);
    const socket = net.connect(r.tw.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((res) => socket.once('connect', res));
    // The first answer takes 5 s, so the second request's answer is queued behind it (no socket of its own) when the
    // client leaves: only the request itself can tell that its body will never come whole.
    socket.write('GET /t/first HTTP/1.1\r\nHost: a.example\r\nX-Hold: 5000\r\n\r\nPOST /t/second HTTP/1.1\r\nHost: a.example\r\nContent-Length: 10\r\n\r\nhello');
    await sleep(200);
    socket.destroy();
    assert.ok(await waitFor(() => r.tw.app.mirroring.inFlight === 0, 1500), `${r.tw.app.mirroring.inFlight} copies still in flight 1.5 s after the client left`);
    assert.deepEqual(r.tw.app.stats.reconcile({ expectIdle: true }), []);
    assert.equal(r.mirror.requests.filter((s) => s.url === '/t/second').length, 0, 'the mirror got a request whose body never came whole');
    assert.ok(r.primary.requests.filter((s) => s.url === '/t/second').every((s) => !s.complete), 'the primary got the half-sent request whole');
  });

  test('Upgrade and h2c are stripped: the request is served plainly, never tunnelled, and its connection closes after the answer', async (t) => {
    await check(t, gen.upgrades(), {}, 18);
  });
});
