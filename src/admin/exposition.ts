// Renders a Registry as Prometheus text or OpenMetrics, chosen from the scraper's Accept header.
import { Registry } from 'prom-client';

export interface Exposition {
  readonly contentType: string;
  readonly body: string;
}

/**
 * True when the Accept header prefers OpenMetrics over the classic text format (Prometheus sends
 * `application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`).
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let om = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return om > 0 && om >= text;
}

// Renders of one registry run one at a time: see renderOpenMetrics for why they may not interleave.
const queues = new WeakMap<Registry, Promise<unknown>>();

export function renderMetrics(registry: Registry, openMetrics: boolean): Promise<Exposition> {
  const run = () => (openMetrics ? renderOpenMetrics(registry) : renderText(registry));
  const next = (queues.get(registry) ?? Promise.resolve()).then(run, run);
  queues.set(registry, next.catch(() => undefined));
  return next;
}

async function renderText(registry: Registry): Promise<Exposition> {
  return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: await registry.metrics() };
}

/**
 * prom-client 15 renders OpenMetrics by switching the registry's content type and by renaming every
 * counter in place (`tapwire_requests_total` → `tapwire_requests`) without renaming it back: one
 * OpenMetrics scrape would otherwise break every later Prometheus-text scrape. We restore both
 * afterwards, and the queue above keeps a concurrent text scrape from seeing the renamed state.
 */
async function renderOpenMetrics(registry: Registry): Promise<Exposition> {
  // Registry<T> fixes its content type in the type system; at run time prom-client allows switching both ways.
  const switchable = registry as unknown as { contentType: string; setContentType(type: string): void };
  const previousType = switchable.contentType;
  const names = registry.getMetricsAsArray().map((metric) => [metric, metric.name] as const);
  switchable.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  try {
    return { contentType: Registry.OPENMETRICS_CONTENT_TYPE, body: await registry.metrics() };
  } finally {
    switchable.setContentType(previousType);
    for (const [metric, name] of names) metric.name = name;
  }
}
