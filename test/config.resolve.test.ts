// Resolution: matchers, CIDRs, names, derived defaults and the deep freeze of the result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromObject } from '../src/config/resolve.ts';
import { formatIssues, loadConfigText } from '../src/config/load.ts';
import type { ResolvedConfig } from '../src/config/types.ts';

function resolved(yaml: string): ResolvedConfig {
  const r = loadConfigText(yaml);
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  return r.config;
}

const HEAD = 'listen: 127.0.0.1:8080\nupstreams:\n  v1: { url: http://127.0.0.1:3001 }\n  v2: { url: "http://[::1]:3002", timeout: 2s, sandboxed: true }\n  v3: { url: https://shadow.internal, timeout: 9s }\n';

test('the resolved config is deeply frozen, its upstream map included', () => {
  const c = resolved(`${HEAD}routes:\n  - name: r\n    primary: v1\n    mirrors: [{ upstream: v2 }]\n`);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.limits));
  assert.ok(Object.isFrozen(c.routes));
  assert.ok(Object.isFrozen(c.routes[0]!.mirrors[0]!.methods));
  assert.throws(() => {
    (c.limits as { maxHeaders: number }).maxHeaders = 1;
  }, TypeError);
  assert.throws(() => (c.routes as unknown[]).push({}), TypeError);
  assert.throws(() => (c.upstreams as Map<string, unknown>).set('x', {}), /read-only/);
  assert.throws(() => (c.upstreams as Map<string, unknown>).delete('v1'), /read-only/);
  assert.ok(Object.isFrozen(c.upstreams.get('v1')));
  assert.equal(c.upstreams.size, 3);
});

test('host rules are lower-cased and *.domain becomes a suffix', () => {
  const c = resolved(`${HEAD}routes:\n  - { name: a, primary: v1, match: { host: "*.Example.COM" } }\n  - { name: b, primary: v1, match: { host: API.example.com. } }\n`);
  assert.deepEqual(c.routes[0]!.match.host, { suffix: '.example.com' });
  assert.deepEqual(c.routes[1]!.match.host, { exact: 'api.example.com' });
});

test('regex matchers test unanchored, in linear time, like RegExp#test', () => {
  const c = resolved(`${HEAD}routes:\n  - name: r\n    primary: v1\n    match:\n      path: { regex: "^/users/[0-9]+$" }\n      headers: { X-Tenant: { regex: "acme" } }\n      query: { Debug: { prefix: "1" } }\n`);
  const path = c.routes[0]!.match.path!;
  assert.equal(path.kind, 'regex');
  if (path.kind !== 'regex') return;
  assert.equal(path.source, '^/users/[0-9]+$');
  assert.equal(path.test('/users/42'), true);
  assert.equal(path.test('/users/42/orders'), false);
  const [name, header] = c.routes[0]!.match.headers![0]!;
  assert.equal(name, 'x-tenant');
  assert.ok(header.kind === 'regex' && header.test('the-acme-corp'));
  assert.deepEqual(c.routes[0]!.match.query, [['Debug', { kind: 'prefix', value: '1' }]], 'query names keep their case');
  // (a+)+$ backtracks exponentially in RegExp; RE2 answers at once.
  const evil = resolved(`${HEAD}routes:\n  - { name: r, primary: v1, match: { path: { regex: "^/(a+)+$" } } }\n`).routes[0]!.match.path!;
  const started = performance.now();
  assert.ok(evil.kind === 'regex' && !evil.test(`/${'a'.repeat(5000)}!`));
  assert.ok(performance.now() - started < 1000);
});

test('CIDRs match IPv4, IPv6 and IPv4-mapped addresses', () => {
  const c = resolved(`${HEAD}trustedProxies: [10.0.0.0/8, "fd00::/8", 192.168.1.7, "::ffff:172.16.0.0/108"]\nroutes:\n  - { name: r, primary: v1 }\n`);
  const [ten, fd, single, mapped] = c.trustedProxies;
  assert.equal(ten!.text, '10.0.0.0/8');
  assert.equal(ten!.contains('10.1.2.3'), true);
  assert.equal(ten!.contains('::ffff:10.1.2.3'), true);
  assert.equal(ten!.contains('11.0.0.1'), false);
  assert.equal(ten!.contains('fd00::1'), false);
  assert.equal(ten!.contains('not an address'), false);
  assert.equal(fd!.contains('fd12::1'), true);
  assert.equal(fd!.contains('fe80::1'), false);
  assert.equal(single!.contains('192.168.1.7'), true);
  assert.equal(single!.contains('192.168.1.8'), false);
  assert.equal(mapped!.contains('172.16.5.5'), true, 'a mapped range also matches plain IPv4 peers');
  assert.equal(mapped!.contains('::ffff:172.16.5.5'), true);
  assert.equal(mapped!.contains('172.32.0.1'), false);
});

test('a route that mirrors one upstream twice names the second copy name#2', () => {
  const c = resolved(`${HEAD}routes:\n  - name: r\n    primary: v1\n    mirrors: [{ upstream: v2 }, { upstream: v3 }, { upstream: v2, percentage: 1 }]\n`);
  assert.deepEqual(c.routes[0]!.mirrors.map((m) => m.name), ['v2', 'v3', 'v2#2']);
});

test("a mirror's timeout defaults to its upstream's, capped at 5s, and an explicit one wins", () => {
  const c = resolved(`${HEAD}routes:\n  - name: r\n    primary: v1\n    timeout: 3s\n    maxBodyBytes: 64KiB\n    mirrors: [{ upstream: v2 }, { upstream: v3 }, { upstream: v3, timeout: 8s }]\n`);
  const r = c.routes[0]!;
  assert.deepEqual(r.mirrors.map((m) => m.timeoutMs), [2000, 5000, 8000]);
  assert.equal(r.timeoutMs, 3000);
  assert.equal(r.maxBodyBytes, 64 * 1024);
});

test('methods are upper-cased, header names lower-cased, and writes go to a sandboxed upstream', () => {
  const c = resolved(
    `${HEAD}routes:\n  - name: r\n    primary: v1\n    match: { methods: [get, Post] }\n    mirrors:\n      - upstream: v2\n        methods: [get, post, POST]\n        sampleBy: "header:X-User"\n        host: "suffix:-shadow"\n        headers: { set: { X-Env: shadow }, remove: [Authorization, authorization] }\n    compare: { ignoreHeaders: [Date] }\n`,
  );
  const r = c.routes[0]!;
  assert.deepEqual(r.match.methods, ['GET', 'POST']);
  const m = r.mirrors[0]!;
  assert.deepEqual(m.methods, ['GET', 'POST']);
  assert.deepEqual(m.sampleBy, { kind: 'header', name: 'x-user' });
  assert.deepEqual(m.host, { kind: 'suffix', suffix: '-shadow' });
  assert.deepEqual(m.setHeaders, [['x-env', 'shadow']]);
  assert.deepEqual(m.removeHeaders, ['authorization']);
  assert.deepEqual(r.compare?.ignoreHeaders, ['date']);
});

test('the listener accepts the {address} form and IPv6 brackets', () => {
  const c = resolved(`${HEAD}routes:\n  - { name: r, primary: v1 }\n`.replace('listen: 127.0.0.1:8080', 'listen: { address: "[::1]:0" }'));
  assert.deepEqual({ ...c.listen }, { host: '::1', port: 0 });
  assert.equal(c.upstreams.get('v2')!.urls[0]!.hostname, '[::1]');
});

test('a non-loopback admin listener is accepted with a long enough token', () => {
  const c = resolved(`${HEAD}admin: { listen: 0.0.0.0:9901, token: 0123456789abcdef }\nroutes:\n  - { name: r, primary: v1 }\n`);
  assert.deepEqual({ ...c.admin }, { host: '0.0.0.0', port: 9901, token: '0123456789abcdef' });
});

test('sqlite paths are relative to the config directory, other storage is kept as written', () => {
  const yaml = (s: string): string => `${HEAD}storage: "${s}"\nroutes:\n  - { name: r, primary: v1 }\n`;
  const withBase = loadConfigText(yaml('sqlite:./data/tw.db'), { baseDir: '/etc/tapwire' });
  assert.ok(withBase.ok);
  assert.equal(withBase.config.storage, 'sqlite:/etc/tapwire/data/tw.db');
  assert.equal(resolved(yaml('sqlite:/var/tw.db')).storage, 'sqlite:/var/tw.db');
  assert.equal(resolved(yaml('postgres://tw@db:5432/tapwire')).storage, 'postgres://tw@db:5432/tapwire');
});

test('configFromObject validates a plain object with the same rules, without line numbers', () => {
  const ok = configFromObject({ listen: '127.0.0.1:0', upstreams: { a: { url: 'http://127.0.0.1:1' } }, routes: [{ name: 'r', primary: 'a' }] });
  assert.ok(ok.ok);
  assert.equal(ok.config.routes[0]!.primary, 'a');
  const bad = configFromObject({ listen: '127.0.0.1:0', upstreams: { a: { url: 'http://127.0.0.1:1' } }, routes: [{ name: 'r', primary: 'b' }] });
  assert.deepEqual(bad, { ok: false, issues: [{ path: 'routes[0].primary', message: 'unknown upstream "b"; defined: a' }] });
});
