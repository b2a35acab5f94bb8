// One endpoint: why it got its verdict, its fields with raw and noise counts, example diffs side by side,
// and both sides' latency distributions on one chart.
import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import { dateTime, int, ms, pct, ratio } from '../api.js';
import { Chart, axes } from '../charts.js';
import { Empty, ErrorBox, JsonView, Loading, SortableTable, VerdictBadge, useApi } from '../components.js';

const FIELD_COLUMNS = [
  { key: 'field', label: 'Field', value: (f) => f.field, render: (f) => html`<code>${f.field}</code>` },
  { key: 'upstream', label: 'Upstream', value: (f) => f.upstream },
  { key: 'raw', label: 'Raw (candidate)', numeric: true, value: (f) => f.raw, render: (f) => int(f.raw) },
  { key: 'rawRate', label: 'Raw rate', numeric: true, value: (f) => f.rawRate, render: (f) => pct(f.rawRate) },
  { key: 'noise', label: 'Noise (secondary)', numeric: true, value: (f) => f.noise, render: (f) => int(f.noise) },
  { key: 'noiseRate', label: 'Noise rate', numeric: true, value: (f) => f.noiseRate, render: (f) => pct(f.noiseRate) },
  {
    key: 'status',
    label: 'Judged as',
    value: (f) => (f.regression ? 0 : f.markedNoise ? 2 : 1),
    render: (f) => (f.regression ? html`<span class="badge verdict-fail">regression</span>` : f.markedNoise ? html`<span class="badge muted-badge">marked noise</span>` : html`<span class="badge verdict-pass">noise</span>`),
  },
];

export function EndpointDetail({ id, version, theme }) {
  const detail = useApi(`/api/v1/endpoints/${id}`, version);
  const diffs = useApi(`/api/v1/diffs?endpoint=${id}&limit=40`, version);
  const latency = useApi(`/api/v1/endpoints/${id}/latency`, version);
  if (detail.error?.status === 404 || detail.error?.status === 400) {
    return html`<div class="page"><p><a href="#/endpoints">← Endpoints</a></p><${Empty} title="No such endpoint">
      <p>Nothing has been compared for this endpoint (or its results were reset). Pick one from the <a href="#/endpoints">endpoints table</a>.</p>
    <//></div>`;
  }
  if (detail.error) return html`<${ErrorBox} error=${detail.error} />`;
  if (!detail.data) return html`<${Loading} what="the endpoint" />`;
  const d = detail.data;
  return html`<div class="page">
    <p><a href="#/endpoints">← Endpoints</a></p>
    <h1><span data-testid="endpoint-name">${d.endpoint}</span> <${VerdictBadge} verdict=${d.verdict} /></h1>
    <p class="muted">route <code>${d.route}</code></p>
    ${d.candidates.map((c) => html`<${CandidateSummary} key=${c.upstream} c=${c} />`)}
    <section aria-labelledby="fields-h">
      <h2 id="fields-h">Fields</h2>
      ${d.fields.length === 0
        ? html`<p class="muted">No field differed: every compared answer matched.</p>`
        : html`<${SortableTable} columns=${FIELD_COLUMNS} rows=${d.fields} rowKey=${(f) => `${f.upstream}:${f.field}`} initial=${{ key: 'status', dir: 'asc' }} caption="Fields that differed, judged against the noise" rowProps=${(f) => ({ 'data-field': f.field, 'data-regression': String(f.regression) })} />`}
    </section>
    <${LatencySection} state=${latency} theme=${theme} />
    <${Examples} state=${diffs} fields=${d.fields} />
  </div>`;
}

function CandidateSummary({ c }) {
  return html`<section class="candidate" aria-label=${`candidate ${c.upstream}`}>
    <h2>Candidate <code>${c.upstream}</code> <${VerdictBadge} verdict=${c.verdict} /></h2>
    ${c.reasons.length ? html`<ul class="reasons" data-testid="reasons">${c.reasons.map((r, i) => html`<li key=${i} data-code=${r.code}><strong>${r.code.replace('_', ' ')}</strong>: ${r.message}</li>`)}</ul>` : html`<p>No reason to fail: fields, latency and errors are within the thresholds.</p>`}
    <dl class="facts">
      <div><dt>Compared</dt><dd>${int(c.compared)}</dd></div>
      <div><dt>Diff rate</dt><dd data-testid="detail-diff-rate">${pct(c.diffRate)}</dd></div>
      <div><dt>p50 primary / candidate</dt><dd>${ms(c.latency.primary.p50)} / ${ms(c.latency.candidate.p50)} (${ratio(c.latency.ratioP50)})</dd></div>
      <div><dt>p99 primary / candidate</dt><dd>${ms(c.latency.primary.p99)} / ${ms(c.latency.candidate.p99)} (${ratio(c.latency.ratioP99)})</dd></div>
      <div><dt>Errors primary / candidate</dt><dd>${pct(c.errorRate.primary)} / ${pct(c.errorRate.candidate)}</dd></div>
    </dl>
  </section>`;
}

const SIDE_COLORS = { primary: '#2563eb', secondary: '#94a3b8' };
/** one colour per candidate, in the order the curves come (by upstream name) */
const CANDIDATE_COLORS = ['#dc2626', '#d97706', '#9333ea', '#0d9488'];

function LatencySection({ state, theme }) {
  const curves = state.data?.curves.filter((c) => c.count > 0) ?? [];
  const data = useMemo(() => (state.data ? [state.data.percentiles.map((_, i) => i), ...curves.map((c) => c.ms)] : []), [state.data]);
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (!state.data) return html`<${Loading} what="latency" />`;
  if (curves.length === 0) return html`<section><h2>Latency</h2><p class="muted">No latency recorded yet for this endpoint.</p></section>`;
  const labels = state.data.percentiles;
  const build = (width, colors) => ({
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: axes(colors, 'ms (log)', (u, splits) => splits.map((i) => (labels[i] === undefined ? '' : `p${labels[i]}`))),
    series: [{ label: 'percentile', value: (u, v) => (labels[v] === undefined ? '–' : `p${labels[v]}`) }, ...curves.map((c, i) => ({ label: `${c.role} ${c.upstream} (${c.count})`, stroke: c.role === 'candidate' ? CANDIDATE_COLORS[curves.filter((x, j) => j < i && x.role === 'candidate').length % CANDIDATE_COLORS.length] : SIDE_COLORS[c.role], width: 2, value: (u, v) => ms(v) }))],
  });
  return html`<section aria-labelledby="latency-h">
    <h2 id="latency-h">Latency</h2>
    <${Chart} layout=${curves.map((c) => c.role + c.upstream).join()} build=${build} data=${data} theme=${theme} label="Time to last byte by percentile, over the same compared requests" testid="chart-latency" />
  </section>`;
}

/** Regressions first (what the verdict is about), then candidates before the secondary; one tab per field and side. */
function pickExamples(examples, fields) {
  const regression = new Set(fields.filter((f) => f.regression).map((f) => `${f.upstream}\n${f.field}`));
  const rank = (e) => (regression.has(`${e.upstream}\n${e.field}`) ? 0 : e.role === 'candidate' ? 1 : 2);
  const seen = new Set();
  return [...examples]
    .sort((a, b) => rank(a) - rank(b) || (a.upstream < b.upstream ? -1 : a.upstream > b.upstream ? 1 : 0))
    .filter((e) => {
      const key = `${e.upstream}\n${e.field}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .slice(0, 8);
}

function Examples({ state, fields }) {
  const [open, setOpen] = useState(0);
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (!state.data) return html`<${Loading} what="examples" />`;
  const list = pickExamples(state.data.examples, fields);
  if (list.length === 0) return html`<section><h2>Example diffs</h2><p class="muted">No example kept: nothing differed, or the examples were pruned.</p></section>`;
  const ex = list[Math.min(open, list.length - 1)];
  const keys = new Set(ex.diffs.map((x) => lastKey(x.path)).filter(Boolean));
  return html`<section aria-labelledby="examples-h" data-testid="examples">
    <h2 id="examples-h">Example diffs</h2>
    <div class="tabs" role="tablist" aria-label="Examples">
      ${list.map((e, i) => html`<button type="button" role="tab" key=${i} aria-selected=${i === open} onClick=${() => setOpen(i)}>${e.field} · ${e.role} ${e.upstream}</button>`)}
    </div>
    <p class="muted"><code>${ex.request.method} ${ex.request.path}</code> at ${dateTime(ex.at)}; lines with a differing field are marked.</p>
    <table class="diff-list">
      <thead><tr><th scope="col">Path</th><th scope="col">Kind</th><th scope="col">Primary</th><th scope="col">${ex.role === 'secondary' ? 'Secondary' : 'Candidate'}</th></tr></thead>
      <tbody>${ex.diffs.map((x, i) => html`<tr key=${i}><td><code>${x.path}</code></td><td>${x.kind}</td><td><code>${show(x.left)}</code></td><td><code>${show(x.right)}</code></td></tr>`)}</tbody>
    </table>
    <div class="side-by-side">
      <div><h3>Primary ${ex.left.status !== undefined ? html`<span class="muted">HTTP ${ex.left.status}</span>` : ''}</h3><${JsonView} text=${ex.left.body} mark=${keys} label="primary body" /></div>
      <div><h3>${ex.role === 'secondary' ? 'Secondary' : 'Candidate'} ${ex.upstream} ${ex.right.status !== undefined ? html`<span class="muted">HTTP ${ex.right.status}</span>` : ''}</h3><${JsonView} text=${ex.right.body} mark=${keys} label="candidate body" /></div>
    </div>
  </section>`;
}

function lastKey(path) {
  const m = /\.([^.[\]]+)$|\["([^"]+)"\]$/.exec(path.replace(/\[[^\]]*\]$/, ''));
  return m ? (m[1] ?? m[2]) : undefined;
}

function show(v) {
  return v === undefined ? '(absent)' : JSON.stringify(v);
}
