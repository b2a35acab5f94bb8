// Renders the demo's summary as plain-text tables: clients, requests served, copies by outcome, checks, metrics.
import type { LatencySummary } from '../admin/stats.ts';
import { OUTCOMES } from '../core/outcomes.ts';
import type { PhaseReport } from './ledger.ts';
import type { DemoSummary } from './summary.ts';
import { table, type Cell } from './table.ts';

const p = (l: LatencySummary | null | undefined, k: 'p50' | 'p99' | 'max'): Cell => l?.[k] ?? null;
const name = (ph: PhaseReport): string => (ph.runs > 1 ? `${ph.name} (x${ph.runs})` : ph.name);

export function renderSummary(s: DemoSummary): string {
  const { phases, total: t } = s;
  const out: string[] = [];
  const title = (text: string) => out.push('', text);

  title('What the clients saw (the traffic generator, through tapwire)');
  const byClass = (byStatus: Record<string, number>, c: string) =>
    Object.entries(byStatus).reduce((n, [status, v]) => (status[0] === c[0] ? n + v : n), 0);
  // 5xx stays even at zero: that zero is the point. The others only when something fell in them.
  const classes = ['1xx', '2xx', '3xx', '4xx', '5xx'].filter((c) => c === '5xx' || byClass(t.client.byStatus, c) > 0);
  out.push(
    table(
      ['phase', 'secs', 'requests', ...classes, 'errors', 'p50 ms', 'p99 ms', 'max ms', 'loop max ms'],
      [
        ...phases.map((ph) => [name(ph), ph.seconds.toFixed(1), ph.client.requests, ...classes.map((c) => byClass(ph.client.byStatus, c)), ph.client.errorCount, p(ph.client.latencyMs, 'p50'), p(ph.client.latencyMs, 'p99'), p(ph.client.latencyMs, 'max'), ph.eventLoopMaxMs]),
        ['total', t.seconds.toFixed(1), t.client.requests, ...classes.map((c) => byClass(t.client.byStatus, c)), t.client.errorCount, p(t.client.latencyMs, 'p50'), p(t.client.latencyMs, 'p99'), p(t.client.latencyMs, 'max'), Math.max(0, ...phases.map((ph) => ph.eventLoopMaxMs))],
      ],
    ),
  );
  out.push("  loop max: the longest event-loop delay of this one process, which tapwire shares with the demo's upstreams and clients.");

  title('Requests tapwire served from the primary (v1), by status, and primary latency');
  const statuses = [...new Set([...Object.keys(t.served.byStatus), ...phases.flatMap((ph) => Object.keys(ph.served.byStatus))])].sort();
  out.push(
    table(
      ['phase', 'requests', ...statuses, 'v1 answered', 'p50 ms', 'p99 ms'],
      [
        ...phases.map((ph) => [name(ph), ph.served.requests, ...statuses.map((c) => ph.served.byStatus[c] ?? 0), ph.upstreams.primary.answered, p(ph.latencyMs.primary, 'p50'), p(ph.latencyMs.primary, 'p99')]),
        ['total', t.served.requests, ...statuses.map((c) => t.served.byStatus[c] ?? 0), t.upstreams.primary.answered, p(t.latencyMs.primary, 'p50'), p(t.latencyMs.primary, 'p99')],
      ],
    ),
  );
  if (t.rejected.length) out.push(`  answered by tapwire itself: ${t.rejected.map((r) => `${r.code} (${r.status}) ${r.count}`).join(', ')}`);

  title('Copies mirrored to staging (route "api"), by outcome, and mirror latency (sent copies, any outcome)');
  const seen = OUTCOMES.filter((o) => (t.copies.outcomes[o] ?? 0) > 0 || phases.some((ph) => (ph.copies.outcomes[o] ?? 0) > 0));
  const recon = (ok: boolean) => (ok ? 'yes' : 'NO');
  out.push(
    table(
      ['phase', 'matched', ...seen, 'in flight', 'adds up', 'staging got', 'staging answered', 'p50 ms', 'p99 ms'],
      [
        ...phases.map((ph) => [
          name(ph),
          ph.copies.matched,
          ...seen.map((o) => ph.copies.outcomes[o] ?? 0),
          ph.copies.inFlightEnd - ph.copies.inFlightStart,
          recon(ph.copies.reconciles),
          ph.upstreams.mirror.received,
          ph.upstreams.mirror.answered,
          p(ph.latencyMs.mirror, 'p50'),
          p(ph.latencyMs.mirror, 'p99'),
        ]),
        ['total', t.copies.matched, ...seen.map((o) => t.copies.outcomes[o] ?? 0), t.copies.inFlight, recon(t.copies.reconciles), t.upstreams.mirror.received, t.upstreams.mirror.answered, p(t.latencyMs.mirror, 'p50'), p(t.latencyMs.mirror, 'p99')],
      ],
    ),
  );
  out.push(
    '  "adds up": matched = sum of the outcomes + copies still in flight (a phase ends only once none is).',
    '  "staging got" counts connections staging accepted; a refused connection never reaches it.',
  );

  title('Checks');
  for (const c of s.checks) out.push(`  [${c.ok ? 'ok' : 'FAIL'}] ${c.what}`);

  title(`Metrics: GET ${s.metrics.url ?? '(no admin server)'} (tapwire_mirror_requests_total)`);
  if (s.metrics.error !== undefined) out.push(`  unavailable: ${s.metrics.error}`);
  const nonzero = s.metrics.lines.filter((l) => !/\s0$/.test(l));
  for (const l of nonzero) out.push(`  ${l}`);
  if (s.metrics.lines.length > nonzero.length) out.push(`  (+ ${s.metrics.lines.length - nonzero.length} outcomes at 0, exported so that rate() sees 0 rather than no data)`);

  out.push('', s.ok ? 'All checks passed.' : 'Some checks FAILED: see above.');
  return out.join('\n') + '\n';
}
