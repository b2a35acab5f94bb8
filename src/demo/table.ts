// Plain-text tables for the demo's report: aligned columns that read the same in a terminal and in a log.

export type Cell = string | number | null | undefined;

/** Numeric columns (numbers, or strings such as "4.1") right-aligned, text left-aligned; a missing value shows as "-". */
export function table(header: readonly string[], rows: readonly (readonly Cell[])[], indent = '  '): string {
  const text = (c: Cell): string => (c === null || c === undefined ? '-' : typeof c === 'number' ? formatNumber(c) : c);
  const cells = [header.map((h) => h), ...rows.map((r) => r.map(text))];
  const numeric = header.map((_, i) => rows.every((r) => r[i] === null || r[i] === undefined || typeof r[i] === 'number' || /^-?\d+(\.\d+)?$/.test(r[i])));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    indent +
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = indent + widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

/** Integers as is; fractional values (latencies in ms) with one decimal, or two below 10. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

export function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}
