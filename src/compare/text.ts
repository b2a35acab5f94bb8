// Text bodies: compared by lines, reported as one FieldDiff at the first differing line (`text:12`, field
// `text`). Bounded: the first differing byte is found with native compares, lines are counted only up to
// it, and past MAX_TEXT_LINES the bodies are compared by length and hash instead (path `text`). Pure.
import { createHash } from 'node:crypto';
import type { FieldDiff } from './types.ts';
import { PREVIEW_CHARS, cut } from './diff.ts';

/** Counting lines stops here; a first difference further down is reported by length and hash. */
export const MAX_TEXT_LINES = 100_000;

const NL = 0x0a;
const CHUNK = 4096;

/** Index of the first byte where a and b differ, or min(a.length, b.length) when one is a prefix of the other. */
export function firstMismatch(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  // whole chunks with the native compare, then bytes within the differing chunk
  while (i + CHUNK <= n && a.compare(b, i, i + CHUNK, i, i + CHUNK) === 0) i += CHUNK;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** `<N bytes, sha256 0123456789abcdef>`: how a body that is not shown is described. */
export function describeBytes(body: Buffer, totalBytes = body.length): string {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const kept = totalBytes === body.length ? '' : ` (${body.length} kept)`;
  return `<${totalBytes} bytes${kept}, sha256 ${hash}>`;
}

function lineAt(b: Buffer, start: number): string {
  let end = b.indexOf(NL, start);
  if (end === -1) end = b.length;
  // enough bytes for the preview, without decoding a huge line
  const stop = Math.min(end, start + PREVIEW_CHARS * 4);
  const s = b.toString('utf8', start, stop);
  return stop < end && s.length <= PREVIEW_CHARS ? `${s}…` : cut(s, PREVIEW_CHARS);
}

/**
 * The first differing line of two text bodies, or [] when they are equal. `added` when the right has a
 * line the left does not (the left ended), `removed` for the opposite, `changed` otherwise.
 */
export function diffText(left: Buffer, right: Buffer, maxLines = MAX_TEXT_LINES): FieldDiff[] {
  if (left.equals(right)) return [];
  const m = firstMismatch(left, right);
  // count the lines before the difference (both sides are identical up to m)
  let line = 1;
  let lineStart = 0;
  for (let p = left.indexOf(NL, 0); p !== -1 && p < m; p = left.indexOf(NL, p + 1)) {
    line++;
    lineStart = p + 1;
    if (line > maxLines) {
      return [{ path: 'text', field: 'text', kind: 'changed', left: describeBytes(left), right: describeBytes(right) }];
    }
  }
  const path = `text:${line}`;
  // one side ended exactly at a line boundary: the other has a whole extra line
  if (m === left.length && lineStart === m) return [{ path, field: 'text', kind: 'added', right: lineAt(right, lineStart) }];
  if (m === right.length && lineStart === m) return [{ path, field: 'text', kind: 'removed', left: lineAt(left, lineStart) }];
  return [{ path, field: 'text', kind: 'changed', left: lineAt(left, lineStart), right: lineAt(right, lineStart) }];
}
