// Which captured requests a replay sends: `--filter method:GET,HEAD`, `--filter path:/api/` (a prefix) or
// `--filter 'path:~^/users/[0-9]+$'` (a re2js regex: linear time, whatever the capture holds). Filters of one kind
// are alternatives (any may match), kinds together must all hold. Pure.
import { RE2JS } from 're2js';

export type Filter =
  | { readonly kind: 'method'; readonly methods: ReadonlySet<string>; readonly text: string }
  | { readonly kind: 'path'; readonly test: (path: string) => boolean; readonly text: string };

/** A bad --filter; the message says what forms exist. */
export class FilterError extends Error {}

const FORMS = "expected method:GET[,POST…], path:/prefix or path:~REGEX";

export function parseFilter(spec: string): Filter {
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new FilterError(`--filter ${JSON.stringify(spec)}: ${FORMS}`);
  const kind = spec.slice(0, colon).trim().toLowerCase();
  const value = spec.slice(colon + 1);
  if (kind === 'method') {
    const methods = value.split(',').map((m) => m.trim().toUpperCase()).filter((m) => m !== '');
    if (methods.length === 0 || methods.some((m) => !/^[A-Z]+$/.test(m))) throw new FilterError(`--filter ${JSON.stringify(spec)}: methods are letters, comma-separated (method:GET,HEAD)`);
    return { kind: 'method', methods: new Set(methods), text: spec };
  }
  if (kind === 'path') {
    if (value.startsWith('~')) {
      let re: RE2JS;
      try {
        re = RE2JS.compile(value.slice(1));
      } catch (err) {
        throw new FilterError(`--filter ${JSON.stringify(spec)}: not a valid regex: ${(err as Error).message}`);
      }
      return { kind: 'path', test: (p) => re.matcher(p).find(), text: spec };
    }
    if (!value.startsWith('/')) throw new FilterError(`--filter ${JSON.stringify(spec)}: a path prefix starts with / (a regex with ~)`);
    return { kind: 'path', test: (p) => p.startsWith(value), text: spec };
  }
  throw new FilterError(`--filter ${JSON.stringify(spec)}: unknown kind ${JSON.stringify(kind)}; ${FORMS}`);
}

/** A predicate over (method, path): every kind given must have a matching filter. No filters: everything. */
export function compileFilters(filters: readonly Filter[]): (method: string, path: string) => boolean {
  const methods = filters.filter((f) => f.kind === 'method');
  const paths = filters.filter((f) => f.kind === 'path');
  if (methods.length === 0 && paths.length === 0) return () => true;
  return (method, path) => {
    const m = method.toUpperCase();
    if (methods.length > 0 && !methods.some((f) => f.methods.has(m))) return false;
    if (paths.length > 0 && !paths.some((f) => f.test(path))) return false;
    return true;
  };
}
