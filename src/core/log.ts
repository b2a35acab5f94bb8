// The logger: JSON lines via pino, one shape for every module, secrets redacted, control characters neutralised.
import { hostname } from 'node:os';
import { pino, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger } from 'pino';
import { REDACTED, SECRET_HEADERS, redactHeaders, type HeaderRecord } from './redact.ts';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export interface LoggerOptions {
  readonly level: LogLevel;
  /** where the lines go; stdout (pino's synchronous default) when absent */
  readonly destination?: NodeJS.WritableStream | DestinationStream;
}

const HEADER_PARENTS = ['req.headers', 'res.headers', 'request.headers', 'response.headers', 'headers'];

/** Paths pino blanks out even when a caller forgets to redact: object headers and any `token`/`password` field. */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...HEADER_PARENTS.flatMap((parent) => [...SECRET_HEADERS].map((h) => `${parent}["${h}"]`)),
  'token',
  'password',
  '*.token',
  '*.password',
];

export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    level: opts.level,
    base: { service: 'tapwire', pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
    serializers: {
      // Raw header lists (req.rawHeaders) are flat arrays that path redaction cannot address.
      headers: redactAnyHeaders,
      err: pino.stdSerializers.err,
    },
    formatters: {
      // Level names, not numbers: readable in `kubectl logs` and what most log pipelines expect.
      level: (label: string) => ({ level: label }),
      log: (obj: Record<string, unknown>) => sanitizeFields(obj),
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        for (let i = 0; i < args.length; i++) {
          const a = args[i];
          if (typeof a === 'string') args[i] = sanitizeForLog(a, MESSAGE_MAX);
        }
        method.apply(this, args);
      },
    },
  };
  return opts.destination === undefined
    ? pino(options)
    : pino(options, opts.destination);
}

const MESSAGE_MAX = 16 * 1024;
const FIELD_MAX = 4 * 1024;

// C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi overrides ("Trojan Source"):
// each can forge a line, recolour a terminal or reorder text when someone reads the log with a pager or pretty-printer.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Makes a string from the outside world (a path, a header, a user agent) safe to log: control and
 * bidi characters become visible escapes (`\n`, `\x1b`, `\u202e`) instead of disappearing, so a
 * reader of the log still sees that an attack was tried, and the length is bounded.
 */
export function sanitizeForLog(text: string, maxLength = 1024): string {
  const cut = text.length > maxLength ? `${text.slice(0, maxLength)}…[${text.length - maxLength} more]` : text;
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(cut)) return cut;
  return cut.replace(UNSAFE, (c) => NAMED[c] ?? escapeCode(c.charCodeAt(0)));
}

function escapeCode(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Strings in the log object, top level and one level down, where request data usually sits (`{req: {url}}`). */
function sanitizeFields(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(obj)) {
    let safe = v;
    if (typeof v === 'string') safe = sanitizeForLog(v, FIELD_MAX);
    else if (depth === 0 && isPlainObject(v)) safe = sanitizeFields(v, 1);
    if (safe !== v) {
      // Copy on first change only: most log calls carry nothing to clean.
      out ??= { ...obj };
      Object.defineProperty(out, k, { value: safe, enumerable: true, writable: true, configurable: true });
    }
  }
  return out ?? obj;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function redactAnyHeaders(h: unknown): unknown {
  if (Array.isArray(h)) return h.every((x) => typeof x === 'string') ? redactHeaders(h) : h;
  return isPlainObject(h) ? redactHeaders(h as HeaderRecord) : h;
}
