// Maps a failed copy's error (undici or socket) to its outcome.
import { CONNECT_FAILURES, errorCodes, isTlsFailure } from '../core/errors.ts';
import type { Outcome } from '../core/outcomes.ts';

const TIMEOUT = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function classify(err: unknown): Outcome {
  const all = errorCodes(err);
  if (all.some((c) => TIMEOUT.has(c))) return 'timeout';
  if (all.some((c) => CONNECT_FAILURES.has(c))) return 'connect_error';
  if (isTlsFailure(all, err)) return 'tls_error';
  return 'reset';
}
