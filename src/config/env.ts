// ${VAR} substitution in YAML scalar values, from an injected environment map (never process.env directly).
import { isAlias, isMap, isPair, isScalar, isSeq, type Document } from 'yaml';

export type Env = Readonly<Record<string, string | undefined>>;
export type PathSegment = string | number;

/** `$${…}` is a literal `${…}`; `${NAME}` and `${NAME:-default}` are references; any other `${` is a mistake. */
const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type Substitution = { ok: true; value: string; changed: boolean } | { ok: false; message: string };

/** Substitutes every reference in one string. Shell semantics: `:-` applies when the variable is unset or empty. */
export function substitute(text: string, env: Env): Substitution {
  if (!text.includes('${')) return { ok: true, value: text, changed: false };
  let failure: string | undefined;
  const value = text.replace(REFERENCE, (whole: string, body: string | undefined) => {
    if (whole === '$${') return '${';
    if (failure !== undefined) return '';
    if (!whole.endsWith('}')) {
      failure = `unterminated "\${" in "${text}" (write $\${ for a literal "\${")`;
      return '';
    }
    const inner = body ?? '';
    const sep = inner.indexOf(':-');
    const name = sep === -1 ? inner : inner.slice(0, sep);
    if (!NAME.test(name)) {
      failure = `invalid variable reference "${whole}": the name must be letters, digits and "_", not starting with a digit`;
      return '';
    }
    const set = env[name];
    if (sep !== -1) return set === undefined || set === '' ? inner.slice(sep + 2) : set;
    if (set === undefined) {
      failure = `environment variable ${name} is not set (write \${${name}:-default} to give a fallback)`;
      return '';
    }
    return set;
  });
  return failure === undefined ? { ok: true, value, changed: true } : { ok: false, message: failure };
}

/**
 * YAML 1.2 core number and boolean forms. An unquoted value that is exactly one reference is read again as YAML
 * would read the text, so `percentage: ${PCT}` gives a number; quoting it keeps a string.
 */
const YAML_NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const YAML_BOOLEAN: Readonly<Record<string, boolean>> = { true: true, True: true, TRUE: true, false: false, False: false, FALSE: false };
const WHOLE_REFERENCE = /^\$\{[^}]*\}$/;

function retype(value: string): string | number | boolean {
  if (YAML_NUMBER.test(value)) return Number(value);
  return YAML_BOOLEAN[value] ?? value;
}

export interface DocumentSubstitution {
  errors: { path: PathSegment[]; message: string }[];
  /** path (joined by NUL) → the original text, for hints in later messages */
  substituted: Map<string, string>;
}

export const pathKey = (path: readonly PathSegment[]): string => path.join('\u0000');

/** Substitutes in place every string scalar value of the document (keys are never substituted). */
export function substituteDocument(doc: Document, env: Env): DocumentSubstitution {
  const out: DocumentSubstitution = { errors: [], substituted: new Map() };
  const walk = (node: unknown, path: PathSegment[]): void => {
    if (isAlias(node)) return; // the anchored node is substituted where it is defined
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string') {
      const original = node.value;
      const result = substitute(original, env);
      if (!result.ok) out.errors.push({ path, message: result.message });
      else if (result.changed) {
        out.substituted.set(pathKey(path), original);
        const plain = node.type === 'PLAIN' && WHOLE_REFERENCE.test(original);
        node.value = plain ? retype(result.value) : result.value;
      }
    }
  };
  walk(doc.contents, []);
  return out;
}
