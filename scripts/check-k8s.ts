// Checks tapwire's Kubernetes artefacts without a cluster (docs/kubernetes.md, "What CI checks"): the Helm chart
// is linted and rendered, every object (plain manifests, examples, rendered chart) is validated against the
// Kubernetes schemas of kubernetes-models and rejected if it carries a field those schemas do not know, and every
// tapwire.yaml embedded in a ConfigMap is loaded by tapwire's own config loader.
// Usage: npm run check:k8s [-- --helm PATH]   (without --helm: $HELM, else scripts/fetch-helm.sh)
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Secret, Service, ServiceAccount, PersistentVolumeClaim } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { formatIssues, loadConfigText } from '../src/config/load.ts';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const CHART = join(ROOT, 'deploy/helm/tapwire');

/** One object to check, and where it came from (file, or `helm template` with a values file). */
export interface Doc {
  readonly source: string;
  readonly object: Record<string, unknown>;
}

/** The models' validate(): the same function whether called on a model instance or on a plain object. */
type Validator = { prototype: { validate: (this: unknown) => void } };

/** The kinds tapwire ships, by `apiVersion/kind`. Anything else is an error: add it here with its model. */
const MODELS: ReadonlyMap<string, Validator> = new Map<string, Validator>([
  ['v1/ConfigMap', ConfigMap],
  ['v1/Secret', Secret],
  ['v1/Service', Service],
  ['v1/ServiceAccount', ServiceAccount],
  ['v1/PersistentVolumeClaim', PersistentVolumeClaim],
  ['apps/v1/Deployment', Deployment],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
  ['autoscaling/v2/HorizontalPodAutoscaler', HorizontalPodAutoscaler],
]);

/**
 * Istio's CRDs are not in kubernetes-models: a hand list of the fields the examples may use (Istio's
 * networking/v1 API). `*` is a map with free keys; a nested object is checked the same way.
 */
type Shape = { readonly [key: string]: Shape | 'leaf' | readonly [Shape | 'leaf'] };
const META: Shape = { name: 'leaf', namespace: 'leaf', labels: 'leaf', annotations: 'leaf' };
const DESTINATION: Shape = { host: 'leaf', subset: 'leaf', port: { number: 'leaf' } };
const PERCENT: Shape = { value: 'leaf' };
const CRD_SHAPES: ReadonlyMap<string, Shape> = new Map<string, Shape>([
  [
    'networking.istio.io/v1/VirtualService',
    {
      apiVersion: 'leaf',
      kind: 'leaf',
      metadata: META,
      spec: {
        hosts: ['leaf'],
        gateways: ['leaf'],
        exportTo: ['leaf'],
        http: [
          {
            name: 'leaf',
            match: 'leaf',
            route: [{ destination: DESTINATION, weight: 'leaf', headers: 'leaf' }],
            mirror: DESTINATION,
            mirrorPercentage: PERCENT,
            mirrors: [{ destination: DESTINATION, percentage: PERCENT }],
            timeout: 'leaf',
            retries: 'leaf',
            headers: 'leaf',
          },
        ],
      },
    },
  ],
  [
    'networking.istio.io/v1/DestinationRule',
    {
      apiVersion: 'leaf',
      kind: 'leaf',
      metadata: META,
      spec: { host: 'leaf', trafficPolicy: 'leaf', exportTo: ['leaf'], subsets: [{ name: 'leaf', labels: 'leaf', trafficPolicy: 'leaf' }] },
    },
  ],
]);

/** Environment for `${VAR}` in the shipped configs: the variables the manifests set from Secrets. */
export const CONFIG_ENV: Readonly<Record<string, string>> = {
  TAPWIRE_ADMIN_TOKEN: 'ci-placeholder-token-0123456789abcdef',
  PGPASSWORD: 'ci-placeholder',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Fields of `object` that the validator never looked at. kubernetes-models' validators are compiled JSON schemas
 * that read every property their schema declares (and enumerate the keys of free-form maps such as labels), but
 * ignore the rest: running one over a proxy that records each read shows which fields no schema knows.
 */
function unreadFields(validate: () => void, object: Record<string, unknown>): string[] {
  const seen = new WeakMap<object, Set<string>>();
  const wrap = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    let keys = seen.get(v);
    if (!keys) seen.set(v, (keys = new Set()));
    const read = keys;
    return new Proxy(v, {
      get(target, key, receiver) {
        if (typeof key === 'string') read.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
      ownKeys(target) {
        for (const key of Reflect.ownKeys(target)) if (typeof key === 'string') read.add(key);
        return Reflect.ownKeys(target);
      },
    });
  };
  try {
    validate.call(wrap(object));
  } catch {
    // schema errors are reported by the plain validation; here only the reads matter
  }
  const unknown: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (typeof v !== 'object' || v === null) return;
    const keys = seen.get(v);
    for (const [key, child] of Object.entries(v)) {
      const at = Array.isArray(v) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (!Array.isArray(v) && !keys?.has(key)) unknown.push(at);
      else walk(child, at);
    }
  };
  walk(object, '');
  return unknown;
}

function checkShape(value: unknown, shape: Shape | 'leaf' | readonly [Shape | 'leaf'], path: string, out: string[]): void {
  if (shape === 'leaf' || value === null || value === undefined) return;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return void out.push(`${path}: must be a list`);
    value.forEach((item, i) => checkShape(item, shape[0] as Shape | 'leaf', `${path}[${i}]`, out));
    return;
  }
  if (!isObject(value)) return void out.push(`${path}: must be a mapping`);
  const s = shape as Shape;
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const sub = s[key];
    if (sub === undefined) out.push(`${at}: unknown field`);
    else checkShape(child, sub, at, out);
  }
}

/** Every problem of one object: schema errors, unknown fields, an unknown kind, an embedded tapwire.yaml that does not load. */
export function checkObject(object: Record<string, unknown>): string[] {
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '?';
  const kind = typeof object.kind === 'string' ? object.kind : '?';
  const key = `${apiVersion}/${kind}`;
  const problems: string[] = [];
  const model = MODELS.get(key);
  const shape = CRD_SHAPES.get(key);
  if (model) {
    const validate = model.prototype.validate;
    try {
      validate.call(object);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    for (const field of unreadFields(validate, object)) problems.push(`${field}: unknown field`);
  } else if (shape) {
    checkShape(object, shape, '', problems);
  } else {
    problems.push(`${key}: no schema for this kind (scripts/check-k8s.ts, MODELS)`);
  }
  const meta = object.metadata;
  if (!isObject(meta) || typeof meta.name !== 'string' || meta.name === '') problems.push('metadata.name: required');
  if (isObject(meta) && meta.namespace !== undefined) problems.push('metadata.namespace: the manifests are namespace-agnostic (kubectl -n / helm -n choose it)');
  if (kind === 'ConfigMap' && isObject(object.data)) {
    for (const [name, text] of Object.entries(object.data)) {
      if (!/^tapwire\.ya?ml$/.test(name) || typeof text !== 'string') continue;
      const loaded = loadConfigText(text, { path: `data.${name}`, env: CONFIG_ENV });
      if (!loaded.ok) problems.push(`data.${name} is not a valid tapwire configuration:\n${formatIssues(loaded.issues, `data.${name}`)}`);
    }
  }
  return problems;
}

/** The objects of a multi-document YAML text; a YAML error is thrown with the source named. */
export function parseDocs(text: string, source: string): Doc[] {
  const docs: Doc[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isObject(value)) throw new Error(`${source}: a document is not a mapping`);
    docs.push({ source, object: value });
  }
  return docs;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(name) && name !== 'kustomization.yaml' ? [path] : [];
    });
}

/** The plain manifests and the examples. */
export function fileDocs(): Doc[] {
  return [join(ROOT, 'deploy/kubernetes'), join(ROOT, 'deploy/examples')].flatMap((dir) =>
    yamlFiles(dir).flatMap((file) => parseDocs(readFileSync(file, 'utf8'), relative(ROOT, file))),
  );
}

/** Runs helm; returns the exit status and everything it printed. */
export function helm(helmBin: string, args: readonly string[]): { status: number; output: string } {
  const r = spawnSync(helmBin, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
}

/** The chart rendered with its defaults and with every values file under ci/ except bad-*.yaml. */
export function chartRenders(): Array<{ name: string; args: string[] }> {
  const ci = join(CHART, 'ci');
  const files = readdirSync(ci).filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('bad-')).sort();
  return [{ name: 'defaults', args: [] }, ...files.map((f) => ({ name: f, args: ['-f', join(ci, f)] }))];
}

export function findHelm(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.HELM) return process.env.HELM;
  const out = execFileSync('bash', [join(ROOT, 'scripts/fetch-helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').at(-1)!;
}

/** Everything, as a list of failures (empty: all good) and a list of what was checked. */
export function checkAll(helmBin: string): { failures: string[]; checked: string[] } {
  const failures: string[] = [];
  const checked: string[] = [];
  const docs: Doc[] = [];
  try {
    docs.push(...fileDocs());
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
  }
  for (const { name, args } of chartRenders()) {
    const lint = helm(helmBin, ['lint', '--strict', CHART, ...args]);
    if (lint.status !== 0) failures.push(`helm lint (${name}) failed:\n${lint.output}`);
    const rendered = helm(helmBin, ['template', 'tapwire', CHART, ...args]);
    if (rendered.status !== 0) failures.push(`helm template (${name}) failed:\n${rendered.output}`);
    else docs.push(...parseDocs(rendered.output, `helm template (${name})`));
  }
  // values.schema.json must turn bad values into a lint failure, not a silently broken release.
  const ci = join(CHART, 'ci');
  for (const bad of readdirSync(ci).filter((f) => f.startsWith('bad-')).sort()) {
    const lint = helm(helmBin, ['lint', CHART, '-f', join(ci, bad)]);
    if (lint.status === 0) failures.push(`helm lint accepted ci/${bad}, which values.schema.json must reject`);
    else checked.push(`helm lint rejects ci/${bad}`);
  }
  for (const doc of docs) {
    const name = isObject(doc.object.metadata) ? String(doc.object.metadata.name) : '?';
    const what = `${doc.source}: ${String(doc.object.kind)} ${name}`;
    const problems = checkObject(doc.object);
    if (problems.length) failures.push(`${what}\n  ${problems.join('\n  ')}`);
    else checked.push(what);
  }
  return { failures, checked };
}

function main(argv: string[]): number {
  const i = argv.indexOf('--helm');
  const helmBin = findHelm(i >= 0 ? argv[i + 1] : undefined);
  const { failures, checked } = checkAll(helmBin);
  for (const c of checked) process.stdout.write(`ok   ${c}\n`);
  for (const f of failures) process.stderr.write(`FAIL ${f}\n`);
  process.stdout.write(`check-k8s: ${checked.length} ok, ${failures.length} failed\n`);
  return failures.length ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = main(process.argv.slice(2));
