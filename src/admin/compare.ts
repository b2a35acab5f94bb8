// The compare part of the admin API: the verdict (also shaped for Argo Rollouts and Flagger), endpoints with
// their fields' raw and noise counts and latency, diff examples, and the two mutations (mark noise, reset).
// It reads everything from the Store, so every replica sharing one store answers the same.
import { computeVerdict, type EndpointVerdict, type VerdictReport } from '../compare/verdict.ts';
import { fieldRates, isMarkedNoise, isRegression } from '../compare/noise.ts';
import type { EndpointAggregate, NoiseMark, Thresholds, Verdict } from '../compare/types.ts';
import type { ResolvedConfig } from '../config/types.ts';
import type { Store } from '../store/types.ts';

export interface CompareApiDeps {
  readonly store: () => Store;
  /** the thresholds of each compared route; routes not listed use `defaults` */
  readonly thresholds: () => ReadonlyMap<string, Thresholds>;
  readonly defaults: () => Thresholds;
  /** noise marks from the config (compare.noise), on top of the store's */
  readonly configNoise: () => readonly NoiseMark[];
  /** compares what is queued and writes it to the store, so an answer includes the latest trials */
  readonly flush?: () => Promise<void>;
  readonly now?: () => number;
}

/** A stable, URL-safe id of (route, endpoint). */
export function endpointId(route: string, endpoint: string): string {
  return Buffer.from(`${route}\n${endpoint}`, 'utf8').toString('base64url');
}

export function parseEndpointId(id: string): { route: string; endpoint: string } | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(id)) return undefined;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const nl = text.indexOf('\n');
  if (nl <= 0 || nl === text.length - 1) return undefined;
  return { route: text.slice(0, nl), endpoint: text.slice(nl + 1) };
}

export interface RouteVerdict {
  readonly route: string;
  readonly verdict: Verdict;
  readonly thresholds: Thresholds;
}

export type EndpointVerdictWithId = EndpointVerdict & { readonly id: string };

/** The verdict over every compared route: each route judged with its own thresholds. */
export interface FullVerdict extends Omit<VerdictReport, 'endpoints'> {
  readonly routes: readonly RouteVerdict[];
  readonly endpoints: readonly EndpointVerdictWithId[];
}

export class BadRequest extends Error {}

function overall(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.includes('fail')) return 'fail';
  if (verdicts.includes('pass')) return 'pass';
  return 'insufficient_data';
}

export function createCompareApi(deps: CompareApiDeps) {
  const now = deps.now ?? Date.now;

  async function marks(route?: string): Promise<NoiseMark[]> {
    const stored = await deps.store().noiseMarks(route);
    const fromConfig = deps.configNoise().filter((m) => route === undefined || m.route === route);
    return [...fromConfig, ...stored];
  }

  async function verdict(filter: { route?: string } = {}): Promise<FullVerdict> {
    await deps.flush?.();
    const rows = await deps.store().aggregates(filter.route !== undefined ? { route: filter.route } : undefined);
    const allMarks = await marks(filter.route);
    const byRoute = new Map<string, EndpointAggregate[]>();
    for (const r of rows) {
      let list = byRoute.get(r.route);
      if (!list) byRoute.set(r.route, (list = []));
      list.push(r);
    }
    const table = deps.thresholds();
    const routes: RouteVerdict[] = [];
    const endpoints: EndpointVerdictWithId[] = [];
    const at = now();
    for (const [route, list] of [...byRoute].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const t = table.get(route) ?? deps.defaults();
      const report = computeVerdict(
        list,
        allMarks.filter((m) => m.route === route),
        t,
        at,
      );
      routes.push({ route, verdict: report.verdict, thresholds: t });
      for (const e of report.endpoints) endpoints.push({ id: endpointId(e.route, e.endpoint), ...e });
    }
    const summary = {
      endpoints: endpoints.length,
      pass: endpoints.filter((e) => e.verdict === 'pass').length,
      fail: endpoints.filter((e) => e.verdict === 'fail').length,
      insufficient_data: endpoints.filter((e) => e.verdict === 'insufficient_data').length,
    };
    return { generatedAt: at, verdict: overall(routes.map((r) => r.verdict)), thresholds: deps.defaults(), summary, routes, endpoints };
  }

  async function endpoint(id: string) {
    const key = parseEndpointId(id);
    if (!key) throw new BadRequest('not an endpoint id (see GET /api/v1/endpoints)');
    await deps.flush?.();
    const rows = await deps.store().aggregates(key);
    if (rows.length === 0) return undefined;
    const routeMarks = await marks(key.route);
    const t = deps.thresholds().get(key.route) ?? deps.defaults();
    const report = computeVerdict(rows, routeMarks, t, now());
    const secondary = rows.filter((r) => r.role === 'secondary');
    const noiseCompared = secondary.reduce((n, r) => n + r.compared, 0);
    const noiseOf = (field: string) => secondary.reduce((n, r) => n + (r.fields[field] ?? 0), 0);
    const fields: Array<Record<string, unknown>> = [];
    for (const r of rows) {
      if (r.role !== 'candidate') continue;
      for (const [field, raw] of Object.entries(r.fields)) {
        const counts = { raw, compared: r.compared, noise: noiseOf(field), noiseCompared };
        const rates = fieldRates(counts);
        const marked = isMarkedNoise(field, key.endpoint, key.route, routeMarks);
        fields.push({
          field,
          upstream: r.upstream,
          raw,
          rawRate: rates.rawRate,
          noise: counts.noise,
          noiseRate: rates.noiseRate,
          markedNoise: marked,
          regression: !marked && isRegression(counts, t),
        });
      }
    }
    // fields only the secondary differed on (pure noise) are listed too, with raw 0
    for (const r of secondary)
      for (const [field, noise] of Object.entries(r.fields))
        if (!fields.some((f) => f.field === field))
          fields.push({ field, upstream: r.upstream, raw: 0, rawRate: 0, noise, noiseRate: noiseCompared ? noise / noiseCompared : 0, markedNoise: isMarkedNoise(field, key.endpoint, key.route, routeMarks), regression: false });
    fields.sort((a, b) => (b.raw as number) - (a.raw as number) || String(a.field).localeCompare(String(b.field)));
    return {
      id,
      route: key.route,
      endpoint: key.endpoint,
      verdict: report.verdict,
      thresholds: t,
      candidates: report.endpoints.map((e) => ({ id, ...e })),
      fields,
      noiseMarks: routeMarks.filter((m) => m.endpoint === '*' || m.endpoint === key.endpoint),
      rows,
    };
  }

  async function diffs(q: { endpoint: string; field?: string; upstream?: string; limit?: number }) {
    const key = parseEndpointId(q.endpoint);
    if (!key) throw new BadRequest('endpoint= must be an endpoint id (see GET /api/v1/endpoints)');
    const limit = q.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new BadRequest('limit must be a whole number from 1 to 200');
    await deps.flush?.();
    const examples = await deps.store().examples({
      route: key.route,
      endpoint: key.endpoint,
      ...(q.field !== undefined ? { field: q.field } : {}),
      ...(q.upstream !== undefined ? { upstream: q.upstream } : {}),
      limit,
    });
    return { endpoint: q.endpoint, route: key.route, name: key.endpoint, examples };
  }

  async function markNoise(body: unknown) {
    const b = body as { endpoint?: unknown; route?: unknown; field?: unknown; remove?: unknown } | null;
    if (!b || typeof b !== 'object') throw new BadRequest('expected a JSON object {endpoint, field} or {route, endpoint: "*", field}');
    if (typeof b.field !== 'string' || b.field === '' || b.field.length > 512) throw new BadRequest('field must be a non-empty string (a field path such as $.meta.generatedAt)');
    let route: string;
    let name: string;
    if (b.endpoint === '*') {
      if (typeof b.route !== 'string' || b.route === '') throw new BadRequest('route is required when endpoint is "*"');
      route = b.route;
      name = '*';
    } else {
      const key = typeof b.endpoint === 'string' ? parseEndpointId(b.endpoint) : undefined;
      if (!key) throw new BadRequest('endpoint must be an endpoint id (see GET /api/v1/endpoints) or "*" with a route');
      route = key.route;
      name = key.endpoint;
    }
    if (b.remove === true) {
      const removed = await deps.store().unmarkNoise({ route, endpoint: name, field: b.field });
      return { removed };
    }
    const mark: NoiseMark = { route, endpoint: name, field: b.field, at: now(), source: 'api' };
    await deps.store().markNoise(mark);
    return { marked: mark };
  }

  async function reset(body: unknown) {
    const b = (body ?? {}) as { endpoint?: unknown; route?: unknown };
    if (typeof b !== 'object') throw new BadRequest('expected a JSON object {} , {route} or {endpoint}');
    if (b.endpoint !== undefined) {
      const key = typeof b.endpoint === 'string' ? parseEndpointId(b.endpoint) : undefined;
      if (!key) throw new BadRequest('endpoint must be an endpoint id');
      return { deleted: await deps.store().reset(key) };
    }
    if (b.route !== undefined) {
      if (typeof b.route !== 'string' || b.route === '') throw new BadRequest('route must be a route name');
      return { deleted: await deps.store().reset({ route: b.route }) };
    }
    return { deleted: await deps.store().reset() };
  }

  return { verdict, endpoint, diffs, markNoise, reset };
}

export type CompareApi = ReturnType<typeof createCompareApi>;

/** Each compared route's thresholds. */
export function routeThresholds(config: ResolvedConfig): Map<string, Thresholds> {
  return new Map(config.routes.flatMap((r) => (r.compare ? [[r.name, r.compare.thresholds] as const] : [])));
}

/** compare.noise of every route, as marks (source: config). */
export function configNoise(config: ResolvedConfig): NoiseMark[] {
  return config.routes.flatMap((r) => (r.compare ? r.compare.noise.map((field) => ({ route: r.name, endpoint: '*', field, at: 0, source: 'config' as const })) : []));
}

/** The compare API over a store, with thresholds and noise marks read from the (current) config. */
export function compareApiFor(store: () => Store, config: () => ResolvedConfig, flush?: () => Promise<void>): CompareApi {
  return createCompareApi({
    store,
    thresholds: () => routeThresholds(config()),
    defaults: () => config().compare.thresholds,
    configNoise: () => configNoise(config()),
    ...(flush ? { flush } : {}),
  });
}
