// Maps a failed copy's error (undici or socket) to its outcome.
import type { Outcome } from '../core/outcomes.ts';

const CONNECT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const TIMEOUT = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function codes(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') out.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

export function classify(err: unknown): Outcome {
  const all = codes(err);
  if (all.some((c) => TIMEOUT.has(c))) return 'timeout';
  if (all.some((c) => CONNECT.has(c))) return 'connect_error';
  if (all.some((c) => c.startsWith('ERR_TLS') || c.startsWith('ERR_SSL') || c.includes('CERT') || c === 'EPROTO')) return 'tls_error';
  const msg = err instanceof Error ? err.message : '';
  if (/certificate|SSL|TLS/i.test(msg)) return 'tls_error';
  return 'reset';
}
