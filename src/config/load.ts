// Config loading: file → YAML (with line:col) → ${VAR} substitution → schema, cross-checks, resolve.
// Every problem found is reported at once, each with its key path and position in the file.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { pathKey, substituteDocument, type Env } from './env.ts';
import { formatPath, type ConfigIssue, type LoadResult, type Path, type RawIssue } from './issues.ts';
import { checkAndResolve } from './resolve.ts';

export type { ConfigIssue, LoadResult } from './issues.ts';

interface Position {
  line: number;
  col: number;
}

/**
 * The node a path points at: the value, or the key itself for `atKey` issues (unknown keys). A path that stops
 * early (a missing key) gives the deepest node that exists, so "required" points at the parent mapping.
 */
function locate(doc: Document, path: Path, atKey: boolean): Node | undefined {
  let node: unknown = doc.contents;
  let found = node as Node | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) return found;
      if (atKey && i === path.length - 1 && isScalar(pair.key)) return pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else return found;
    if (node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) found = node as Node;
    else return found;
  }
  return found;
}

function position(doc: Document, counter: LineCounter, path: Path, atKey: boolean): Position | undefined {
  const node = locate(doc, path, atKey);
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : counter.linePos(offset);
}

const withPosition = (issue: ConfigIssue, pos: Position | undefined): ConfigIssue => (pos ? { ...issue, line: pos.line, col: pos.col } : issue);

/** Issues in file order; those without a position (there are none today) keep their order at the end. */
function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  const line = (i: ConfigIssue): number => i.line ?? Number.MAX_SAFE_INTEGER;
  return line(a) - line(b) || (a.col ?? 0) - (b.col ?? 0);
}

export function loadConfigText(text: string, opts: { path?: string; env?: Record<string, string | undefined>; baseDir?: string } = {}): LoadResult {
  const counter = new LineCounter();
  // merge: `<<: *defaults` lets mirrors share settings; prettyErrors off keeps each message on one line.
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, merge: true, uniqueKeys: true });
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length) {
    const issues = yamlProblems.map((e) => withPosition({ path: '', message: `YAML: ${e.message}` }, counter.linePos(e.pos[0])));
    return { ok: false, issues: issues.sort(byPosition) };
  }

  const env: Env = opts.env ?? {};
  const substitution = substituteDocument(doc, env);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // A document that expands aliases past the limit ("billion laughs") is refused rather than built.
    return { ok: false, issues: [{ path: '', message: `YAML: ${err instanceof Error ? err.message : String(err)}` }] };
  }

  const place = (i: RawIssue): ConfigIssue => {
    const from = substitution.substituted.get(pathKey(i.path));
    const hint = from !== undefined && /^expected /.test(i.message) ? ` (the value came from "${from}")` : '';
    return withPosition({ path: formatPath(i.path), message: i.message + hint }, position(doc, counter, i.path, i.atKey ?? false));
  };
  const envIssues = substitution.errors.map((e) => place(e));
  const baseDir = opts.baseDir ?? (opts.path !== undefined ? dirname(resolve(opts.path)) : undefined);
  const checked = checkAndResolve(raw, {
    ...(baseDir !== undefined ? { baseDir } : {}),
    ...(opts.path !== undefined ? { source: resolve(opts.path) } : {}),
    blocked: substitution.errors.map((e) => e.path),
  });
  if (checked.ok) return checked;
  return { ok: false, issues: [...envIssues, ...checked.issues.map(place)].sort(byPosition) };
}

export async function loadConfigFile(file: string, env?: Record<string, string | undefined>): Promise<LoadResult> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, issues: [{ path: '', message: `cannot read the configuration file: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  return loadConfigText(text, { path, ...(env !== undefined ? { env } : {}) });
}

/** One line per issue: `FILE:LINE:COL path: message` (parts that are unknown are left out). */
export function formatIssues(issues: ConfigIssue[], file?: string): string {
  return issues
    .map((i) => {
      const body = i.path ? `${i.path}: ${i.message}` : i.message;
      const where = i.line !== undefined ? `${i.line}:${i.col ?? 1}` : '';
      if (file !== undefined) return where ? `${file}:${where} ${body}` : `${file}: ${body}`;
      return where ? `${where} ${body}` : body;
    })
    .join('\n');
}
