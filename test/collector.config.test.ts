// Collector mode's configuration (mode, collector.*) and its safety cross-checks, the -shadow suffix rule (pure),
// and the documented example configurations, validated by `tapwire validate` itself.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { registerValidate } from '../src/cli/commands/validate.ts';
import { stripHostSuffix } from '../src/collector/host.ts';
import { loadConfigText } from '../src/config/load.ts';
import { REPO } from './helpers/harness.ts';

const BASE = `listen: 127.0.0.1:8080
upstreams:
  v1: { url: http://127.0.0.1:3001 }
  v2: { url: http://127.0.0.1:3002, sandboxed: true }
routes:
  - name: api
    primary: v1
    mirrors: [{ upstream: v2 }]
`;

function issues(yaml: string): string[] {
  const r = loadConfigText(yaml, { env: {} });
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('collector configuration', () => {
  test('mode defaults to proxy, and collector settings to a 202, the -shadow suffix and safe reference bounds', () => {
    const r = loadConfigText(BASE, { env: {} });
    assert.ok(r.ok);
    assert.equal(r.config.mode, 'proxy');
    assert.deepEqual(r.config.collector, {
      respondStatus: 202,
      stripHostSuffix: '-shadow',
      reference: { methods: ['GET', 'HEAD', 'OPTIONS'], maxInFlight: 100, maxBodyBytes: 1024 * 1024 },
    });
  });

  test('collector keys resolve to milliseconds, bytes and upper-case methods', () => {
    const r = loadConfigText(
      `mode: collector\ncollector:\n  respond: { status: 200 }\n  stripHostSuffix: ""\n  reference: { methods: [get, post], timeout: 2s, maxInFlight: 7, maxBodyBytes: 64KiB }\n${BASE.replace('v1: { url: http://127.0.0.1:3001 }', 'v1: { url: http://127.0.0.1:3001, sandboxed: true }')}`,
      { env: {} },
    );
    assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
    assert.equal(r.config.mode, 'collector');
    assert.deepEqual(r.config.collector, {
      respondStatus: 200,
      stripHostSuffix: '',
      reference: { methods: ['GET', 'POST'], timeoutMs: 2000, maxInFlight: 7, maxBodyBytes: 65536 },
    });
  });

  test('a write towards an unsandboxed reference, a bad status, suffix or mode, and analysis are refused with their paths', () => {
    assert.deepEqual(issues(`mode: collector\ncollector: { reference: { methods: [GET, POST, DELETE] } }\n${BASE}`), [
      'collector.reference.methods: POST, DELETE change state: the reference gets writes only when its upstream has sandboxed: true (not sandboxed: v1)',
    ]);
    // in proxy mode the reference is never used: nothing to refuse
    assert.deepEqual(issues(`collector: { reference: { methods: [GET, POST] } }\n${BASE}`), []);
    assert.match(issues(`mode: collector\ncollector: { respond: { status: 500 } }\n${BASE}`).join('\n'), /collector\.respond\.status: must be one of 200, 202, 204/);
    assert.match(issues(`mode: collector\ncollector: { stripHostSuffix: "a b" }\n${BASE}`).join('\n'), /collector\.stripHostSuffix: must be a host-name fragment/);
    assert.match(issues(`mode: mirror\n${BASE}`).join('\n'), /^mode: /);
    assert.deepEqual(issues(`mode: collector\n${BASE}    analyze: true\n`), ['routes[0].analyze: traffic analysis is not available in collector mode yet; run it in proxy mode']);
  });

  test('the -shadow suffix comes off the host name, keeps the port, and nothing else changes', () => {
    const cases: [string | undefined, string, string | undefined][] = [
      ['api.example.com-shadow', '-shadow', 'api.example.com'],
      ['users-shadow:8080', '-shadow', 'users:8080'],
      ['USERS-SHADOW', '-shadow', 'USERS'],
      ['users', '-shadow', 'users'],
      ['users:8080', '-shadow', 'users:8080'],
      ['-shadow', '-shadow', '-shadow'],
      ['shadow', '-shadow', 'shadow'],
      ['users-shadow', '', 'users-shadow'],
      ['[::1]:8080', '-shadow', '[::1]:8080'],
      ['users-mirror', '-mirror', 'users'],
      [undefined, '-shadow', undefined],
    ];
    for (const [host, suffix, expected] of cases) assert.equal(stripHostSuffix(host, suffix), expected, `${host} / ${suffix}`);
  });

  test('every documented tapwire example of docs/examples/collector validates with tapwire validate', async () => {
    const dir = join(REPO, 'docs/examples/collector');
    const files = readdirSync(dir).filter((f) => f.startsWith('tapwire') && f.endsWith('.yaml'));
    assert.ok(files.length > 0);
    for (const f of files) {
      let out = '';
      let err = '';
      const program = new Command('tapwire').exitOverride();
      registerValidate(program, { env: {}, stdout: (s) => (out += s), stderr: (s) => (err += s) });
      const before = process.exitCode;
      process.exitCode = undefined;
      try {
        await program.parseAsync(['node', 'tapwire', 'validate', '-c', join(dir, f)]);
        assert.equal(Number(process.exitCode ?? 0), 0, `${f}: ${err}`);
      } finally {
        process.exitCode = before;
      }
      assert.match(out, /^ok: /, f);
    }
  });
});

test('tapwire run in collector mode says so when it starts: "collector on", not "proxy on"', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { startCli, writeConfig } = await import('./helpers/harness.ts');
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-collector-cli-'));
  try {
    const yaml = `mode: collector
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { level: silent }
upstreams:
  v1: { url: http://127.0.0.1:9 }
  v2: { url: http://127.0.0.1:9, sandboxed: true }
routes:
  - name: api
    primary: v1
    mirrors: [{ upstream: v2 }]
`;
    const p = await startCli(writeConfig(dir, 'collector.yaml', yaml));
    try {
      assert.match(p.stderr(), /tapwire: collector on 127\.0\.0\.1:\d+, admin on http:\/\//);
      assert.doesNotMatch(p.stderr(), /proxy on/);
    } finally {
      await p.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
