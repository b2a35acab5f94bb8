// The error catalog: every error tapwire reports carries one of these stable codes (listed in ARCHITECTURE.md).

export const ERROR_CODES = {
  TW_ERR_CONFIG: 'the configuration is invalid (the message names the key path and YAML line:col)',
  TW_ERR_CONFIG_READ: 'the configuration file could not be read',
  TW_ERR_USAGE: 'the command line is invalid',
  TW_ERR_NO_ROUTE: 'no route matches the request (404)',
  TW_ERR_BAD_REQUEST: 'the request is malformed or ambiguous (400)',
  TW_ERR_METHOD_NOT_ALLOWED: 'CONNECT and other tunnelling methods are refused (405)',
  TW_ERR_URI_TOO_LONG: 'the request line is longer than limits.maxRequestLineBytes (414)',
  TW_ERR_HEADERS_TOO_LARGE: 'too many headers or too many header bytes (431)',
  TW_ERR_BODY_TOO_LARGE: 'the request body is larger than the route maxBodyBytes (413)',
  TW_ERR_EXPECTATION_FAILED: 'an Expect header other than 100-continue (417)',
  TW_ERR_REQUEST_TIMEOUT: 'the client did not send the whole request in time (408)',
  TW_ERR_UPSTREAM_CONNECT: 'the primary could not be reached (502)',
  TW_ERR_UPSTREAM_RESET: 'the primary closed or reset the connection before answering (502)',
  TW_ERR_UPSTREAM_TLS: 'the TLS handshake with the primary failed (502)',
  TW_ERR_UPSTREAM_TIMEOUT: 'the primary did not answer within its timeout (504)',
  TW_ERR_SHUTTING_DOWN: 'tapwire is draining and refuses new work (503)',
  TW_ERR_MIRROR_LOOP: 'collector mode received a request carrying x-tapwire-mirror: a copy tapwire sent was mirrored back to it (508)',
  TW_ERR_ADMIN_UNAUTHORIZED: 'the admin API needs a valid bearer token (401)',
  TW_ERR_ADMIN_BAD_REQUEST: 'the admin API request is invalid (400/405/415)',
  TW_ERR_ADMIN_BUSY: 'too many dashboard live-event clients (503) or failed logins (429); try again later',
  TW_ERR_STORE: 'the store could not be opened, read or written (the message names the store and the reason)',
  TW_ERR_CAPTURE: 'a capture file could not be written or read (a newer format version, an unreadable path)',
  TW_ERR_INTERNAL: 'an unexpected internal failure (500); always a bug',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TapwireError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TapwireError';
    this.code = code;
  }
}

/** The JSON body of every error tapwire itself answers with. */
export function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** The `code`s of an error and its causes (undici wraps socket errors), outermost first. */
export function errorCodes(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') out.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** Connection-level failures to reach an address at all. */
export const CONNECT_FAILURES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Whether the codes name a TLS failure (handshake, certificate). */
export function isTlsFailure(codes: readonly string[], err: unknown): boolean {
  if (codes.some((c) => c.startsWith('ERR_TLS') || c.startsWith('ERR_SSL') || c.includes('CERT') || c === 'EPROTO')) return true;
  return /certificate|SSL|TLS/i.test(err instanceof Error ? err.message : '');
}
