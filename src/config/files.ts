// Files a config names (listener certificate and key, upstream CAs): read once at load time, relative to the
// config file, and checked with Node's TLS so a bad PEM fails validation instead of the first handshake.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Path, RawIssue } from './issues.ts';
import type { ValidConfig } from './schema.ts';

export interface ConfigFiles {
  listenTls?: { cert: string; key: string; certPath: string; keyPath: string };
  /** upstream name → CA PEM */
  ca: Map<string, string>;
}

export type ReadText = (absolutePath: string) => string;

const defaultRead: ReadText = (p) => readFileSync(p, 'utf8');

function why(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    const code = err.code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    if (code === 'EISDIR') return 'is a directory';
    return code;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Node's message for a bad PEM, without its "error:0480006C:PEM routines::" prefix. */
const tlsWhy = (err: unknown): string => (err instanceof Error ? err.message.replace(/^error:[0-9A-F]+:[^:]*::?/, '') : String(err));

export function readConfigFiles(config: ValidConfig, baseDir: string | undefined, read: ReadText = defaultRead): { files: ConfigFiles; issues: RawIssue[] } {
  const issues: RawIssue[] = [];
  const files: ConfigFiles = { ca: new Map() };
  const load = (path: Path, file: string): { text: string; abs: string } | undefined => {
    const abs = resolve(baseDir ?? '', file);
    try {
      return { text: read(abs), abs };
    } catch (err) {
      issues.push({ path, message: `cannot read ${abs}: ${why(err)}` });
      return undefined;
    }
  };

  const tls = config.listen.tls;
  if (tls) {
    const cert = load(['listen', 'tls', 'cert'], tls.cert);
    const key = load(['listen', 'tls', 'key'], tls.key);
    if (cert && key) {
      try {
        createSecureContext({ cert: cert.text, key: key.text });
        files.listenTls = { cert: cert.text, key: key.text, certPath: cert.abs, keyPath: key.abs };
      } catch (err) {
        issues.push({ path: ['listen', 'tls'], message: `the certificate and key cannot be used together: ${tlsWhy(err)}` });
      }
    }
  }

  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const caFile = upstream.tls?.ca;
    if (caFile === undefined) continue;
    const path = ['upstreams', name, 'tls', 'ca'];
    const ca = load(path, caFile);
    if (!ca) continue;
    try {
      createSecureContext({ ca: ca.text });
      if (!ca.text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate found');
      files.ca.set(name, ca.text);
    } catch (err) {
      issues.push({ path, message: `${ca.abs} is not a PEM CA certificate: ${tlsWhy(err)}` });
    }
  }
  return { files, issues };
}
