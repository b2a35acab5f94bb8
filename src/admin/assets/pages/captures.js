// Captures and replays: the capture files under capture.file (redacted before they were written), the writer's
// counters, a preview of one file's entries, and the reports `tapwire replay --report` left beside them.
import { html } from 'htm/preact';
import { dateTime, int, ms } from '../api.js';
import { Empty, ErrorBox, JsonView, Loading, SortableTable, VerdictBadge, useApi } from '../components.js';

const REPORT_SUFFIX = '.replay.json';

/** 1536 → "1.5 KiB" */
export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

const at = (iso) => dateTime(Date.parse(iso));
const link = (name) => `#/captures/${encodeURIComponent(name)}`;

const FILE_COLUMNS = [
  { key: 'name', label: 'File', value: (f) => f.name, render: (f) => html`<a href=${link(f.name)}>${f.name}</a>${f.writing ? html` <span class="badge muted-badge" title="tapwire is writing this file now">writing</span>` : ''}` },
  { key: 'bytes', label: 'Size', numeric: true, value: (f) => f.bytes, render: (f) => bytes(f.bytes) },
  { key: 'modified', label: 'Last written', value: (f) => f.modified, render: (f) => at(f.modified) },
];

const reasons = (e) => (e.reasons ?? []).slice(0, 2).map((r) => r.message).join('; ');

const replayVerdict = (r) => r.report?.verdict?.verdict ?? (r.report ? 'none' : 'unreadable');

const REPLAY_COLUMNS = [
  { key: 'finishedAt', label: 'Finished', value: (r) => r.report?.finishedAt ?? r.modified, render: (r) => html`<a href=${link(r.name)}>${at(r.report?.finishedAt ?? r.modified)}</a>` },
  { key: 'input', label: 'Input', value: (r) => r.report?.inputName ?? '', render: (r) => html`<code>${r.report?.inputName ?? r.name}</code>` },
  { key: 'target', label: 'Target', value: (r) => r.report?.target ?? '', render: (r) => html`<code>${r.report?.target ?? '–'}</code>` },
  { key: 'sent', label: 'Sent', numeric: true, value: (r) => r.report?.summary.sent ?? -1, render: (r) => int(r.report?.summary.sent) },
  { key: 'failed', label: 'Errors', numeric: true, value: (r) => r.report?.summary.failed ?? -1, render: (r) => int(r.report?.summary.failed) },
  { key: 'rate', label: 'req/s', numeric: true, value: (r) => r.report?.summary.rate ?? -1, render: (r) => (r.report ? r.report.summary.rate.toFixed(1) : '–') },
  { key: 'p99', label: 'p99', numeric: true, value: (r) => r.report?.summary.latency.p99 ?? -1, render: (r) => ms(r.report?.summary.latency.p99) },
  {
    key: 'verdict',
    label: 'Verdict',
    value: (r) => replayVerdict(r),
    render: (r) => (r.report?.verdict ? html`<${VerdictBadge} verdict=${r.report.verdict.verdict} />` : html`<span class="muted">${r.report ? 'not compared' : r.problem}</span>`),
  },
];

function Howto() {
  return html`<p>A capture records a route's trials (the request, the primary's answer and the mirrors' answers, redacted before anything is written) as NDJSON, one HAR 1.2 entry per line, so they can be replayed later against another version. Turn it on with <code>capture.file</code> and, per route, <code>capture: ${'{ percentage: 100 }'}</code> (see docs/capture.md). Replay it and judge the answers, for example in CI, and keep the report beside the capture so it is listed here:</p>
    <pre class="json">tapwire replay --input CAPTURE_DIR --target http://v2.internal:8080 --speed 2x --compare --report CAPTURE_DIR/</pre>`;
}

export function Captures({ version, features, id }) {
  const state = useApi(features.captures ? '/api/v1/captures' : null, version);
  const title = html`<h1>Captures and replays</h1>`;
  if (state.disabled) return html`<div class="page">${title}<${Empty} title="No capture API"><${Howto} /><p class="muted">This tapwire does not list captures.</p><//></div>`;
  if (state.error) return html`<div class="page">${title}<${ErrorBox} error=${state.error} /></div>`;
  if (!state.data) return html`<div class="page">${title}<${Loading} what="captures" /></div>`;
  const c = state.data;
  if (id !== undefined) {
    if (id.endsWith(REPORT_SUFFIX)) return html`<${ReplayDetail} report=${c.replays.find((r) => r.name === id)} name=${id} />`;
    return html`<${FilePreview} name=${id} version=${version} />`;
  }
  if (!c.configured) {
    return html`<div class="page">${title}<${Empty} title="Capture is off"><${Howto} /><p class="muted">capture.file is not set in the running configuration.</p><//></div>`;
  }
  const totals = Object.values(c.writer?.routes ?? {}).reduce(
    (a, r) => ({ written: a.written + r.written, queue: a.queue + r.dropped_queue_full, write: a.write + r.dropped_write_error, sampled: a.sampled + r.sampled_out }),
    { written: 0, queue: 0, write: 0, sampled: 0 },
  );
  return html`<div class="page">
    ${title}
    <dl class="facts" data-testid="capture-facts">
      <div><dt>Writing to</dt><dd><code>${c.path}</code>${c.gzip ? ' (gzip)' : ''}</dd></div>
      <div><dt>Routes</dt><dd>${c.routes.length ? c.routes.map((r) => html`<code key=${r.route}>${r.route}</code> ${r.percentage}% `) : 'none'}</dd></div>
      <div><dt>Entries written</dt><dd data-testid="capture-written">${int(totals.written)}</dd></div>
      <div><dt>Dropped</dt><dd>${int(totals.queue + totals.write)}${totals.queue + totals.write > 0 ? html` <span class="muted">(queue full ${int(totals.queue)}, write errors ${int(totals.write)})</span>` : ''}</dd></div>
      <div><dt>Sampled out</dt><dd>${int(totals.sampled)}</dd></div>
      <div><dt>Files</dt><dd data-testid="capture-files">${int(c.totalFiles)} · ${bytes(c.totalBytes)}</dd></div>
    </dl>
    ${c.problem ? html`<p class="muted">${c.problem}</p>` : ''}
    <h2>Files</h2>
    ${c.files.length === 0
      ? html`<${Empty} title="Nothing captured yet"><p>Files appear here once a captured route has served a request.</p><//>`
      : html`<${SortableTable} columns=${FILE_COLUMNS} rows=${c.files} rowKey=${(f) => f.name} initial=${{ key: 'modified', dir: 'desc' }} caption=${`Capture files, newest first${c.totalFiles > c.files.length ? ` (${c.files.length} of ${c.totalFiles})` : ''}`} rowProps=${(f) => ({ 'data-capture': f.name })} />`}
    <h2>Replays</h2>
    ${c.replays.length === 0
      ? html`<${Empty} title="No replay reports"><${Howto} /><//>`
      : html`<${SortableTable} columns=${REPLAY_COLUMNS} rows=${c.replays} rowKey=${(r) => r.name} initial=${{ key: 'finishedAt', dir: 'desc' }} caption="Replay reports beside the capture, newest first" rowProps=${(r) => ({ 'data-replay': r.name, 'data-verdict': replayVerdict(r) })} />`}
  </div>`;
}

function FilePreview({ name, version }) {
  const state = useApi(`/api/v1/captures/${encodeURIComponent(name)}?limit=100`, version);
  const back = html`<p><a href="#/captures">← Captures</a></p>`;
  if (state.error?.status === 404) return html`<div class="page">${back}<${Empty} title="No such capture file"><p>It may have been rotated away or removed.</p><//></div>`;
  if (state.error) return html`<div class="page">${back}<${ErrorBox} error=${state.error} /></div>`;
  if (!state.data) return html`<div class="page">${back}<${Loading} what="the capture" /></div>`;
  const p = state.data;
  const columns = [
    { key: 'at', label: 'Started', value: (e) => e.at, render: (e) => at(e.at) },
    { key: 'request', label: 'Request', value: (e) => `${e.method} ${e.url}`, render: (e) => html`<code>${e.method} ${e.url}</code>` },
    { key: 'status', label: 'Status', numeric: true, value: (e) => e.status },
    { key: 'ms', label: 'Primary', numeric: true, value: (e) => e.ms, render: (e) => ms(e.ms) },
    { key: 'mirrors', label: 'Copies', value: (e) => e.mirrors.length, render: (e) => e.mirrors.map((m) => html`<span key=${m.upstream} class="badge muted-badge" title=${`${m.role} ${m.upstream}: ${m.outcome}`}>${m.upstream} ${m.status ?? m.outcome}</span> `) },
  ];
  return html`<div class="page">
    ${back}
    <h1 data-testid="capture-name">${p.name}</h1>
    <p class="muted">The first ${int(p.entries.length)} entries${p.more ? ' (the file has more)' : ''}, as written: secrets were replaced by <code>hmac:…</code> hashes before the file was written.${p.malformed ? ` ${p.malformed} malformed line(s) skipped.` : ''}${p.torn ? ' The last line is torn (still being written, or cut by a crash).' : ''}</p>
    ${p.entries.length === 0
      ? html`<${Empty} title="No entries yet"><p>The file is open but nothing has reached it yet.</p><//>`
      : html`<${SortableTable} columns=${columns} rows=${p.entries.map((e, i) => ({ ...e, i }))} rowKey=${(e) => e.i} initial=${{ key: 'at', dir: 'asc' }} caption="Captured entries" />`}
  </div>`;
}

function ReplayDetail({ name, report: r }) {
  const back = html`<p><a href="#/captures">← Captures</a></p>`;
  if (!r) return html`<div class="page">${back}<${Empty} title="No such replay report"><p>It may have been removed.</p><//></div>`;
  if (!r.report) return html`<div class="page">${back}<h1>${name}</h1><p>${r.problem}</p></div>`;
  const x = r.report;
  const s = x.summary;
  const v = x.verdict;
  return html`<div class="page">
    ${back}
    <h1 data-testid="replay-title">Replay of <code>${x.inputName}</code> against <code>${x.target}</code></h1>
    <p>${v ? html`<${VerdictBadge} verdict=${v.verdict} /> ` : ''}<span class="muted">exit ${x.exitCode} · ${at(x.startedAt)} → ${at(x.finishedAt)}${x.interrupted ? ' · interrupted' : ''}</span></p>
    <dl class="facts">
      <div><dt>Sent</dt><dd data-testid="replay-sent">${int(s.sent)}</dd></div>
      <div><dt>Answered</dt><dd>${int(s.ok)} <span class="muted">(2xx ${int(s.byClass['2xx'])}, 4xx ${int(s.byClass['4xx'])}, 5xx ${int(s.byClass['5xx'])})</span></dd></div>
      <div><dt>Errors</dt><dd>${int(s.failed)}</dd></div>
      <div><dt>Pace</dt><dd>${x.pacing}, ${s.rate.toFixed(1)} req/s, concurrency ${x.concurrency}</dd></div>
      <div><dt>Latency</dt><dd>p50 ${ms(s.latency.p50)} · p99 ${ms(s.latency.p99)}</dd></div>
      <div><dt>Filters</dt><dd>${x.filters.length ? x.filters.map((f) => html`<code key=${f}>${f}</code> `) : 'none'}${x.headers.length ? html` · headers replaced: ${x.headers.join(', ')}` : ''}</dd></div>
    </dl>
    ${v
      ? html`<h2>Verdict per endpoint</h2>
          <${SortableTable}
            columns=${[
              { key: 'endpoint', label: 'Endpoint', value: (e) => e.endpoint, render: (e) => html`<code>${e.endpoint}</code>` },
              { key: 'compared', label: 'Compared', numeric: true, value: (e) => e.compared, render: (e) => int(e.compared) },
              { key: 'verdict', label: 'Verdict', value: (e) => e.verdict, render: (e) => html`<${VerdictBadge} verdict=${e.verdict} />` },
              { key: 'reasons', label: 'Why', value: (e) => reasons(e), render: (e) => reasons(e) || '–' },
            ]}
            rows=${v.endpoints ?? []}
            rowKey=${(e) => `${e.id}|${e.upstream}`}
            initial=${{ key: 'verdict', dir: 'asc' }}
            caption="Compared endpoints"
          />`
      : html`<p class="muted">Replayed without --compare: no verdict.</p>`}
    <details><summary>The whole report</summary><${JsonView} value=${x} label="replay report" /></details>
  </div>`;
}
