// Small shared pieces: loading/empty/error states, verdict badges, a keyboard-sortable table and a
// JSON view with highlighting built from text nodes (never innerHTML: bodies come from traffic).
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

/** Fetches a path, again whenever `version` changes (a live summary arrived). */
export function useApi(path, version) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    if (path === null) return undefined;
    setState((s) => (s.data || s.error ? s : { loading: true }));
    let live = true;
    api(path).then(
      (data) => live && setState({ data }),
      (error) => live && setState({ error }),
    );
    return () => {
      live = false;
    };
  }, [path, version]);
  // a part this tapwire does not have (no route compares, no analysis, no capture API): never fetched
  return path === null ? { disabled: true } : state;
}

export function Loading({ what }) {
  return html`<p class="muted" role="status">Loading ${what}…</p>`;
}

export function ErrorBox({ error }) {
  return html`<div class="error" role="alert"><strong>Could not load this page.</strong> ${error.message}${error.code ? html` <code>${error.code}</code>` : ''}</div>`;
}

/** What a page shows when it has nothing yet, and how to get something. */
export function Empty({ title, children }) {
  return html`<section class="empty" data-testid="empty-state"><h2>${title}</h2>${children}</section>`;
}

export function VerdictBadge({ verdict }) {
  const label = verdict === 'insufficient_data' ? 'insufficient data' : verdict;
  return html`<span class="badge verdict-${verdict}">${label}</span>`;
}

export function SeverityBadge({ severity }) {
  return html`<span class="badge sev-${severity}">${severity}</span>`;
}

/**
 * A table whose column headers are buttons: Tab reaches them, Enter or Space sorts, again reverses.
 * columns: [{ key, label, value(row) → sortable, render(row) → cell, numeric }]
 */
export function SortableTable({ columns, rows, rowKey, initial, caption, rowProps }) {
  const [sort, setSort] = useState(initial ?? { key: columns[0].key, dir: 'asc' });
  const col = columns.find((c) => c.key === sort.key) ?? columns[0];
  const sorted = [...rows].sort((a, b) => {
    const x = col.value(a);
    const y = col.value(b);
    const c = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
    return sort.dir === 'asc' ? c : -c;
  });
  const toggle = (key) => setSort((s) => ({ key, dir: s.key === key && s.dir === 'asc' ? 'desc' : 'asc' }));
  return html`<div class="table-wrap">
    <table>
      ${caption ? html`<caption>${caption}</caption>` : ''}
      <thead>
        <tr>
          ${columns.map(
            (c) => html`<th scope="col" class=${c.numeric ? 'num' : ''} aria-sort=${c.key === sort.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
              <button type="button" class="sort" data-sort=${c.key} onClick=${() => toggle(c.key)}>
                ${c.label}<span class="arrow" aria-hidden="true">${c.key === sort.key ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</span>
              </button>
            </th>`,
          )}
        </tr>
      </thead>
      <tbody>
        ${sorted.map((r) => html`<tr key=${rowKey(r)} ...${rowProps ? rowProps(r) : {}}>${columns.map((c) => html`<td class=${c.numeric ? 'num' : ''} data-col=${c.key}>${c.render ? c.render(r) : c.value(r)}</td>`)}</tr>`)}
      </tbody>
    </table>
  </div>`;
}

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}[\],])/g;

/** Pretty-printed JSON (or the text as it is) with token classes; lines holding a key in `mark` get a marker. */
export function JsonView({ text, value, mark, label }) {
  let pretty = text;
  if (value !== undefined) pretty = JSON.stringify(value, null, 2);
  else {
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      pretty = text ?? '';
    }
  }
  const lines = (pretty ?? '').split('\n');
  return html`<pre class="json" tabindex="0" aria-label=${label ?? 'JSON'}>${lines.map((line, i) => {
    const keyMatch = /^\s*"((?:[^"\\]|\\.)*)"\s*:/.exec(line);
    const marked = mark && keyMatch && mark.has(keyMatch[1]);
    return html`<span class=${marked ? 'line marked' : 'line'} key=${i}>${tokens(line)}${'\n'}</span>`;
  })}</pre>`;
}

function tokens(line) {
  const out = [];
  let last = 0;
  for (const m of line.matchAll(TOKEN)) {
    if (m.index > last) out.push(line.slice(last, m.index));
    if (m[1] !== undefined) {
      out.push(html`<span class=${m[2] ? 'j-key' : 'j-str'}>${m[1]}</span>`);
      if (m[2]) out.push(m[2]);
    } else if (m[3] !== undefined) out.push(html`<span class="j-num">${m[3]}</span>`);
    else if (m[4] !== undefined) out.push(html`<span class="j-lit">${m[4]}</span>`);
    else out.push(html`<span class="j-punct">${m[5]}</span>`);
    last = m.index + m[0].length;
  }
  if (last < line.length) out.push(line.slice(last));
  return out;
}
