// Findings: floods, scans and attack signatures from traffic analysis, newest first, and one finding's
// evidence (already redacted by tapwire before it was stored).
import { html } from 'htm/preact';
import { dateTime, int } from '../api.js';
import { Empty, ErrorBox, JsonView, Loading, SeverityBadge, SortableTable, useApi } from '../components.js';

const SEVERITY = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

const COLUMNS = [
  { key: 'severity', label: 'Severity', value: (f) => SEVERITY[f.severity], render: (f) => html`<${SeverityBadge} severity=${f.severity} />` },
  { key: 'title', label: 'Finding', value: (f) => f.title, render: (f) => html`<a href=${`#/findings/${encodeURIComponent(f.id)}`}>${f.title}</a>` },
  { key: 'detector', label: 'Detector', value: (f) => f.detector },
  { key: 'state', label: 'State', value: (f) => f.state },
  { key: 'count', label: 'Signals', numeric: true, value: (f) => f.count, render: (f) => int(f.count) },
  { key: 'firstSeen', label: 'First seen', value: (f) => f.firstSeen, render: (f) => dateTime(f.firstSeen) },
  { key: 'lastSeen', label: 'Last seen', value: (f) => f.lastSeen, render: (f) => dateTime(f.lastSeen) },
];

export function Findings({ version, features }) {
  const state = useApi(features.analysis ? '/api/v1/findings?state=all&limit=200' : null, version);
  if (state.disabled || state.error?.status === 404) {
    return html`<div class="page"><h1>Findings</h1><${Empty} title="No route analyses its traffic">
      <p>Set <code>analyze: true</code> on a route: tapwire then watches a copy of its traffic (off the client's path) for floods, path scans, credential stuffing, 5xx bursts and attack signatures, and lists what it finds here.</p>
    <//></div>`;
  }
  if (state.error) return html`<div class="page"><h1>Findings</h1><${ErrorBox} error=${state.error} /></div>`;
  if (!state.data) return html`<div class="page"><h1>Findings</h1><${Loading} what="findings" /></div>`;
  const list = state.data.findings;
  return html`<div class="page">
    <h1>Findings</h1>
    ${list.length === 0
      ? html`<${Empty} title="No findings"><p>Analysis is on and has seen nothing suspicious: no flood, scan, credential stuffing, error burst or attack signature.</p><//>`
      : html`<${SortableTable} columns=${COLUMNS} rows=${list} rowKey=${(f) => f.id} initial=${{ key: 'severity', dir: 'asc' }} caption="Findings, most severe first" rowProps=${(f) => ({ 'data-finding-id': f.id, 'data-detector': f.detector })} />`}
  </div>`;
}

export function FindingDetail({ id, version }) {
  const state = useApi(`/api/v1/findings/${encodeURIComponent(id)}`, version);
  const back = html`<p><a href="#/findings">← Findings</a></p>`;
  if (state.error?.status === 404) return html`<div class="page">${back}<${Empty} title="No such finding"><p>It may have been pruned from the store.</p><//></div>`;
  if (state.error) return html`<div class="page">${back}<${ErrorBox} error=${state.error} /></div>`;
  if (!state.data) return html`<div class="page">${back}<${Loading} what="the finding" /></div>`;
  const f = state.data;
  return html`<div class="page">
    ${back}
    <h1 data-testid="finding-title">${f.title}</h1>
    <p><${SeverityBadge} severity=${f.severity} /> <span class="badge muted-badge">${f.state}</span> <span class="muted">${f.detector} · key <code>${f.key}</code></span></p>
    <dl class="facts">
      <div><dt>First seen</dt><dd>${dateTime(f.firstSeen)}</dd></div>
      <div><dt>Last seen</dt><dd>${dateTime(f.lastSeen)}</dd></div>
      <div><dt>Signals</dt><dd>${int(f.count)}</dd></div>
      ${f.resolvedAt ? html`<div><dt>Resolved</dt><dd>${dateTime(f.resolvedAt)}</dd></div>` : ''}
    </dl>
    <h2>Detail</h2>
    <${JsonView} value=${f.detail} label="finding detail" />
    <h2>Evidence</h2>
    ${f.evidence.length === 0
      ? html`<p class="muted">No sample kept.</p>`
      : html`<ol class="evidence" data-testid="evidence">
          ${f.evidence.map(
            (e, i) => html`<li key=${i}>
              <p><code>${e.method} ${e.target}</code> from <code>${e.source}</code> → ${e.status} at ${dateTime(e.at)}</p>
              ${e.match ? html`<p>matched in ${e.match.part}${e.match.name ? html` <code>${e.match.name}</code>` : ''}: <code class="match">${e.match.text}</code></p>` : ''}
              <details><summary>Headers${e.body ? ' and body' : ''}</summary>
                <${JsonView} value=${pairs(e.headers)} label="headers" />
                ${e.body ? html`<pre class="json">${e.body}</pre>` : ''}
              </details>
            </li>`,
          )}
        </ol>`}
  </div>`;
}

function pairs(flat) {
  const out = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
