// Runs the demo: v1 (primary), v1b (secondary), v2 (the candidate, with planted regressions) and staging
// (a mirror whose health the phases cycle), tapwire in front with the SQLite store, compare and analysis
// (configured through the same YAML loader users go through), traffic with a short attack burst, the
// dashboard's address, then the summary; with `serve`, the dashboard stays up until the signal.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp, type App } from '../app.ts';
import { formatIssues, loadConfigText } from '../config/load.ts';
import { createLogger } from '../core/log.ts';
import { demoConfigYaml } from './config.ts';
import { Ledger } from './ledger.ts';
import { WARM_UP, WARM_UP_MS, phaseAt, plan, type Phase } from './phases.ts';
import { renderSummary } from './report.ts';
import { summarize, type DemoSummary } from './summary.ts';
import { formatMs } from './table.ts';
import { Traffic, attackCalls } from './traffic.ts';
import { compareSummary, type DemoInsights } from './insights.ts';
import { DemoUpstream } from './upstreams.ts';
import { replayCapture } from './replay.ts';

export interface DemoOptions {
  /** ms of traffic in total; 0 cycles the phases until the signal aborts */
  readonly durationMs: number;
  readonly rate: number;
  readonly concurrency: number;
  /** where the human-readable progress and report go */
  readonly say: (text: string) => void;
  /** aborting (Ctrl-C) ends the current phase early and goes on to the summary */
  readonly signal: AbortSignal;
  /** the admin port (dashboard); 0 picks a free one */
  readonly adminPort?: number;
  /** the admin token; the dashboard then asks for it (never printed) */
  readonly adminToken?: string;
  /** after the summary, keep tapwire and the dashboard up until the signal aborts */
  readonly serve?: boolean;
  /** called with the summary as soon as the traffic has stopped (before serving) */
  readonly onSummary?: (summary: DemoSummary & { insights: DemoInsights }) => void;
}

// The mirror's timeout sits between the healthy mirror's few ms and the slow mode's delay, well clear of
// both so that even a busy machine's scheduling noise cannot turn a timeout into a delivery; maxInFlight is low enough that at the default rate the slow phase also shows it biting.
const MIRROR_TIMEOUT_MS = 200;
const MIRROR_SLOW_MS = 500;
const MAX_IN_FLIGHT = 32;
const ROUTE = 'api';
/** the mirror whose health the phases cycle; v2, the candidate, stays healthy so compare judges its answers */
const MIRROR = 'staging';
/** when the attack burst starts, after the warm-up */
const ATTACK_AFTER_MS = 500;
const LIVE_CHECK_MS = 250;

export async function runDemo(o: DemoOptions): Promise<DemoSummary & { insights: DemoInsights }> {
  const { say } = o;
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-demo-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const v1 = await DemoUpstream.start({ name: 'v1' });
    cleanup.push(() => v1.close());
    const v1b = await DemoUpstream.start({ name: 'v1b' });
    cleanup.push(() => v1b.close());
    // v2, the candidate, carries the planted regressions (upstreams.ts); it stays healthy throughout.
    const v2 = await DemoUpstream.start({ name: 'v2', version: 'v2' });
    cleanup.push(() => v2.close());
    const staging = await DemoUpstream.start({ name: 'staging', slowMs: MIRROR_SLOW_MS });
    cleanup.push(() => staging.close());

    const yaml = demoConfigYaml({
      primaryUrl: v1.url,
      secondaryUrl: v1b.url,
      candidateUrl: v2.url,
      stagingUrl: staging.url,
      mirrorTimeoutMs: MIRROR_TIMEOUT_MS,
      maxInFlight: MAX_IN_FLIGHT,
      storePath: join(dir, 'tapwire.db'),
      captureDir: join(dir, 'captures') + sep,
      adminPort: o.adminPort ?? 0,
      token: o.adminToken !== undefined,
    });
    const loaded = loadConfigText(yaml, { path: 'demo.yaml', env: o.adminToken !== undefined ? { TAPWIRE_ADMIN_TOKEN: o.adminToken } : {} });
    if (!loaded.ok) throw new Error(`the demo's own configuration is invalid:\n${formatIssues(loaded.issues, 'demo.yaml')}`);
    // tapwire's own log lines go to stderr, so that `--json` keeps stdout for the summary alone.
    const app: App = buildApp(loaded.config, { logger: createLogger({ level: 'warn', destination: process.stderr }) });
    const addresses = await app.start();
    // The compare worker thread boots (and, under tsx, compiles) in parallel: a flush answers once it is up,
    // so the warm-up's traffic does not compete with that start on a small machine.
    await app.compare?.flush(15_000);
    cleanup.unshift(() => app.stop());
    const tapwireUrl = `http://${addresses.listen.host}:${addresses.listen.port}`;
    const adminUrl = addresses.admin ? `http://${addresses.admin.host}:${addresses.admin.port}` : null;
    const auth: Record<string, string> = o.adminToken !== undefined ? { authorization: `Bearer ${o.adminToken}` } : {};

    const { phaseMs, count } = plan(o.durationMs);
    say(
      [
        `tapwire demo: ${formatMs(WARM_UP_MS)} warm-up, then ${count === Infinity ? 'phases' : `${count} phases`} of ${formatMs(phaseMs)}${count === Infinity ? ' until Ctrl-C' : ''}, up to ${o.rate} requests/s over ${o.concurrency} keep-alive connections`,
        `  v1 (primary)                    ${v1.url}`,
        `  v1b (secondary: learns noise)   ${v1b.url}`,
        `  v2 (candidate, compared)        ${v2.url}   planted: users lose "email", item prices become strings, products 20% slower, search 500s 8%`,
        `  staging (mirror, sandboxed)     ${staging.url}   goes slow, resets and goes down in the phases below`,
        `  tapwire                         ${tapwireUrl}`,
        `  admin                           ${adminUrl ?? '-'}  (${adminUrl ? `${adminUrl}/metrics, ${adminUrl}/api/v1/verdict` : 'disabled'})`,
        `  store                           ${join(dir, 'tapwire.db')} (SQLite, removed at the end)`,
        '',
        adminUrl ? `  dashboard: ${adminUrl}/${o.adminToken !== undefined ? '  (log in with $TAPWIRE_ADMIN_TOKEN)' : ''}` : '  dashboard: disabled',
        '',
        'configuration (loaded like any user file):',
        ...yaml.trimEnd().split('\n').map((l) => `  | ${l}`),
        '',
      ].join('\n'),
    );

    const ledger = new Ledger({ tap: app.tap, stats: app.stats, route: ROUTE, mirror: MIRROR, primaryName: 'v1', upstreams: { primary: v1, mirror: staging } });
    cleanup.unshift(() => ledger.close());
    const traffic = new Traffic({ host: addresses.listen.host, port: addresses.listen.port, rate: o.rate, concurrency: o.concurrency, onResult: (r) => ledger.client(r) });
    cleanup.unshift(() => traffic.close());

    // The invariant must hold at every instant, not only when things are quiet: check it while copies fly.
    const live = { checks: 0, maxInFlight: 0, problems: [] as string[] };
    const timer = setInterval(() => {
      live.checks++;
      live.maxInFlight = Math.max(live.maxInFlight, ledger.mirrorStats()?.inFlight ?? 0);
      for (const p of app.stats.reconcile()) if (live.problems.length < 20) live.problems.push(p);
    }, LIVE_CHECK_MS);
    cleanup.unshift(() => clearInterval(timer));

    const t0 = performance.now();
    let attack: Promise<void> | undefined;
    const runPhase = async (phase: Phase, ms: number, label: string): Promise<void> => {
      await staging.setMode(phase.mirror);
      ledger.begin(phase);
      const about = phase.about.replace('{slow}', formatMs(MIRROR_SLOW_MS)).replace('{timeout}', formatMs(MIRROR_TIMEOUT_MS));
      const secs = ((performance.now() - t0) / 1000).toFixed(1).padStart(5);
      say(`[${secs}s] ${label.padEnd(9)}  ${phase.name.padEnd(16)}  ${about}`);
      traffic.start();
      if (phase.name === 'healthy' && attack === undefined) {
        // the attack burst: a scanner and injection attempts among the users, for analysis to find
        attack = sleep(ATTACK_AFTER_MS, undefined, { signal: o.signal })
          .then(() => {
            say(`         attack     a scanner (${attackCalls().length - 4} paths) and 4 injection attempts from 198.51.100.0/24`);
            return traffic.burst(attackCalls(), 25, o.signal);
          })
          .catch(() => undefined);
      }
      await sleep(ms, undefined, { signal: o.signal }).catch(() => undefined);
      // the burst belongs to the phase it started in: its answers must be booked before the phase closes
      await attack;
      await traffic.pause();
      await settle(app, ledger, [v1, v1b, v2, staging]);
      ledger.end();
    };
    await runPhase(WARM_UP, WARM_UP_MS, 'phase 0');
    for (let i = 0; i < count && !o.signal.aborted; i++) {
      await runPhase(phaseAt(i), phaseMs, `phase ${i + 1}${count === Infinity ? '' : `/${count}`}`);
    }
    if (o.signal.aborted) say('\ninterrupted: traffic stopped, the phase in progress is counted as far as it went');
    clearInterval(timer);
    // What was captured, replayed against v2 and judged like live mirroring; the report lands beside the capture.
    if (!o.signal.aborted) {
      await app.capture?.flush();
      const r = await replayCapture(join(dir, 'captures'), v2.url, o.signal).catch((err: unknown) => ({ line: `replay: failed: ${err instanceof Error ? err.message : String(err)}`, exitCode: 1 }));
      say(r.line);
    }

    const metrics = await scrape(adminUrl, auth);
    const insights = await compareSummary(adminUrl, auth);
    const summary = summarize({
      settings: { durationMs: o.durationMs, warmUpMs: WARM_UP_MS, phaseMs, rate: o.rate, concurrency: o.concurrency, mirrorTimeoutMs: MIRROR_TIMEOUT_MS, mirrorSlowMs: MIRROR_SLOW_MS, maxInFlight: MAX_IN_FLIGHT },
      addresses: { tapwire: tapwireUrl, admin: adminUrl, primary: v1.url, mirror: staging.url },
      interrupted: o.signal.aborted,
      phases: ledger.phases(),
      clientLatency: ledger.clientTotalLatency(),
      stats: app.stats.snapshot(),
      idleProblems: app.stats.reconcile({ expectIdle: true }),
      route: ROUTE,
      mirror: MIRROR,
      upstreams: { primary: v1.counters(), mirror: staging.counters() },
      live,
      metrics,
    });
    say(renderSummary(summary));
    say(insights.text);
    o.onSummary?.({ ...summary, insights });
    if (o.serve === true && !o.signal.aborted && adminUrl) {
      say(`the dashboard stays up at ${adminUrl}/ until Ctrl-C (traffic has stopped)`);
      await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
    } else if (adminUrl) {
      say(`(the dashboard closes with the demo; run with --serve to keep it up after the traffic)`);
    }
    return { ...summary, insights };
  } finally {
    // In order: traffic, books, tapwire (drains its copies), then the upstreams it talks to.
    // Each step runs even if an earlier one failed: a leftover server or timer would keep the process alive.
    for (const step of cleanup) {
      try {
        await step();
      } catch (err) {
        say(`demo: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Waits until no client request, copy or upstream answer is in flight, so each phase's books close exactly. */
async function settle(app: App, ledger: Ledger, upstreams: readonly DemoUpstream[]): Promise<void> {
  const until = performance.now() + MIRROR_TIMEOUT_MS + 2000;
  const busy = () => (ledger.mirrorStats()?.inFlight ?? 0) > 0 || app.mirroring.inFlight > 0 || upstreams.some((u) => u.pending > 0);
  while (busy() && performance.now() < until) await sleep(10);
}

/** The tapwire_mirror_requests_total lines of the admin server's /metrics, fetched as any scraper would. */
async function scrape(adminUrl: string | null, headers: Record<string, string>): Promise<DemoSummary['metrics']> {
  if (adminUrl === null) return { url: null, lines: [], error: 'the admin server is disabled' };
  const url = `${adminUrl}/metrics`;
  try {
    const body = await new Promise<string>((resolve, reject) => {
      // agent: false — a one-off connection that closes, so nothing keeps the process alive afterwards.
      const req = http.get(url, { agent: false, timeout: 5000, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
    return { url, lines: body.split('\n').filter((l) => l.startsWith('tapwire_mirror_requests_total{')) };
  } catch (err) {
    return { url, lines: [], error: err instanceof Error ? err.message : String(err) };
  }
}
