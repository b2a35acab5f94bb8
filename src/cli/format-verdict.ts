// Renders a FullVerdict (GET /api/v1/verdict) for people and machines: an aligned table for a terminal
// (colour optional), GitHub Markdown for a PR comment, or the JSON as the API returns it. Pure: no I/O.
// Route, endpoint and field names come from live traffic: control characters are neutralised for the
// terminal and Markdown syntax is escaped, so a crafted path can neither move the cursor nor inject links.
import type { FullVerdict, EndpointVerdictWithId } from '../admin/compare.ts';
import type { SidePercentiles } from '../compare/verdict.ts';
import type { Verdict } from '../compare/types.ts';

export type VerdictFormat = 'table' | 'markdown' | 'json';
export const VERDICT_FORMATS: readonly VerdictFormat[] = ['table', 'markdown', 'json'];

export interface TableOptions {
  /** ANSI colours (the caller decides: stdout is a TTY and NO_COLOR is unset) */
  readonly color?: boolean;
}

/** How many regressing fields a row names before "+N more". */
const TOP_FIELDS = 3;

export function formatVerdict(v: FullVerdict, format: VerdictFormat, opts: TableOptions = {}): string {
  switch (format) {
    case 'json':
      return formatJson(v);
    case 'markdown':
      return formatMarkdown(v);
    case 'table':
      return formatTable(v, opts);
  }
}

export function formatJson(v: FullVerdict): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

// ---- shared number formatting ------------------------------------------------------------------------

/** A rate as a percentage: 2 decimals, '0%' for exactly zero. */
export function percent(rate: number): string {
  if (!Number.isFinite(rate)) return '-';
  if (rate === 0) return '0%';
  return `${(rate * 100).toFixed(2)}%`;
}

/** Milliseconds: 2 decimals below 10, 1 decimal above; '-' for no value. */
export function ms(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function ratio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? '' : ` ×${r.toFixed(2)}`;
}

/** `12.0 → 15.3 ms ×1.28`, or '-' when neither side has a value. */
function latencyCell(primary: SidePercentiles, candidate: SidePercentiles, key: 'p50' | 'p99', r: number | null): string {
  if (primary[key] === null && candidate[key] === null) return '-';
  return `${ms(primary[key])} → ${ms(candidate[key])} ms${ratio(r)}`;
}

function errorsCell(e: EndpointVerdictWithId['errorRate']): string {
  return `${percent(e.primary)} → ${percent(e.candidate)}`;
}

function topFields(e: EndpointVerdictWithId): string[] {
  const names = e.regressions.slice(0, TOP_FIELDS).map((r) => r.field);
  if (e.regressions.length > TOP_FIELDS) names.push(`+${e.regressions.length - TOP_FIELDS} more`);
  return names;
}

const VERDICT_WORD: Record<Verdict, string> = { pass: 'pass', fail: 'FAIL', insufficient_data: 'insufficient data' };

function summaryText(v: FullVerdict): string {
  const s = v.summary;
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  return `${s.fail} fail, ${s.pass} pass, ${s.insufficient_data} insufficient data (${plural(s.endpoints, 'endpoint')} compared)`;
}

function when(v: FullVerdict): string {
  const d = new Date(v.generatedAt);
  return Number.isNaN(d.getTime()) ? String(v.generatedAt) : d.toISOString();
}

/** Non-passing rows first (fail, then insufficient data), each group in the API's order. */
function nonPassing(v: FullVerdict): EndpointVerdictWithId[] {
  return [...v.endpoints.filter((e) => e.verdict === 'fail'), ...v.endpoints.filter((e) => e.verdict === 'insufficient_data')];
}

// ---- terminal table ----------------------------------------------------------------------------------

/** Control characters (C0, DEL, C1) and bidi overrides shown as \uXXXX: they must never reach a terminal raw. */
export function safeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const ANSI = { red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m', bold: '\u001b[1m', dim: '\u001b[2m', reset: '\u001b[0m' };

function painter(color: boolean) {
  const paint = (code: string, s: string) => (color ? `${code}${s}${ANSI.reset}` : s);
  const verdict = (v: Verdict, s: string) => paint(v === 'pass' ? ANSI.green : v === 'fail' ? ANSI.red : ANSI.yellow, s);
  return { paint, verdict };
}

interface Column {
  readonly title: string;
  readonly right?: boolean;
}

export function formatTable(v: FullVerdict, opts: TableOptions = {}): string {
  const { paint, verdict } = painter(opts.color === true);
  const out: string[] = [];
  out.push(`${paint(ANSI.bold, 'verdict:')} ${verdict(v.verdict, paint(ANSI.bold, VERDICT_WORD[v.verdict]))}  ${summaryText(v)}  ${paint(ANSI.dim, `at ${when(v)}`)}`);
  if (v.routes.length > 1) {
    for (const r of v.routes) out.push(`  route ${safeText(r.route)}: ${verdict(r.verdict, VERDICT_WORD[r.verdict])}`);
  }
  if (v.endpoints.length === 0) {
    out.push('', 'nothing compared yet: no route has compared traffic in the store');
    return `${out.join('\n')}\n`;
  }

  const columns: Column[] = [
    { title: 'ROUTE' },
    { title: 'ENDPOINT' },
    { title: 'CANDIDATE' },
    { title: 'VERDICT' },
    { title: 'COMPARED', right: true },
    { title: 'DIFF', right: true },
    { title: 'TOP REGRESSIONS' },
    { title: 'P50 PRIMARY → CANDIDATE' },
    { title: 'P99 PRIMARY → CANDIDATE' },
    { title: 'ERRORS PRIMARY → CANDIDATE' },
  ];
  const rows = v.endpoints.map((e) => [
    safeText(e.route),
    safeText(e.endpoint),
    safeText(e.upstream),
    VERDICT_WORD[e.verdict],
    String(e.compared),
    percent(e.diffRate),
    topFields(e).map(safeText).join(', ') || '-',
    latencyCell(e.latency.primary, e.latency.candidate, 'p50', e.latency.ratioP50),
    latencyCell(e.latency.primary, e.latency.candidate, 'p99', e.latency.ratioP99),
    errorsCell(e.errorRate),
  ]);
  const widths = columns.map((c, i) => Math.max(width(c.title), ...rows.map((r) => width(r[i]!))));
  const pad = (s: string, i: number) => (columns[i]!.right ? s.padStart(s.length + widths[i]! - width(s)) : s.padEnd(s.length + widths[i]! - width(s)));
  const line = (cells: readonly string[], paintCell?: (s: string, i: number) => string) =>
    cells
      .map((c, i) => {
        const padded = pad(c, i);
        return paintCell ? paintCell(padded, i) : padded;
      })
      .join('  ')
      .trimEnd();
  out.push('');
  out.push(line(columns.map((c) => c.title), (s) => paint(ANSI.bold, s)));
  v.endpoints.forEach((e, n) => out.push(line(rows[n]!, (s, i) => (i === 3 ? verdict(e.verdict, s) : s))));

  const why = nonPassing(v);
  if (why.length > 0) {
    out.push('', paint(ANSI.bold, 'why:'));
    for (const e of why) {
      out.push(`  ${verdict(e.verdict, VERDICT_WORD[e.verdict])}  ${safeText(e.route)}  ${safeText(e.endpoint)}  → ${safeText(e.upstream)}`);
      for (const r of e.reasons) out.push(`      - ${safeText(r.message)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Display width: code points (the arrows and × are one column each). */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// ---- Markdown ----------------------------------------------------------------------------------------

/** Escapes text for a GitHub Markdown table cell or list item: no markup, math ($), links, HTML or cell breaks. */
export function mdText(s: string): string {
  return safeText(s)
    .replace(/[\\`*_{}[\]()<>#!|~&$]/g, (c) => `\\${c}`)
    .replace(/:\/\//g, '\\://') // no autolinks
    .replace(/@/g, '@\u200b'); // no @mentions in a PR comment
}

const MD_VERDICT: Record<Verdict, string> = { pass: '✅ pass', fail: '❌ fail', insufficient_data: '⚠️ insufficient data' };

export function formatMarkdown(v: FullVerdict): string {
  const out: string[] = [];
  out.push(`### tapwire verdict: ${MD_VERDICT[v.verdict]}`, '');
  out.push(`${summaryText(v)}, generated ${when(v)}.`);
  if (v.routes.length > 1) {
    out.push('');
    for (const r of v.routes) out.push(`- route **${mdText(r.route)}**: ${MD_VERDICT[r.verdict]}`);
  }
  if (v.endpoints.length === 0) {
    out.push('', 'Nothing compared yet: no route has compared traffic in the store.');
    return `${out.join('\n')}\n`;
  }
  out.push('');
  out.push('| Route | Endpoint | Candidate | Verdict | Compared | Diff rate | Top regressions | p50 primary → candidate | p99 primary → candidate | Errors primary → candidate |');
  out.push('|---|---|---|---|---:|---:|---|---|---|---|');
  for (const e of v.endpoints) {
    const cells = [
      mdText(e.route),
      mdText(e.endpoint),
      mdText(e.upstream),
      MD_VERDICT[e.verdict],
      String(e.compared),
      percent(e.diffRate),
      topFields(e).map(mdText).join(', ') || '-',
      latencyCell(e.latency.primary, e.latency.candidate, 'p50', e.latency.ratioP50),
      latencyCell(e.latency.primary, e.latency.candidate, 'p99', e.latency.ratioP99),
      errorsCell(e.errorRate),
    ];
    out.push(`| ${cells.join(' | ')} |`);
  }
  const why = nonPassing(v);
  if (why.length > 0) {
    out.push('', '#### Why', '');
    for (const e of why) {
      out.push(`- ${MD_VERDICT[e.verdict]} **${mdText(e.route)}** ${mdText(e.endpoint)} → ${mdText(e.upstream)}`);
      for (const r of e.reasons) out.push(`  - ${mdText(r.message)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
