// Config issues: the shape every loader reports, key-path formatting, and zod issues turned into plain sentences.
import type { z } from 'zod';
import { describe } from './fields.ts';
import { didYouMean, suggest } from './suggest.ts';
import type { ResolvedConfig } from './types.ts';

export interface ConfigIssue {
  path: string;
  message: string;
  line?: number;
  col?: number;
}

export type LoadResult = { ok: true; config: ResolvedConfig } | { ok: false; issues: ConfigIssue[] };

export type Path = readonly (string | number)[];

/** An issue before it is placed in the file; `atKey` points at the key itself (unknown keys) rather than its value. */
export interface RawIssue {
  path: Path;
  message: string;
  atKey?: boolean;
  /** for an unknown key: the known key it probably meant */
  meant?: string;
}

/** `routes[0].mirrors[0].percentage`; keys that are not plain words are quoted: `upstreams["api.v1"].url`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

type ZodIssue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;

/** The keys a strict object at `path` accepts, found by walking the schema (so suggestions never drift from it). */
export function keysAt(schema: Schema, path: Path): string[] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return keysAt(def.innerType as Schema, path);
    case 'pipe':
      return keysAt(def.in as Schema, path);
    case 'union':
      for (const option of def.options as Schema[]) {
        const keys = keysAt(option, path);
        if (keys.length) return keys;
      }
      return [];
    case 'array':
      return path.length ? keysAt(def.element as Schema, path.slice(1)) : [];
    case 'record':
      return path.length ? keysAt(def.valueType as Schema, path.slice(1)) : [];
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      if (!path.length) return Object.keys(shape);
      const next = shape[String(path[0])];
      return next ? keysAt(next, path.slice(1)) : [];
    }
    default:
      return [];
  }
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

/** One zod issue as one or more sentences, each with the full path from the document root. */
export function fromZodIssue(issue: ZodIssue, schema: Schema, base: Path = []): RawIssue[] {
  const path = [...base, ...(issue.path as (string | number)[])];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(schema, path);
      return issue.keys.map((key) => {
        const meant = suggest(key, known);
        return { path: [...path, key], atKey: true, message: `unknown key "${key}"${meant ? ` (did you mean "${meant}"?)` : ''}`, ...(meant ? { meant } : {}) };
      });
    }
    case 'invalid_union': {
      if (issue.input === undefined) return [{ path, message: 'required' }];
      // Keep only the branches the value was meant for (those that did not fail on the value's type itself).
      const meant = issue.errors.filter((branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (meant.length === 0) return [{ path, message: `${issue.message}, not ${describe(issue.input)}` }];
      const closest = meant.reduce((a, b) => (b.length < a.length ? b : a));
      return closest.flatMap((i) => fromZodIssue(i, schema, path));
    }
    case 'invalid_key':
      return issue.issues.map((i) => ({ path, atKey: true, message: i.message }));
    case 'invalid_type': {
      if (issue.input === undefined && !('received' in issue)) return [{ path, message: 'required' }];
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      const got = 'received' in issue ? String(issue.received) : describe(issue.input);
      const hint = issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean') ? ' (quote it to make it a string)' : '';
      return [{ path, message: `expected ${expected}, got ${got}${hint}` }];
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const typo = typeof issue.input === 'string' ? didYouMean(issue.input, issue.values.map(String)) : '';
      if (issue.values.length === 1 && issue.message && !issue.message.startsWith('Invalid')) return [{ path, message: issue.message }];
      return [{ path, message: `must be one of ${values.join(', ')}, not ${describe(issue.input)}${typo}` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

/** "primary: required" next to `unknown key "primray" (did you mean "primary"?)` says the same thing twice. */
export function dropExplained(issues: RawIssue[]): RawIssue[] {
  const meant = new Set(issues.filter((i) => i.meant !== undefined).map((i) => formatPath([...i.path.slice(0, -1), i.meant!])));
  return issues.filter((i) => !(i.message === 'required' && meant.has(formatPath(i.path))));
}
