// The Kubernetes artefacts are valid without a cluster: helm lints and renders the chart, every object passes the
// Kubernetes schemas with no unknown field, every embedded tapwire.yaml loads; and the checker does reject bad objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkAll, checkObject, findHelm, ROOT } from '../scripts/check-k8s.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely to plant defects
const deployment = (): Record<string, any> => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'tapwire', labels: { 'app.kubernetes.io/name': 'tapwire' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'tapwire' } },
    template: {
      metadata: { labels: { app: 'tapwire' }, annotations: { 'prometheus.io/scrape': 'true' } },
      spec: {
        containers: [
          {
            name: 'tapwire',
            image: 'tapwire:1',
            ports: [{ name: 'admin', containerPort: 9901 }],
            readinessProbe: { httpGet: { path: '/readyz', port: 'admin' } },
            resources: { limits: { memory: '512Mi' } },
          },
        ],
      },
    },
  },
});

const configMap = (yaml: string): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'tapwire' }, data: { 'tapwire.yaml': yaml } });

test('a valid Deployment passes the checker (so the rejections below are about the defect, not the fixture)', () => {
  assert.deepEqual(checkObject(deployment()), []);
});

test('rejects an unknown field anywhere in an object, with its path', () => {
  const top = deployment();
  top.spec.replica = 3;
  assert.deepEqual(checkObject(top), ['spec.replica: unknown field']);
  const deep = deployment();
  deep.spec.template.spec.containers[0].ports[0].nmae = 'admin';
  assert.deepEqual(checkObject(deep), ['spec.template.spec.containers[0].ports[0].nmae: unknown field']);
  const probe = deployment();
  probe.spec.template.spec.containers[0].readinessProbe.httpGet.paht = '/readyz';
  assert.match(checkObject(probe).join('\n'), /readinessProbe\.httpGet\.paht: unknown field/);
});

test('free-form maps (labels, annotations, resource quantities) are not unknown fields', () => {
  const d = deployment();
  d.metadata.labels['anything.example.com/whatever'] = 'x';
  d.spec.template.spec.containers[0].resources.requests = { cpu: '250m', 'example.com/gpu': '1' };
  assert.deepEqual(checkObject(d), []);
});

test('rejects a wrong type and a missing required field', () => {
  const wrongType = deployment();
  wrongType.spec.replicas = 'two';
  assert.match(checkObject(wrongType).join('\n'), /replicas/);
  const missing = deployment();
  delete missing.spec.selector;
  assert.match(checkObject(missing).join('\n'), /selector/);
});

test('rejects a kind it has no schema for, and a hard-coded namespace', () => {
  assert.match(checkObject({ apiVersion: 'apps/v1', kind: 'StatefulSett', metadata: { name: 'x' } }).join('\n'), /no schema for this kind/);
  const d = deployment();
  d.metadata.namespace = 'prod';
  assert.match(checkObject(d).join('\n'), /namespace-agnostic/);
});

test('checks the hand-listed Istio fields: mirrorPercentage passes, a misspelt key does not', () => {
  const vs = (http: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'orders' }, spec: { hosts: ['orders'], http: [http] } });
  const route = [{ destination: { host: 'orders', subset: 'v1' }, weight: 100 }];
  assert.deepEqual(checkObject(vs({ route, mirror: { host: 'tapwire', port: { number: 80 } }, mirrorPercentage: { value: 10 } })), []);
  assert.deepEqual(checkObject(vs({ route, mirror: { host: 'tapwire' }, mirrorPercent: 10 })), ['spec.http[0].mirrorPercent: unknown field']);
});

test('loads an embedded tapwire.yaml with tapwire’s own config loader and reports its errors with their paths', () => {
  const good = 'listen: 0.0.0.0:8080\nadmin:\n  listen: 0.0.0.0:9901\n  token: ${TAPWIRE_ADMIN_TOKEN}\nupstreams: { a: { url: http://a:80 } }\nroutes: [{ name: r, primary: a }]\n';
  assert.deepEqual(checkObject(configMap(good)), []);
  // beyond loopback without a token: tapwire refuses it, so must the check
  const noToken = 'listen: 0.0.0.0:8080\nadmin: { listen: 0.0.0.0:9901 }\nupstreams: { a: { url: http://a:80 } }\nroutes: [{ name: r, primary: a }]\n';
  assert.match(checkObject(configMap(noToken)).join('\n'), /admin/);
  const badPercent = good.replace('primary: a', 'primary: a, mirrors: [{ upstream: a, percentage: 120 }]');
  assert.match(checkObject(configMap(badPercent)).join('\n'), /routes\[0\]\.mirrors\[0\]\.percentage/);
});

// helm: fetched by scripts/fetch-helm.sh (CI runs it first). Outside CI a missing helm skips this test.
function helmOrSkip(): string | undefined {
  if (process.env.HELM || process.env.CI === 'true') return findHelm();
  const cached = join(ROOT, '.cache/helm/helm/helm');
  return existsSync(cached) ? cached : undefined;
}

test('the chart lints and renders, bad values fail lint, and every shipped object and config is valid', (t) => {
  const helmBin = helmOrSkip();
  if (!helmBin) {
    t.skip('helm not found: run scripts/fetch-helm.sh (required when CI=true)');
    return;
  }
  const { failures, checked } = checkAll(helmBin);
  assert.deepEqual(failures, []);
  // the defaults, the options file, the plain manifests and the three examples all went through
  for (const what of [/helm lint rejects ci\/bad-values\.yaml/, /helm template \(defaults\): Deployment/, /helm template \(options-values\.yaml\): HorizontalPodAutoscaler/, /deploy\/kubernetes\/deployment\.yaml: Deployment/, /sidecar\.yaml: Deployment/, /istio-collector\.yaml: VirtualService/, /in-front-of-service\.yaml: Deployment/]) {
    assert.ok(checked.some((c) => what.test(c)), `nothing checked matches ${String(what)}`);
  }
});
