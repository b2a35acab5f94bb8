// Capture configuration: defaults, paths relative to the config file, and every error named by its key path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigText } from '../src/config/load.ts';

const BASE = `listen: 127.0.0.1:0
upstreams: { v1: { url: "http://127.0.0.1:1" } }
`;

function issues(yaml: string): string[] {
  const r = loadConfigText(BASE + yaml, { env: {}, baseDir: '/etc/tapwire' });
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
}

test('defaults: 100%, random, 64 KiB per body; files rotate at 64 MiB or 1 h, queue 10000, flushed every second', () => {
  const r = loadConfigText(`${BASE}capture: { file: captures/ }\nroutes: [{ name: r, primary: v1, capture: {} }]\n`, { env: {}, baseDir: '/etc/tapwire' });
  assert.ok(r.ok);
  assert.deepEqual(r.config.routes[0]!.capture, { percentage: 100, sampleBy: { kind: 'random' }, maxBodyBytes: 65536 });
  const c = r.config.capture;
  assert.equal(c.file, '/etc/tapwire/captures/');
  assert.deepEqual(c.rotate, { maxBytes: 64 * 1024 * 1024, maxAgeMs: 3_600_000 });
  assert.equal(c.gzip, false);
  assert.equal(c.queue, 10_000);
  assert.equal(c.flushIntervalMs, 1000);
  assert.deepEqual(c.redact, { headers: [], query: [], cookies: [], json: [] });
});

test('the HMAC key comes from the environment; the sampling key and redaction lists are parsed', () => {
  const r = loadConfigText(
    `${BASE}capture: { file: /var/cap/prod, gzip: true, redact: { key: "\${TAPWIRE_CAPTURE_KEY}", headers: [X-Secret], query: [sig], cookies: [sid], json: ["$.password", "$..token"] } }\nroutes: [{ name: r, primary: v1, capture: { percentage: 12.5, sampleBy: "header:X-User", maxBodyBytes: 1KiB } }]\n`,
    { env: { TAPWIRE_CAPTURE_KEY: 'a-long-enough-capture-key' }, baseDir: '/etc/tapwire' },
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  assert.equal(r.config.capture.file, '/var/cap/prod');
  assert.equal(r.config.capture.redact.key, 'a-long-enough-capture-key');
  assert.deepEqual(r.config.capture.redact.headers, ['x-secret']);
  assert.deepEqual(r.config.routes[0]!.capture, { percentage: 12.5, sampleBy: { kind: 'header', name: 'x-user' }, maxBodyBytes: 1024 });
});

test('errors name their key path', () => {
  assert.deepEqual(issues('routes: [{ name: r, primary: v1, capture: {} }]\n'), ['routes[0].capture: needs capture.file (a directory or a file prefix) to write to']);
  assert.deepEqual(issues('capture: { file: store }\nroutes: [{ name: r, primary: v1 }]\n'), [
    'capture.file: capturing into the store is not supported in this version; give a directory (ending in /) or a file prefix',
  ]);
  assert.deepEqual(issues('capture: { file: c/ }\nroutes: [{ name: r, primary: v1, capture: { percentage: 101 } }]\n'), ['routes[0].capture.percentage: must be between 0 and 100']);
  assert.match(issues('capture: { file: c/ }\nroutes: [{ name: r, primary: v1, capture: { sampleBy: "body:x" } }]\n')[0]!, /^routes\[0\]\.capture\.sampleBy: must be random, source/);
  assert.match(issues('capture: { file: c/, redact: { key: short } }\nroutes: [{ name: r, primary: v1 }]\n')[0]!, /^capture\.redact\.key: must be at least 16 characters/);
  assert.match(issues('capture: { file: c/, redact: { json: ["$.a[?(@.x)]"] } }\nroutes: [{ name: r, primary: v1 }]\n')[0]!, /^capture\.redact\.json\[0\]: .* must be a JSON path/);
  assert.match(issues('capture: { file: c/, redact: { json: [password] } }\nroutes: [{ name: r, primary: v1 }]\n')[0]!, /^capture\.redact\.json\[0\]: must be a JSON path starting with "\$"/);
  assert.match(issues('capture: { file: c/, rotate: { maxBytes: 0B } }\nroutes: [{ name: r, primary: v1 }]\n')[0]!, /^capture\.rotate\.maxBytes: /);
  assert.match(issues('capture: { file: c/, queue: 0 }\nroutes: [{ name: r, primary: v1 }]\n')[0]!, /^capture\.queue: must be at least 1/);
  assert.match(issues('capture: { file: c/, bogus: 1 }\nroutes: [{ name: r, primary: v1 }]\n')[0]!, /^capture(\.bogus)?: /);
});
