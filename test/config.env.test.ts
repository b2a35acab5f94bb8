// ${VAR} substitution: references, defaults, escapes, typing of unquoted values, and errors naming the key path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { substitute } from '../src/config/env.ts';
import { formatIssues, loadConfigText } from '../src/config/load.ts';

const BASE = (extra: string): string =>
  `listen: \${LISTEN:-127.0.0.1:8080}\nupstreams:\n  v1: { url: "\${V1_URL:-http://127.0.0.1:3001}" }\n  v2: { url: http://127.0.0.1:3002 }\nroutes:\n  - name: r\n    primary: v1\n${extra}`;

const cases: { text: string; env: Record<string, string | undefined>; want: string | RegExp }[] = [
  { text: 'plain', env: {}, want: 'plain' },
  { text: '${A}', env: { A: 'x' }, want: 'x' },
  { text: 'a-${A}-b-${B}', env: { A: '1', B: '2' }, want: 'a-1-b-2' },
  { text: '${A:-fallback}', env: {}, want: 'fallback' },
  { text: '${A:-fallback}', env: { A: '' }, want: 'fallback' },
  { text: '${A:-fallback}', env: { A: 'set' }, want: 'set' },
  { text: '${A:-}', env: {}, want: '' },
  { text: '${A}', env: { A: '' }, want: '' },
  { text: '$${A}', env: { A: 'x' }, want: '${A}' },
  { text: 'cost: $5', env: {}, want: 'cost: $5' },
  { text: '${A}', env: {}, want: /environment variable A is not set/ },
  { text: '${A', env: { A: 'x' }, want: /unterminated/ },
  { text: '${}', env: {}, want: /invalid variable reference/ },
  { text: '${A B}', env: {}, want: /invalid variable reference/ },
];

for (const c of cases) {
  test(`substitutes "${c.text}" with ${JSON.stringify(c.env)} as ${String(c.want)}`, () => {
    const r = substitute(c.text, c.env);
    if (typeof c.want === 'string') {
      assert.ok(r.ok, r.ok ? '' : r.message);
      assert.equal(r.value, c.want);
    } else {
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, c.want);
    }
  });
}

test('variables fill values anywhere in the document, with defaults', () => {
  const r = loadConfigText(BASE('    mirrors:\n      - upstream: v2\n        headers: { set: { x-env: "shadow-${STAGE}" } }\n'), { env: { STAGE: 'eu', LISTEN: '127.0.0.1:9000' } });
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  assert.deepEqual({ ...r.config.listen }, { host: '127.0.0.1', port: 9000 });
  assert.equal(r.config.upstreams.get('v1')!.urls[0]!.href, 'http://127.0.0.1:3001/');
  assert.deepEqual(r.config.routes[0]!.mirrors[0]!.setHeaders, [['x-env', 'shadow-eu']]);
});

test('an unquoted value that is one reference is typed like YAML; a quoted one stays a string', () => {
  const yaml = BASE('    mirrors:\n      - upstream: v2\n        percentage: ${PCT}\n        headers: { set: { x-n: "${N}" } }\n').replace('v2: { url: http://127.0.0.1:3002 }', 'v2:\n    url: http://127.0.0.1:3002\n    sandboxed: ${SANDBOX}');
  const r = loadConfigText(yaml, { env: { PCT: '12.5', N: '42', SANDBOX: 'true' } });
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  assert.equal(r.config.routes[0]!.mirrors[0]!.percentage, 12.5);
  assert.deepEqual(r.config.routes[0]!.mirrors[0]!.setHeaders, [['x-n', '42']]);
  assert.equal(r.config.upstreams.get('v2')!.sandboxed, true);
});

test('an unset variable is an error naming the key path and its line', () => {
  const r = loadConfigText(BASE('    mirrors:\n      - upstream: v2\n        timeout: ${MIRROR_TIMEOUT}\n'), { env: {} });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.issues, [
    { path: 'routes[0].mirrors[0].timeout', message: 'environment variable MIRROR_TIMEOUT is not set (write ${MIRROR_TIMEOUT:-default} to give a fallback)', line: 10, col: 18 },
  ]);
});

test('an unset variable is reported together with the other schema errors', () => {
  const r = loadConfigText(BASE('    mirrors:\n      - upstream: v2\n        timeout: ${MIRROR_TIMEOUT}\n        percentage: 300\n'), { env: {} });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.issues.map((i) => i.path), ['routes[0].mirrors[0].timeout', 'routes[0].mirrors[0].percentage']);
});

test('the process environment is never read when no env is given', () => {
  process.env.TAPWIRE_TEST_ONLY_VAR = '127.0.0.1:8081';
  try {
    const r = loadConfigText(BASE('').replace('${LISTEN:-127.0.0.1:8080}', '${TAPWIRE_TEST_ONLY_VAR}'));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.issues[0]!.message, /TAPWIRE_TEST_ONLY_VAR is not set/);
  } finally {
    delete process.env.TAPWIRE_TEST_ONLY_VAR;
  }
});

test('keys and comments are never substituted', () => {
  const r = loadConfigText(`# \${NOT_SET} in a comment is fine\n${BASE('')}`.replace('upstreams:\n', 'upstreams:\n  ${NAME}: { url: http://a }\n'), { env: { NAME: 'x' } });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.issues.map((i) => i.path), ['upstreams["${NAME}"]']);
});

test('a value shared through a YAML anchor is substituted once, where it is defined', () => {
  const yaml = BASE('    mirrors:\n      - &m { upstream: v2, headers: { set: { x-env: "${ENV}" } } }\n      - *m\n');
  const r = loadConfigText(yaml, { env: { ENV: 'shadow' } });
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  assert.deepEqual(r.config.routes[0]!.mirrors.map((m) => [m.name, m.setHeaders]), [
    ['v2', [['x-env', 'shadow']]],
    ['v2#2', [['x-env', 'shadow']]],
  ]);
});
