// Routing through the real listener: every match condition, first match wins, and no match is a 404 JSON error
// that reaches no upstream. Each route has its own upstream, which answers "hello from ROUTE".
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { LISTEN, errorCode, request, startTapwire, startUpstream, type Running, type Upstream } from './helpers/harness.ts';

const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['host-exact', 'host: api.example.com'],
  ['host-suffix', 'host: "*.example.org"'],
  ['path-exact', 'path: { exact: /exact }'],
  ['first-a', 'path: { prefix: /first/ }'],
  ['first-b', 'path: { prefix: /first/deeper/ }'],
  ['path-regex', "path: { regex: '^/items/[0-9]+$' }"],
  ['methods', 'path: { prefix: /m/ }\n      methods: [DELETE, patch]'],
  ['hdr-exact', 'path: { prefix: /h/ }\n      headers: { x-beta: { exact: "1" } }'],
  ['hdr-prefix', 'path: { prefix: /h/ }\n      headers: { X-Client: { prefix: mobile- } }'],
  ['hdr-regex', "path: { prefix: /h/ }\n      headers: { x-ver: { regex: '^v[0-9]+$' } }"],
  ['hdr-presence', 'path: { prefix: /h/ }\n      headers: { x-a: { present: true }, x-b: { absent: true } }'],
  ['query', 'path: { prefix: /q }\n      query: { debug: { exact: "1" }, trace: { absent: true } }'],
  ['sources', 'path: { prefix: /s }\n      sources: [10.0.0.0/8, "2001:db8::/32"]'],
  ['prefix', 'path: { prefix: /prefix/ }'],
];

function yaml(trusted: string): string {
  return `${LISTEN}trustedProxies: ${trusted}
upstreams:
${ROUTES.map(([name]) => `  ${name}: { url: ${upstreams.get(name)!.url} }`).join('\n')}
routes:
${ROUTES.map(([name, match]) => `  - name: ${name}\n    primary: ${name}\n    match:\n      ${match}`).join('\n')}
`;
}

const upstreams = new Map<string, Upstream>();
let tw: Running;

before(async () => {
  for (const [name] of ROUTES) upstreams.set(name, await startUpstream(name));
  tw = await startTapwire(yaml('[]'));
});
after(async () => {
  await tw.stop();
  for (const u of upstreams.values()) await u.close();
});

const received = (): number => [...upstreams.values()].reduce((n, u) => n + u.requests.length, 0);

interface Case {
  readonly method?: string;
  readonly path: string;
  readonly headers?: readonly string[];
  /** the route expected to answer, or null for no route */
  readonly route: string | null;
}

async function check(cases: readonly Case[]): Promise<void> {
  for (const c of cases) {
    const before = received();
    const r = await request(tw.port, { method: c.method ?? 'GET', path: c.path, headers: c.headers ?? [] });
    const what = `${c.method ?? 'GET'} ${c.path} ${JSON.stringify(c.headers ?? [])}`;
    if (c.route === null) {
      assert.equal(r.status, 404, `${what} should match no route, got ${r.status} ${r.body.toString()}`);
      assert.equal(errorCode(r), 'TW_ERR_NO_ROUTE', what);
      assert.equal(received(), before, `${what}: an upstream received a request although no route matched`);
    } else {
      assert.equal(r.body.toString(), `hello from ${c.route}`, `${what} should go to ${c.route}`);
      assert.equal(received(), before + 1, what);
    }
  }
}

describe('routing', () => {
  test('host matches exactly (port and case ignored) and *.suffix matches subdomains only, anchored', async () => {
    await check([
      { path: '/anything', headers: ['Host', 'api.example.com'], route: 'host-exact' },
      { path: '/anything', headers: ['Host', 'API.Example.COM:8080'], route: 'host-exact' },
      { path: '/nothing', headers: ['Host', 'api.example.com.evil.tld'], route: null },
      { path: '/nothing', headers: ['Host', 'xapi.example.com'], route: null },
      { path: '/anything', headers: ['Host', 'www.example.org'], route: 'host-suffix' },
      { path: '/anything', headers: ['Host', 'a.b.example.org:443'], route: 'host-suffix' },
      { path: '/nothing', headers: ['Host', 'example.org'], route: null },
      { path: '/nothing', headers: ['Host', 'evilexample.org'], route: null },
    ]);
  });

  test('path matches exact, prefix and regex, never against the query', async () => {
    await check([
      { path: '/exact', route: 'path-exact' },
      { path: '/exact?x=1', route: 'path-exact' },
      { path: '/exact/', route: null },
      { path: '/exactly', route: null },
      { path: '/items/42', route: 'path-regex' },
      { path: '/items/42?page=2', route: 'path-regex' },
      { path: '/items/42/x', route: null },
      { path: '/items/abc', route: null },
      { path: '/prefix/a/b', route: 'prefix' },
      { path: '/prefixx', route: null },
    ]);
  });

  test('the first matching route wins even when a later one is more specific', async () => {
    await check([{ path: '/first/deeper/x', route: 'first-a' }]);
    assert.equal(upstreams.get('first-b')!.requests.length, 0);
  });

  test('methods match case-insensitively in the config and exactly on the wire', async () => {
    await check([
      { method: 'DELETE', path: '/m/x', route: 'methods' },
      { method: 'PATCH', path: '/m/x', route: 'methods' },
      { method: 'GET', path: '/m/x', route: null },
      { method: 'POST', path: '/m/x', route: null },
    ]);
  });

  test('headers match exact, prefix, regex, present and absent, by case-insensitive name', async () => {
    await check([
      { path: '/h/1', headers: ['X-Beta', '1'], route: 'hdr-exact' },
      { path: '/h/1', headers: ['x-beta', '10'], route: null },
      { path: '/h/1', headers: ['x-client', 'mobile-ios'], route: 'hdr-prefix' },
      { path: '/h/1', headers: ['x-client', 'web-mobile-'], route: null },
      { path: '/h/1', headers: ['x-ver', 'v12'], route: 'hdr-regex' },
      { path: '/h/1', headers: ['x-ver', 'v1x'], route: null },
      { path: '/h/1', headers: ['x-a', ''], route: 'hdr-presence' },
      { path: '/h/1', headers: ['x-a', 'yes', 'x-b', 'yes'], route: null },
      { path: '/h/1', route: null },
    ]);
  });

  test('query parameters match by value and absence', async () => {
    await check([
      { path: '/q?debug=1', route: 'query' },
      { path: '/q?a=b&debug=1', route: 'query' },
      { path: '/q?debug=1&trace=1', route: null },
      { path: '/q?debug=2', route: null },
      { path: '/q', route: null },
    ]);
  });

  test('sources match the peer address, and X-Forwarded-For only when the peer is a trusted proxy', async () => {
    // No trusted proxies: the peer (127.0.0.1) decides, whatever the client claims.
    await check([
      { path: '/s', headers: ['X-Forwarded-For', '10.1.2.3'], route: null },
      { path: '/s', route: null },
    ]);
    // A trusted proxy list that does not include the peer: still ignored.
    tw.reload(yaml('[192.0.2.0/24]'));
    await check([{ path: '/s', headers: ['X-Forwarded-For', '10.1.2.3'], route: null }]);
    // The peer is trusted: the right-most untrusted X-Forwarded-For entry is the client.
    tw.reload(yaml('[127.0.0.0/8]'));
    await check([
      { path: '/s', headers: ['X-Forwarded-For', '10.1.2.3'], route: 'sources' },
      { path: '/s', headers: ['X-Forwarded-For', '10.9.9.9, 127.0.0.1'], route: 'sources' },
      { path: '/s', headers: ['X-Forwarded-For', '192.168.1.1, 10.1.2.3'], route: 'sources' },
      { path: '/s', headers: ['X-Forwarded-For', '10.1.2.3, 192.168.1.1'], route: null },
      { path: '/s', headers: ['X-Forwarded-For', '2001:db8::7'], route: 'sources' },
      { path: '/s', headers: ['X-Forwarded-For', 'not-an-ip'], route: null },
      { path: '/s', route: null },
    ]);
    tw.reload(yaml('[]'));
  });
});

describe('no route', () => {
  test('no match is a 404 with a JSON error carrying TW_ERR_NO_ROUTE, and the connection stays usable', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = received();
      const r = await request(tw.port, { path: '/nowhere', agent });
      assert.equal(r.status, 404);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      const body = JSON.parse(r.body.toString()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'TW_ERR_NO_ROUTE');
      assert.equal(typeof body.error.message, 'string');
      assert.equal(received(), before);
      const again = await request(tw.port, { path: '/exact', agent });
      assert.equal(again.body.toString(), 'hello from path-exact');
    } finally {
      agent.destroy();
    }
  });

  test('a request with a body that matches no route is answered 404 and its body reaches nobody', async () => {
    const before = received();
    const r = await request(tw.port, { method: 'POST', path: '/nowhere', body: 'x'.repeat(10_000) });
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'TW_ERR_NO_ROUTE');
    assert.equal(received(), before);
  });
});
