// `tapwire demo` as a user runs it (a subprocess): its JSON summary must show the mirror's troubles and a
// client that never noticed them, with books that balance. Numbers are recomputed here, not taken from its checks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { PhaseReport } from '../src/demo/ledger.ts';
import { stallSlack, type DemoSummary as Summary } from '../src/demo/summary.ts';
import type { DemoInsights } from '../src/demo/insights.ts';

type DemoSummary = Summary & { insights: DemoInsights };

const REPO = new URL('../', import.meta.url).pathname;
const OUTCOMES = ['delivered', 'sampled_out', 'method_filtered', 'body_too_large', 'overloaded', 'client_aborted', 'timeout', 'connect_error', 'reset', 'tls_error', 'shutdown'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ReturnType<typeof spawn>>();

/** Runs the CLI; `onStderr` may act on progress lines (send a signal). Killed after `limitMs` so the test is bounded. */
function demo(args: string[], limitMs: number, onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      onStderr?.(stderr, (s) => child.kill(s));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const sum = (o: Partial<Record<string, number>>) => OUTCOMES.reduce((n, k) => n + (o[k] ?? 0), 0);

describe('tapwire demo --duration 6s --json', () => {
  let run: Run;
  let s: DemoSummary;
  const phase = (name: string): PhaseReport => {
    const p = s.phases.find((x) => x.name === name);
    assert.ok(p, `phase ${name} missing from ${JSON.stringify(s.phases.map((x) => x.name))}`);
    return p;
  };

  before(async () => {
    run = await demo(['--duration', '6s', '--json'], 45_000);
    try {
      s = JSON.parse(run.stdout) as DemoSummary;
    } catch {
      assert.fail(`stdout is not JSON (exit ${run.code}, signal ${run.signal}):\n${run.stdout.slice(0, 2000)}\nstderr:\n${run.stderr.slice(-4000)}`);
    }
  });
  after(() => {
    for (const c of running) c.kill('SIGKILL');
  });

  it('exits 0 on its own with every check passing, the human report on stderr', () => {
    assert.equal(run.signal, null, 'the demo had to be killed: something kept the process alive');
    assert.equal(run.code, 0, run.stderr.slice(-4000));
    assert.equal(s.ok, true, JSON.stringify(s.checks, null, 2));
    assert.match(run.stderr, /phase 1\/5 +healthy/);
    assert.match(run.stderr, /phase 5\/5 +recovered/);
    assert.match(run.stderr, /All checks passed/);
  });

  it('ran every phase with traffic, and the clients saw zero errors, every answer from v1', () => {
    assert.deepEqual(s.phases.map((p) => p.name), ['warm-up', 'healthy', 'mirror-slow', 'mirror-resetting', 'mirror-down', 'recovered']);
    for (const p of s.phases) {
      assert.ok(p.client.requests >= 50, `${p.name}: only ${p.client.requests} requests`);
      assert.deepEqual(p.client.errors, {}, `${p.name}: client errors`);
      assert.equal(p.client.notFromPrimary, 0, `${p.name}: answers not from v1`);
    }
    assert.equal(s.total.client.errorCount, 0);
  });

  it('delivers copies while v2 is healthy, and only then', () => {
    assert.ok((phase('healthy').copies.outcomes.delivered ?? 0) > 0, 'nothing delivered in the healthy phase');
    assert.ok((phase('recovered').copies.outcomes.delivered ?? 0) > 0, 'nothing delivered after recovery');
    for (const name of ['mirror-slow', 'mirror-resetting', 'mirror-down']) assert.equal(phase(name).copies.outcomes.delivered ?? 0, 0, name);
  });

  it('counts timeouts while v2 is slow, resets while it drops connections, connect errors while it is down', () => {
    assert.ok((phase('mirror-slow').copies.outcomes.timeout ?? 0) > 0, JSON.stringify(phase('mirror-slow').copies));
    assert.ok((phase('mirror-resetting').copies.outcomes.reset ?? 0) > 0, JSON.stringify(phase('mirror-resetting').copies));
    assert.ok((phase('mirror-down').copies.outcomes.connect_error ?? 0) > 0, JSON.stringify(phase('mirror-down').copies));
  });

  it('reconciles: matched = sum of outcomes + in flight, per phase, in total and live', () => {
    for (const p of s.phases) {
      const c = p.copies;
      assert.ok(c.matched > 0, `${p.name}: no copies matched`);
      assert.equal(c.matched, sum(c.outcomes) + c.inFlightEnd - c.inFlightStart, `${p.name}: ${JSON.stringify(c)}`);
    }
    const t = s.total.copies;
    assert.equal(t.matched, sum(t.outcomes) + t.inFlight, JSON.stringify(t));
    assert.equal(t.matched, s.phases.reduce((n, p) => n + p.copies.matched, 0), 'phases do not add up to the total');
    assert.ok(s.live.checks > 0, 'no live checks ran');
    assert.deepEqual(s.live.problems, []);
  });

  it('delivered equals what v2 itself answered, per phase and in total', () => {
    for (const p of [...s.phases, s.total]) {
      const where = 'name' in p ? p.name : 'total';
      const delivered = p.copies.outcomes.delivered ?? 0;
      const answered = p.upstreams.mirror.answered;
      const timeouts = p.copies.outcomes.timeout ?? 0;
      const detail = `${where}: delivered ${delivered}, v2 answered ${answered}, outcomes ${JSON.stringify(p.copies.outcomes)}, v2 ${JSON.stringify(p.upstreams.mirror)}`;
      // Exact, except that v2 may finish an answer after tapwire's timeout fired (a stalled process runs both
      // timers late, tapwire's first): that copy is a timeout. Never the other way round.
      if (timeouts === 0) assert.equal(delivered, answered, detail);
      else assert.ok(answered >= delivered && answered - delivered <= timeouts, detail);
    }
    assert.equal(s.total.upstreams.mirror.marked, s.total.upstreams.mirror.received, 'v2 got requests without the mirror marker');
  });

  it('keeps the client p99 in the slow phase far below the mirror delay, and below the mirror timeout', () => {
    const slow = phase('mirror-slow');
    const { p50, p99 } = slow.client.latencyMs;
    const primaryP99 = slow.latencyMs.primary.p99;
    const timeout = s.settings.mirrorTimeoutMs;
    assert.ok(p50 !== null && p99 !== null && primaryP99 !== null, 'no latency recorded in the slow phase');
    assert.ok(s.settings.mirrorSlowMs >= 2 * timeout, 'the slow mode is not far beyond the timeout');
    // A client waiting on the copy would wait the whole timeout on top of the primary, on every request.
    const primaryP50 = slow.latencyMs.primary.p50 ?? 0;
    const slack = stallSlack(timeout, slow.eventLoopMaxMs);
    assert.ok(p50 < timeout / 4 || p50 - primaryP50 < slack, `client p50 ${p50} ms, primary p50 ${primaryP50} ms, slack ${slack} ms`);
    // The tail may exceed the bound only when the whole process stalled (the primary's own p99 shows it too).
    const why = `client p99 ${p99} ms, primary p99 ${primaryP99} ms, event loop max ${slow.eventLoopMaxMs} ms, mirror timeout ${timeout} ms, v2 delay ${s.settings.mirrorSlowMs} ms`;
    assert.ok(p99 < timeout || p99 - primaryP99 < slack, why);
    // ...while tapwire itself saw the copies take the whole mirror timeout: the slowness was real.
    const mirrorP50 = slow.latencyMs.mirror.p50;
    assert.ok(mirrorP50 !== null && mirrorP50 >= timeout * 0.9, `mirror p50 ${mirrorP50} ms does not show the timeout`);
  });

  it('shows tapwire_mirror_requests_total from /metrics with the same delivered count', () => {
    const line = s.metrics.lines.find((l) => l.includes('outcome="delivered"') && l.includes('route="api"') && l.includes('mirror="staging"'));
    assert.ok(line, JSON.stringify(s.metrics));
    assert.equal(Number(line.split(' ').pop()), s.total.copies.outcomes.delivered);
  });
});

describe('tapwire demo: compare and analysis see what was planted', () => {
  let s: DemoSummary;
  before(async () => {
    const run = await demo(['--duration', '6s', '--json'], 45_000);
    s = JSON.parse(run.stdout) as DemoSummary;
  });
  const v2 = (name: string) => {
    const e = s.insights.endpoints.find((x) => x.endpoint === name && x.upstream === 'v2');
    assert.ok(e, `${name} missing: ${JSON.stringify(s.insights.endpoints.map((x) => x.endpoint))}`);
    return e;
  };

  it('fails the candidate on the removed field, the type change and the occasional 500', () => {
    assert.equal(s.insights.verdict, 'fail', JSON.stringify(s.insights));
    assert.ok(v2('GET /api/users/{id}').reasons.some((r) => r.includes('$.email')), JSON.stringify(v2('GET /api/users/{id}')));
    assert.ok(v2('GET /api/items').reasons.some((r) => r.includes('$.items[*].price')), JSON.stringify(v2('GET /api/items')));
    assert.ok(v2('GET /api/search').reasons.some((r) => r.includes('error rate')), JSON.stringify(v2('GET /api/search')));
  });

  it('recognises the nondeterministic requestId as noise through the secondary, never as a regression', () => {
    for (const e of s.insights.endpoints.filter((x) => x.upstream === 'v2')) {
      assert.ok(!e.reasons.some((r) => r.includes('$.requestId')), `${e.endpoint}: ${JSON.stringify(e.reasons)}`);
    }
    assert.ok(v2('GET /api/users/{id}').noisyFields.includes('$.requestId'));
  });

  it('finds the attack burst: the path scan and the injections', () => {
    const titles = s.insights.findings.map((f) => `${f.detector}: ${f.title}`);
    assert.ok(titles.some((t) => t.startsWith('scan:') && t.includes('198.51.100.23')), JSON.stringify(titles));
    assert.ok(titles.some((t) => t.startsWith('signature:') && t.includes('SQL injection') && t.includes('198.51.100.77')), JSON.stringify(titles));
  });
});

describe('tapwire demo --duration 0', () => {
  it('runs until SIGINT, then prints the summary, stops everything and exits 0', async () => {
    let sent = false;
    const run = await demo(['--duration', '0', '--json'], 30_000, (text, kill) => {
      // Interrupt in the middle of the slow phase, with copies in flight.
      if (!sent && /phase 2 +mirror-slow/.test(text)) {
        sent = true;
        setTimeout(() => kill('SIGINT'), 500);
      }
    });
    assert.ok(sent, `never reached the slow phase:\n${run.stderr.slice(-2000)}`);
    assert.equal(run.signal, null, 'killed: it did not exit on its own after SIGINT');
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    const s = JSON.parse(run.stdout) as DemoSummary;
    assert.equal(s.interrupted, true);
    assert.deepEqual(s.phases.map((p) => p.name), ['warm-up', 'healthy', 'mirror-slow']);
    assert.equal(s.total.copies.inFlight, 0);
    assert.equal(s.total.copies.matched, sum(s.total.copies.outcomes));
  });
});
