// Opens a Store from its one-string spec: `memory`, `sqlite:PATH` (relative to baseDir), `sqlite::memory:`.
// `postgres://…` (src/store/postgres.ts). SQLite's native module and pg are loaded only when their store is
// asked for, so a memory store works even where better-sqlite3 failed to build.
import { isAbsolute, resolve } from 'node:path';
import { createMemoryStore } from './memory.ts';
import { StoreError, type OpenStoreOptions, type Store } from './types.ts';

export type StoreSpec = { readonly kind: 'memory' } | { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };

const FORMS = "'memory', 'sqlite:PATH' or 'sqlite::memory:'";

/** Parses a spec; throws a StoreError (`spec`) saying which forms exist. */
export function parseStoreSpec(spec: string, baseDir: string = process.cwd()): StoreSpec {
  if (typeof spec !== 'string' || spec.trim() === '') throw new StoreError('spec', `the store is empty: use ${FORMS}`);
  const s = spec.trim();
  if (s === 'memory') return { kind: 'memory' };
  if (/^postgres(ql)?:\/\//i.test(s)) return { kind: 'postgres', url: s };
  if (s.startsWith('sqlite:')) {
    let path = s.slice('sqlite:'.length);
    if (path === ':memory:') return { kind: 'sqlite', path };
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///var/lib/x.db
    if (path === '') throw new StoreError('spec', `the store ${JSON.stringify(spec)} names no file: use ${FORMS}`);
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(baseDir, path) };
  }
  throw new StoreError('spec', `unknown store ${JSON.stringify(redactUrl(s))}: use ${FORMS}`);
}

/** The spec without a password, for messages. */
export function redactUrl(spec: string): string {
  return spec.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^@/]*@/i, '$1:***@');
}

export async function openStore(spec: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const parsed = parseStoreSpec(spec, opts.baseDir);
  switch (parsed.kind) {
    case 'memory':
      return createMemoryStore({ maxExamples: opts.memoryMaxExamples, sliceMs: opts.sliceMs });
    case 'postgres': {
      // loaded only when asked for, like SQLite's native module
      const mod = await import('./postgres.ts');
      return mod.openPostgresStore(parsed.url, { sliceMs: opts.sliceMs });
    }
    case 'sqlite': {
      let mod: typeof import('./sqlite.ts');
      try {
        mod = await import('./sqlite.ts');
      } catch (err) {
        throw new StoreError('open', `cannot open the SQLite store at ${parsed.path}: the better-sqlite3 module failed to load (${(err as Error).message})`, {
          cause: err,
        });
      }
      return mod.openSqliteStore(parsed.path, { busyTimeoutMs: opts.busyTimeoutMs, sliceMs: opts.sliceMs });
    }
  }
}
