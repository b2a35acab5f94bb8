// Endpoints: one row per (route, endpoint, candidate) with diff and noise rates, both sides' latency,
// error rates and the verdict; every column sorts (by keyboard too).
import { html } from 'htm/preact';
import { int, ms, pct, ratio } from '../api.js';
import { Empty, ErrorBox, Loading, SortableTable, VerdictBadge, useApi } from '../components.js';
import { VerdictBanner } from './overview.js';

/** The highest rate at which the primary and the secondary differed on any field of the endpoint. */
export function noiseRate(e) {
  const rates = [...e.noisyFields, ...e.regressions].map((f) => f.noiseRate);
  return e.noiseCompared > 0 && rates.length ? Math.max(...rates) : e.noiseCompared > 0 ? 0 : null;
}

const VERDICT_ORDER = { fail: 0, insufficient_data: 1, pass: 2 };

const COLUMNS = [
  { key: 'endpoint', label: 'Endpoint', value: (e) => e.endpoint, render: (e) => html`<a href=${`#/endpoints/${e.id}`}>${e.endpoint}</a>` },
  { key: 'route', label: 'Route', value: (e) => e.route },
  { key: 'upstream', label: 'Candidate', value: (e) => e.upstream },
  { key: 'verdict', label: 'Verdict', value: (e) => VERDICT_ORDER[e.verdict], render: (e) => html`<${VerdictBadge} verdict=${e.verdict} />` },
  { key: 'compared', label: 'Compared', numeric: true, value: (e) => e.compared, render: (e) => int(e.compared) },
  { key: 'diffRate', label: 'Diff rate', numeric: true, value: (e) => e.diffRate, render: (e) => pct(e.diffRate) },
  { key: 'noiseRate', label: 'Noise rate', numeric: true, value: noiseRate, render: (e) => pct(noiseRate(e)) },
  { key: 'p50p', label: 'p50 primary', numeric: true, value: (e) => e.latency.primary.p50, render: (e) => ms(e.latency.primary.p50) },
  { key: 'p50c', label: 'p50 candidate', numeric: true, value: (e) => e.latency.candidate.p50, render: (e) => ms(e.latency.candidate.p50) },
  { key: 'p99p', label: 'p99 primary', numeric: true, value: (e) => e.latency.primary.p99, render: (e) => ms(e.latency.primary.p99) },
  { key: 'p99c', label: 'p99 candidate', numeric: true, value: (e) => e.latency.candidate.p99, render: (e) => ms(e.latency.candidate.p99) },
  { key: 'ratio', label: 'p99 ratio', numeric: true, value: (e) => e.latency.ratioP99, render: (e) => ratio(e.latency.ratioP99) },
  { key: 'errP', label: 'Errors primary', numeric: true, value: (e) => e.errorRate.primary, render: (e) => pct(e.errorRate.primary) },
  { key: 'errC', label: 'Errors candidate', numeric: true, value: (e) => e.errorRate.candidate, render: (e) => pct(e.errorRate.candidate) },
];

export function Endpoints({ version, features }) {
  const state = useApi(features.compare ? '/api/v1/endpoints' : null, version);
  const verdict = useApi(features.compare ? '/api/v1/verdict' : null, version);
  if (state.disabled || state.error?.status === 404) {
    return html`<div class="page"><h1>Endpoints</h1><${Empty} title="No route compares">
      <p>Endpoints appear here once a route compares a candidate with the primary: give the route a <code>secondary</code> (to learn noise) or a <code>compare:</code> block, and a mirror to the candidate.</p>
    <//></div>`;
  }
  if (state.error) return html`<div class="page"><h1>Endpoints</h1><${ErrorBox} error=${state.error} /></div>`;
  if (!state.data) return html`<div class="page"><h1>Endpoints</h1><${Loading} what="endpoints" /></div>`;
  const rows = state.data.endpoints;
  return html`<div class="page">
    <h1>Endpoints</h1>
    <${VerdictBanner} state=${verdict} />
    ${rows.length === 0
      ? html`<${Empty} title="Nothing compared yet">
          <p>No trial has been compared: the candidate has not answered a mirrored copy yet, or compare is at its budget (<code>compare.maxPerSecond</code>). Rows appear within a flush interval (1 s by default) of the first compared request.</p>
        <//>`
      : html`<p class="muted">Diff rate: compared requests whose answers differed. Noise rate: the highest rate at which the primary and the secondary differed on one field (what the verdict discounts). Latency and errors over the same requests.</p>
          <${SortableTable}
            columns=${COLUMNS}
            rows=${rows}
            rowKey=${(e) => `${e.id}:${e.upstream}`}
            initial=${{ key: 'verdict', dir: 'asc' }}
            caption="Endpoints by verdict"
            rowProps=${(e) => ({ 'data-endpoint-id': e.id, 'data-endpoint': e.endpoint })}
          />`}
  </div>`;
}
