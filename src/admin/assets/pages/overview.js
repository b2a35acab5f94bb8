// Overview: the verdict banner, live requests per second, copies by outcome stacked over time, totals
// and the open findings.
import { html } from 'htm/preact';
import { useMemo, useRef } from 'preact/hooks';
import { OUTCOMES, int, pct, time } from '../api.js';
import { Chart, axes } from '../charts.js';
import { Empty, ErrorBox, Loading, SeverityBadge, useApi } from '../components.js';

export function Overview({ live, version, theme, features }) {
  const stats = useApi('/api/v1/stats', version);
  const verdict = useApi(features.compare ? '/api/v1/verdict' : null, version);
  const findings = useApi(features.analysis ? '/api/v1/findings?state=active&limit=10' : null, version);
  if (stats.error) return html`<${ErrorBox} error=${stats.error} />`;
  if (!stats.data) return html`<${Loading} what="the overview" />`;
  const s = stats.data;
  const requests = s.routes.reduce((n, r) => n + r.requests, 0);
  const copies = {};
  for (const r of s.routes) for (const [o, n] of Object.entries(r.outcomes)) copies[o] = (copies[o] ?? 0) + n;
  const matched = s.routes.reduce((n, r) => n + r.matched, 0);
  const dropped = Object.entries(copies).reduce((n, [o, v]) => (o === 'delivered' ? n : n + v), 0);
  const last = live.samples.at(-1);
  return html`<div class="page">
    <h1>Overview</h1>
    <${VerdictBanner} state=${verdict} />
    <section class="cards" aria-label="Totals">
      <${Card} label="Requests served" value=${int(requests)} testid="total-requests" />
      <${Card} label="Requests/s (last second)" value=${last ? int(last.requests) : '–'} testid="live-rps" />
      <${Card} label="Copies delivered" value=${int(copies.delivered ?? 0)} testid="copies-delivered" />
      <${Card} label="Copies dropped or failed" value=${int(dropped)} hint=${matched ? `${pct(dropped / matched)} of ${int(matched)} matched` : ''} testid="copies-dropped" />
      <${Card} label="Active findings" value=${findings.data ? int(findings.data.findings.length) : '–'} testid="active-findings" />
    </section>
    ${requests === 0 && live.samples.every((x) => x.requests === 0)
      ? html`<${Empty} title="No traffic yet">
          <p>Nothing has reached a route since tapwire started. Send requests to the listener (see <code>listen:</code> in the configuration), or try <code>npm run demo</code>, which starts sample upstreams and traffic.</p>
        <//>`
      : html`<div class="charts">
          <${RateChart} samples=${live.samples} theme=${theme} />
          <${OutcomeChart} samples=${live.samples} theme=${theme} />
        </div>`}
    <${OpenFindings} state=${findings} />
  </div>`;
}

function Card({ label, value, hint, testid }) {
  return html`<div class="card"><div class="card-label">${label}</div><div class="card-value" data-testid=${testid}>${value}</div>${hint ? html`<div class="card-hint">${hint}</div>` : ''}</div>`;
}

export function VerdictBanner({ state }) {
  if (state.disabled || state.error?.status === 404) {
    return html`<div class="banner verdict-none" data-testid="verdict-banner" data-verdict="none"><strong>No verdict:</strong> no route compares. Give a route a <code>secondary</code> or <code>compare:</code> to get one (docs/compare.md).</div>`;
  }
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (!state.data) return html`<div class="banner" data-testid="verdict-banner">Loading the verdict…</div>`;
  const v = state.data;
  // one entry per endpoint: which candidates fail it and why (min_samples is not a reason to fail)
  const byEndpoint = new Map();
  for (const e of v.endpoints.filter((x) => x.verdict === 'fail')) {
    const codes = [...new Set(e.reasons.map((r) => r.code).filter((c) => c !== 'min_samples'))].map((c) => c.replace('_', ' '));
    byEndpoint.set(e.endpoint, [...(byEndpoint.get(e.endpoint) ?? []), `${e.upstream}: ${codes.join(', ')}`]);
  }
  const failing = [...byEndpoint];
  const why =
    v.verdict === 'fail'
      ? `${v.summary.fail} of ${v.summary.endpoints} endpoint × candidate pairs fail. ${failing
          .slice(0, 4)
          .map(([name, list]) => `${name} (${list.join('; ')})`)
          .join(' · ')}${failing.length > 4 ? ' · …' : ''}`
      : v.verdict === 'pass'
        ? `${v.summary.pass} endpoints pass, none fails${v.summary.insufficient_data ? ` (${v.summary.insufficient_data} without enough data yet)` : ''}.`
        : v.summary.endpoints === 0
          ? 'Nothing compared yet: the candidate has not answered a copy that compare took.'
          : `Not enough compared requests yet (${v.summary.insufficient_data} endpoints below the minimum of ${v.thresholds.minSamples}).`;
  const label = { pass: 'PASS: the candidate may go live', fail: 'FAIL: the candidate differs from the primary', insufficient_data: 'INSUFFICIENT DATA' }[v.verdict];
  return html`<div class=${`banner verdict-${v.verdict}`} role="status" data-testid="verdict-banner" data-verdict=${v.verdict}>
    <strong>${label}</strong>
    <span>${why}</span>
    ${v.summary.endpoints ? html`<a href="#/endpoints">See the endpoints</a>` : ''}
  </div>`;
}

function RateChart({ samples, theme }) {
  const data = useMemo(() => [samples.map((s) => s.t / 1000), samples.map((s) => s.requests)], [samples]);
  const build = (width, colors) => ({
    scales: { x: { time: true } },
    axes: axes(colors, 'req/s'),
    series: [{}, { label: 'requests/s', stroke: '#2563eb', width: 2, fill: 'rgba(37,99,235,0.12)' }],
    legend: { live: true },
  });
  return html`<${Chart} layout="rps" build=${build} data=${data} theme=${theme} label="Requests per second (all routes)" testid="chart-rps" />`;
}

/** Outcomes stacked: each series drawn at its cumulative height, the legend shows its own value. */
function OutcomeChart({ samples, theme }) {
  const seen = OUTCOMES.filter(([o]) => o === 'delivered' || samples.some((s) => (s.outcomes[o] ?? 0) > 0));
  const { data, raw } = useMemo(() => {
    const raw = seen.map(([o]) => samples.map((s) => s.outcomes[o] ?? 0));
    // top of the stack first: uPlot draws later series over earlier ones
    const cumulative = raw.map((_, i) => samples.map((_, j) => raw.slice(0, i + 1).reduce((n, r) => n + r[j], 0)));
    return { raw, data: [samples.map((s) => s.t / 1000), ...cumulative.reverse()] };
  }, [samples, seen.length]);
  // the legend reads the latest values, not those of the render that built the chart
  const latest = useRef(raw);
  latest.current = raw;
  const layout = seen.map(([o]) => o).join(',');
  const build = (width, colors) => ({
    scales: { x: { time: true } },
    axes: axes(colors, 'copies/s'),
    series: [
      {},
      ...[...seen].reverse().map(([o, color], k) => ({
        label: o,
        stroke: color,
        fill: color,
        width: 1,
        value: (u, v, si, idx) => (idx === null || idx === undefined ? '–' : String(latest.current[seen.length - 1 - k]?.[idx] ?? 0)),
      })),
    ],
  });
  return html`<${Chart} layout=${layout} build=${build} data=${data} theme=${theme} label="Copies per second by outcome (all mirrors, stacked)" testid="chart-outcomes" />`;
}

function OpenFindings({ state }) {
  if (state.disabled || state.error?.status === 404) {
    return html`<section><h2>Open findings</h2><p class="muted">No route analyses its traffic: set <code>analyze: true</code> on a route to watch for floods, scans and attacks.</p></section>`;
  }
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (!state.data) return html`<${Loading} what="findings" />`;
  const list = state.data.findings;
  return html`<section aria-labelledby="open-findings">
    <h2 id="open-findings">Open findings</h2>
    ${list.length === 0
      ? html`<p class="muted" data-testid="no-findings">No open findings: no flood, scan or attack signature seen recently.</p>`
      : html`<ul class="finding-list">
          ${list.map((f) => html`<li key=${f.id}><${SeverityBadge} severity=${f.severity} /> <a href=${`#/findings/${encodeURIComponent(f.id)}`}>${f.title}</a> <span class="muted">since ${time(f.firstSeen)}</span></li>`)}
        </ul>`}
  </section>`;
}
