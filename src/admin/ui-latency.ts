// Latency distributions for the dashboard's endpoint page: each side's merged HDR histogram as a
// percentile curve (the value at p0..p99.9 and the maximum), which a chart can draw for both sides at once.
import { decodeLatency, mergeLatency } from '../compare/latency.ts';
import type { EndpointAggregate } from '../compare/types.ts';

/** Percentiles on the curve: dense in the tail, where regressions show. */
export const CURVE_PERCENTILES: readonly number[] = [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 97, 98, 99, 99.5, 99.9, 100];

export interface LatencyCurve {
  readonly upstream: string;
  readonly role: EndpointAggregate['role'];
  readonly count: number;
  /** ms at each of CURVE_PERCENTILES; empty when nothing was recorded */
  readonly ms: readonly number[];
}

export function latencyCurves(rows: readonly EndpointAggregate[]): { percentiles: readonly number[]; curves: LatencyCurve[] } {
  const groups = new Map<string, { upstream: string; role: EndpointAggregate['role']; encoded: string[] }>();
  for (const r of rows) {
    const key = `${r.role}\n${r.upstream}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { upstream: r.upstream, role: r.role, encoded: [] }));
    if (r.latency !== '' && decodeLatency(r.latency) !== undefined) g.encoded.push(r.latency);
  }
  const order = { primary: 0, secondary: 1, candidate: 2 } as const;
  const curves = [...groups.values()]
    .sort((a, b) => order[a.role] - order[b.role] || (a.upstream < b.upstream ? -1 : 1))
    .map((g): LatencyCurve => {
      const h = mergeLatency(g.encoded);
      const count = h.totalCount;
      // µs in the histogram, ms on the chart
      const ms = count === 0 ? [] : CURVE_PERCENTILES.map((p) => (p === 100 ? h.maxValue : h.getValueAtPercentile(p)) / 1000);
      return { upstream: g.upstream, role: g.role, count, ms };
    });
  return { percentiles: CURVE_PERCENTILES, curves };
}
