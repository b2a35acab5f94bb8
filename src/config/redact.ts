// A JSON view of the running configuration with secrets removed, for the admin API and logs.
import { withoutCredentials } from './schema.ts';
import type { ResolvedConfig } from './types.ts';

const SECRET_KEY = /token|secret|password|key|cert|^ca$|authorization|cookie/i;
/** Header, cookie and query names whose values are credentials. */
const SECRET_NAME = /authorization|cookie|token|secret|session|password|api[-_]?key|^key$|signature|credential/i;

function view(value: unknown, key: string, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key)) return '[REDACTED]';
    // postgres://user:password@host: keep the shape, drop the credentials
    return withoutCredentials(value);
  }
  if (typeof value === 'function') return undefined;
  if (value instanceof URL) return value.href;
  if (value instanceof Map) return view(Object.fromEntries(value), key, seen);
  // [name, value] pairs (headers.set, header and query conditions): the name says whether the value is secret.
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && SECRET_NAME.test(value[0])) {
    return [value[0], '[REDACTED]'];
  }
  if (Array.isArray(value)) return value.map((v) => view(v, key, seen));
  if (value && typeof value === 'object') {
    if (seen.has(value)) return undefined;
    seen.add(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const shown = view(v, k, seen);
      if (shown !== undefined) out[k] = shown;
    }
    return out;
  }
  return value;
}

/** An alert webhook URL is a credential (Slack's path is the token): only its scheme and host are shown. */
function sinkUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/[REDACTED]`;
  } catch {
    return '[REDACTED]';
  }
}

export function redactedConfig(config: ResolvedConfig): unknown {
  const shown = view(config, '', new WeakSet()) as { analysis?: { alerts?: Array<{ url?: unknown }> } };
  for (const sink of shown.analysis?.alerts ?? []) if (typeof sink.url === 'string') sink.url = sinkUrl(sink.url);
  return shown;
}
