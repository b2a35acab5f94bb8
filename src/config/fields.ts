// The leaf types of the config schema: durations, sizes, addresses, names, header tokens, regexes, matchers.
// Each parses the YAML text into the resolved form and explains a bad value in one sentence.
import { RE2JS } from 're2js';
import { z } from 'zod';
import { parseDuration, parseSize } from '../core/units.ts';
import { isHostname, parseCidr, parseHostPort } from './net.ts';
import type { HostMode, SampleBy, StringMatch } from './types.ts';

type Ctx = z.core.$RefinementCtx;

function fail(ctx: Ctx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

/** The name of the type of a YAML value, for "expected X, got Y" messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (the value is empty)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  return typeof value === 'string' ? `the string "${value}"` : typeof value;
}

const DURATION_UNITS = 'a number with ms, s, m, h or d, like "250ms", "5s", "2m" or "7d"';

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * A duration string → milliseconds. Bare numbers are refused: "timeout: 5" could mean 5 ms or 5 s.
 * Durations are capped at 24h because Node timers overflow past 2^31 ms and fire at once.
 */
export function duration(opts: { min?: number; max?: number } = {}) {
  const min = opts.min ?? 1;
  const max = opts.max ?? 86_400_000;
  return z.unknown().transform((value, ctx): number => {
    if (typeof value === 'number') return fail(ctx, `must be a duration with a unit, like "${value}s" or "${value}ms": a bare number is ambiguous`);
    if (typeof value !== 'string') return fail(ctx, `must be a duration (${DURATION_UNITS}), not ${describe(value)}`);
    const ms = parseDuration(value);
    if (ms === undefined) return fail(ctx, `"${value}" is not a duration: write ${DURATION_UNITS}`);
    if (ms < min) return fail(ctx, min === 1 ? 'must be longer than 0ms' : `must be at least ${formatMs(min)}`);
    if (ms > max) return fail(ctx, `must be at most ${formatMs(max)}`);
    return ms;
  });
}

const SIZE_UNITS = 'B, KiB, MiB or GiB (or KB, MB, GB), like "512KiB" or "1MiB"';

/** A size string → bytes. A unit is always required ("100B" for bytes), for the same reason as durations. */
export function size(opts: { min?: number } = {}) {
  const min = opts.min ?? 0;
  return z.unknown().transform((value, ctx): number => {
    if (typeof value === 'number') return fail(ctx, `must be a size with a unit, like "${value}B" or "${value}KiB": a bare number is ambiguous`);
    if (typeof value !== 'string') return fail(ctx, `must be a size (${SIZE_UNITS}), not ${describe(value)}`);
    const bytes = /[A-Za-z]\s*$/.test(value) ? parseSize(value) : undefined;
    if (bytes === undefined) return fail(ctx, `"${value}" is not a size: write a number with ${SIZE_UNITS}`);
    if (!Number.isSafeInteger(bytes)) return fail(ctx, 'is too large');
    if (bytes < min) return fail(ctx, `must be at least ${min}B`);
    return bytes;
  });
}

export const hostPort = z.string().transform((text, ctx) => {
  const parsed = parseHostPort(text);
  return typeof parsed === 'string' ? fail(ctx, parsed) : parsed;
});

export const cidr = z.string().transform((text, ctx) => {
  const parsed = parseCidr(text.trim());
  return typeof parsed === 'string' ? fail(ctx, parsed) : parsed;
});

/** Names of routes and upstreams appear in metric labels and URLs, so they stay plain. */
export const NAME = /^[A-Za-z0-9_.-]+$/;
export const name = (what: string) => z.string().regex(NAME, { error: `${what} names may contain only letters, digits, "_", "." and "-"` });

/** RFC 9110 §5.1 field-name (token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const isToken = (s: string): boolean => TOKEN.test(s);
export const headerName = z.string().regex(TOKEN, { error: 'is not a valid header name (letters, digits and !#$%&\'*+-.^_`|~ only)' });

/** CR, LF and NUL in a header value would split or truncate the header on the wire (RFC 9110 §5.5). */
export const headerValue = z.string().refine((v) => !/[\r\n\0]/.test(v), { error: 'must not contain CR, LF or NUL characters' });

/** Methods are upper-cased; CONNECT opens a tunnel, which tapwire refuses (405), so a rule naming it is a mistake. */
export const method = z
  .string()
  .regex(TOKEN, { error: 'is not a valid HTTP method' })
  .transform((m) => m.toUpperCase())
  .refine((m) => m !== 'CONNECT', { error: 'CONNECT is refused by tapwire (it opens a tunnel) and cannot be routed or mirrored' });

/** A linear-time regex (RE2 syntax: no backreferences or lookaround), tested unanchored like RegExp#test. */
export const regex = z.string().transform((source, ctx): StringMatch => {
  try {
    const re = RE2JS.compile(source);
    return { kind: 'regex', source, test: (s: string) => re.test(s) };
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
    return fail(ctx, `invalid regular expression (RE2 syntax, no lookaround or backreferences): ${why}`);
  }
});

/** `random`, `source`, `header:NAME`, `cookie:NAME` or `query:NAME`. */
export const sampleBy = z.string().transform((text, ctx): SampleBy => {
  if (text === 'random' || text === 'source') return { kind: text };
  const m = /^(header|cookie|query):(.*)$/.exec(text);
  const usage = 'must be random, source, header:NAME, cookie:NAME or query:NAME';
  if (!m) return fail(ctx, `${usage}, not "${text}"`);
  const kind = m[1] as 'header' | 'cookie' | 'query';
  const key = m[2]!;
  if (key === '') return fail(ctx, `${usage}: the ${kind} name is missing`);
  if (kind !== 'query' && !isToken(key)) return fail(ctx, `"${key}" is not a valid ${kind} name`);
  return { kind, name: kind === 'header' ? key.toLowerCase() : key };
});

/** A host with an optional port, as it would appear in a Host header. */
function isHostHeader(text: string): boolean {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(text);
  return m !== null && (m[1]!.startsWith('[') || isHostname(m[1]!)) && (m[2] === undefined || Number(m[2]) <= 65535);
}

/** `preserve`, `upstream`, `suffix:-shadow` or `literal:NAME` (the Host header a copy carries). */
export const hostMode = z.string().transform((text, ctx): HostMode => {
  if (text === 'preserve' || text === 'upstream') return { kind: text };
  const usage = 'must be preserve, upstream, suffix:SUFFIX or literal:HOST';
  if (text.startsWith('suffix:')) {
    const suffix = text.slice('suffix:'.length);
    if (!/^[A-Za-z0-9_.-]{1,63}$/.test(suffix)) return fail(ctx, `the suffix "${suffix}" must be 1..63 letters, digits, "-", "_" or "."`);
    return { kind: 'suffix', suffix };
  }
  if (text.startsWith('literal:')) {
    const value = text.slice('literal:'.length);
    if (!isHostHeader(value)) return fail(ctx, `"${value}" is not a valid host name (with an optional :port)`);
    return { kind: 'literal', value };
  }
  return fail(ctx, `${usage}, not "${text}"`);
});

function exactlyOne(keys: readonly string[]) {
  return (value: Record<string, unknown>, ctx: Ctx): void => {
    const given = keys.filter((k) => value[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: given.length === 0 ? `needs one of ${keys.join(', ')}` : `give only one of ${given.join(', ')}` });
    }
  };
}

function toStringMatch(v: { exact?: string | undefined; prefix?: string | undefined; regex?: StringMatch | undefined }): StringMatch {
  if (v.exact !== undefined) return { kind: 'exact', value: v.exact };
  if (v.prefix !== undefined) return { kind: 'prefix', value: v.prefix };
  return v.regex!;
}

const pathString = z.string().refine((p) => p.startsWith('/'), { error: 'must start with "/"' });

/** `{exact}`, `{prefix}` or `{regex}` on the request path (without the query). */
export const pathMatch = z
  .strictObject({ exact: pathString.optional(), prefix: pathString.optional(), regex: regex.optional() })
  .superRefine(exactlyOne(['exact', 'prefix', 'regex']))
  .transform(toStringMatch);

const presence = z.literal(true, { error: 'must be true (write absent: true to require that it is missing)' });

/** Header and query conditions: exact, prefix, regex, present or absent. */
export const valueMatch = z
  .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: regex.optional(), present: presence.optional(), absent: presence.optional() })
  .superRefine(exactlyOne(['exact', 'prefix', 'regex', 'present', 'absent']))
  .transform((v) => (v.present ? { kind: 'present' as const } : v.absent ? { kind: 'absent' as const } : toStringMatch(v)));
