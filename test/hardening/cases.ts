// The generated cases of the hardening suite, one generator per class of reliability-anchors §2 that applies to
// HTTP/1.1. Each generator crosses a table of inputs with a table of mutations and states, per case, the outcome
// the policy demands (an oracle written from the RFC and our rules, never from what tapwire happens to do).
import { CaseIds, CRLF, either, ok, raw, rej, show, type Case, type Outcome } from './model.ts';
import { SPECIAL } from './run.ts';
import type { Seen } from './recorder.ts';
import type { Step } from './wire.ts';

const HOST = 'Host: a.example';
const CHUNKED_HELLO = `5${CRLF}hello${CRLF}0${CRLF}${CRLF}`;

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value bytes a strict parser accepts: HTAB, SP, VCHAR, obs-text */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const trimOws = (v: string): string => v.replace(/^[ \t]+|[ \t]+$/g, '');

function values(raw: readonly string[], lower: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) out.push(raw[i + 1]!);
  return out;
}

const mk = (cls: string, c: CaseIds, name: string, input: Buffer | readonly Step[], expect: readonly Outcome[], extra: Partial<Case> = {}): Case => ({
  cls,
  id: c.id,
  name,
  input,
  expect,
  ...extra,
});

/** What a strict reading makes of one header line `name: value` (policy of §2 rows 2 and 7). */
type HeaderKind = 'te-chunked' | 'te-bad' | 'cl' | 'custom' | 'bad';
function classifyHeader(name: string, value: string): HeaderKind {
  if (!TCHAR.test(name)) return 'bad';
  if (!FIELD_VALUE.test(value)) return 'bad';
  const lower = name.toLowerCase();
  if (lower === 'transfer-encoding') return trimOws(value).toLowerCase() === 'chunked' ? 'te-chunked' : 'te-bad';
  if (lower === 'content-length') return 'cl';
  // Underscore names that read as a header tapwire frames with, sets or strips are refused (§2 row 7).
  if (lower.includes('_') && SPECIAL.has(lower.replaceAll('_', '-'))) return 'bad';
  return 'custom';
}

// ---------------------------------------------------------------------------------------------------------------
// Row 2: TE.TE obfuscation (smuggler-style mutation table).

export const TE_NAMES = [
  'Transfer-Encoding',
  'transfer-encoding',
  'TRANSFER-ENCODING',
  'Transfer-encoding',
  'TrAnSfEr-EnCoDiNg',
  'Transfer_Encoding',
  'TRANSFER_ENCODING',
  'transfer_encoding',
  'Transfer-Encoding ',
  'Transfer-Encoding\t',
  'Transfer-Encoding\x0b',
  'Transfer-Encoding\x0c',
  'Transfer Encoding',
  'TransferEncoding',
  'Transfer-Encodings',
  'XTransfer-Encoding',
  'X-Transfer-Encoding',
  'Transfer-Encoding-X',
  'Transfer-Encodin',
  ' Transfer-Encoding',
  '\tTransfer-Encoding',
  'Transfer-Encoding\x00',
  '\x00Transfer-Encoding',
  'Transfer-\x00Encoding',
  'Transfer\x7f-Encoding',
  'Transfer-Encoding\x80',
  'Transfer-Encoding\xff',
  'Transfer-Encod\xefing',
  'Transfer-Encoding\x1f',
  '"Transfer-Encoding"',
  'Transfer-Encoding\\',
  'Transfer-Encoding;',
  'Transfer-Encoding\r',
  'Transfer-Encoding\n',
];

export const TE_VALUES = [
  'chunked',
  'CHUNKED',
  'Chunked',
  'cHuNkEd',
  ' chunked',
  'chunked ',
  '  chunked  ',
  '\tchunked',
  'chunked\t',
  '\t chunked \t',
  'xchunked',
  'chunkedx',
  'chunked, x',
  'x, chunked',
  'chunked, chunked',
  'identity, chunked',
  'gzip, chunked',
  'chunked,',
  'chunked ,',
  ',chunked',
  '"chunked"',
  "'chunked'",
  'chunked;q=1',
  'chunk',
  'chunke',
  '',
  ' ',
  'identity',
  'gzip',
  'compress',
  'deflate',
  '\x0bchunked',
  'chunked\x0b',
  '\x0cchunked',
  'chunked\x0c',
  '\x00chunked',
  'chunked\x00',
  '\x7fchunked',
  'chunked\x7f',
  '\xa0chunked',
  'chunked\xa0',
  '\xffchunked',
  'ch\xadunked',
  'ch unked',
  'ch\tunked',
  'chunked\x1b',
  'chunked\r',
  'chunked\r\n x',
];

function teCase(cls: string, lines: (c: CaseIds) => string[], name: string, kinds: HeaderKind[], ows = false): Case {
  const c = new CaseIds();
  const input = raw({ method: 'POST', target: c.path(1), lines: [HOST, ...lines(c)], body: CHUNKED_HELLO });
  const bad = kinds.includes('bad') || kinds.includes('te-bad') || kinds.filter((k) => k === 'te-chunked').length > 1;
  let expect: Outcome[];
  if (bad) expect = [rej(c, 1)];
  // OWS around the value is allowed (RFC 9110 §5.5); llhttp refuses a trailing tab: either reading is safe.
  else if (kinds.includes('te-chunked') && ows) expect = [either(ok(c, 1, { method: 'POST', body: 'hello' }), rej(c, 1))];
  else if (kinds.includes('te-chunked')) expect = [ok(c, 1, { method: 'POST', body: 'hello' })];
  // Not a Transfer-Encoding at all: the POST has no body, and the chunked bytes that follow are no request.
  else expect = [ok(c, 1, { method: 'POST', body: '' }), rej(c, 2)];
  return mk(cls, c, name, input, expect);
}

export function teTe(): Case[] {
  const cls = 'TE.TE obfuscation';
  const out: Case[] = [];
  for (const n of TE_NAMES) {
    for (const v of ['chunked', 'CHUNKED', ' chunked']) {
      const line = `${n}:${v.startsWith(' ') ? v : ` ${v}`}`;
      out.push(teCase(cls, () => [line], show(line), [classifyHeader(n, v)]));
    }
  }
  for (const n of ['Transfer-Encoding', 'transfer-encoding', 'Transfer_Encoding']) {
    for (const v of TE_VALUES) out.push(teCase(cls, () => [`${n}:${v}`], `${show(n)}:${show(v)}`, [classifyHeader(n, trimOws(v))], /[ \t]$/.test(v)));
  }
  // Two Transfer-Encoding headers: refused whatever their values (a singleton; llhttp's "TE not final").
  const doubles = ['chunked', 'identity', 'x', 'chunked ', 'CHUNKED'];
  for (const a of doubles) {
    for (const b of doubles) out.push(teCase(cls, () => [`Transfer-Encoding: ${a}`, `Transfer-Encoding: ${b}`], `TE: ${a} + TE: ${b}`, ['te-bad']));
  }
  for (const v of ['chunked', 'identity', 'x']) {
    out.push(teCase(cls, () => [`Transfer-Encoding: chunked`, `Transfer_Encoding: ${v}`], `TE: chunked + Transfer_Encoding: ${v}`, ['bad']));
    out.push(teCase(cls, () => [`Transfer_Encoding: ${v}`, `Transfer-Encoding: chunked`], `Transfer_Encoding: ${v} + TE: chunked`, ['bad']));
    out.push(teCase(cls, () => [`Transfer-Encoding: ${v}`, ' chunked'], `TE: ${v} folded onto " chunked"`, ['bad']));
    out.push(teCase(cls, () => [`Transfer-Encoding:`, `\t${v}`], `TE: (empty) folded onto "\\t${v}"`, ['bad']));
    out.push(teCase(cls, () => [`X-Padding: ${'p'.repeat(40)}`, `Transfer-Encoding: ${v}`, `transfer-encoding: chunked`], `padded, TE: ${v} + te: chunked`, ['bad']));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 1: CL.TE and TE.CL, every Transfer-Encoding-looking header against a Content-Length.

export function clTe(): Case[] {
  const cls = 'CL.TE / TE.CL';
  const out: Case[] = [];
  const teLines: string[] = [];
  for (const n of TE_NAMES) {
    // Only the names some parser could take for Transfer-Encoding (a plainly different valid name is just a header).
    const k = classifyHeader(n, 'chunked');
    if (k === 'custom') continue;
    teLines.push(`${n}: chunked`);
  }
  for (const v of TE_VALUES.slice(0, 30)) teLines.push(`Transfer-Encoding:${v}`);
  for (const te of teLines) {
    for (const shape of ['CL.TE', 'TE.CL'] as const) {
      for (const order of ['CL first', 'TE first'] as const) {
        const c = new CaseIds();
        const smuggled = `GET /smuggled/${c.marker(9)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`;
        // CL.TE: the front honours CL and forwards the smuggled request inside the body; TE.CL: the reverse.
        const body = shape === 'CL.TE' ? `0${CRLF}${CRLF}${smuggled}` : `${Buffer.byteLength(smuggled).toString(16)}${CRLF}${smuggled}${CRLF}0${CRLF}${CRLF}`;
        const cl = `Content-Length: ${shape === 'CL.TE' ? body.length : 4}`;
        const lines = order === 'CL first' ? [HOST, cl, te] : [HOST, te, cl];
        out.push(mk(cls, c, `${shape}, ${order}, ${show(te)}`, raw({ method: 'POST', target: c.path(1), lines, body }), [rej(c, 1)], { forbidden: [c.marker(9)] }));
      }
    }
  }
  // Content-Length variants next to a plain Transfer-Encoding: chunked.
  for (const cl of ['0', '5', '+5', '5, 5', ' 5', '05', '']) {
    for (const order of ['CL first', 'TE first'] as const) {
      const c = new CaseIds();
      const lines = order === 'CL first' ? [HOST, `Content-Length: ${cl}`, 'Transfer-Encoding: chunked'] : [HOST, 'Transfer-Encoding: chunked', `Content-Length: ${cl}`];
      out.push(mk(cls, c, `Content-Length: ${show(cl)} with TE, ${order}`, raw({ method: 'POST', target: c.path(1), lines, body: CHUNKED_HELLO }), [rej(c, 1)]));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 3: Content-Length games.

/** Policy: 1*DIGIT without leading zeros (ambiguous to parsers that read octal), at most the route cap. */
function clExpect(value: string, cap: number): 'ok' | 'bad' | 'too-large' {
  if (!FIELD_VALUE.test(value)) return 'bad';
  const t = trimOws(value);
  if (!/^(0|[1-9][0-9]*)$/.test(t)) return 'bad';
  return BigInt(t) > BigInt(cap) ? 'too-large' : 'ok';
}

export const ROUTE_CAP = 64 * 1024;

export function contentLength(): Case[] {
  const cls = 'Content-Length games';
  const out: Case[] = [];
  const single = [
    '5',
    ' 5',
    '5 ',
    '\t5',
    '5\t',
    '  5  ',
    '+5',
    '-5',
    '0x5',
    '0X5',
    '05',
    '005',
    '010',
    '5Z',
    '1Z',
    'Z5',
    '5.0',
    '5e0',
    '5,5',
    '5, 5',
    '5 ,5',
    '5 5',
    '5,',
    ',5',
    '5;',
    '"5"',
    '',
    ' ',
    '\x00',
    '5\x00',
    '\x0b5',
    '5\x0b',
    '5\x7f',
    '5\xa0',
    '\xef\xbc\x95', // fullwidth 5 in UTF-8
    '\xd9\xa5', // arabic-indic 5 in UTF-8
    '-1',
    '-0',
    '1e21',
    '1000000000000000000000',
    '18446744073709551615',
    '18446744073709551616',
    '18446744073709551621', // 2^64 + 5: wraps to 5 in a careless 64-bit parser
    '4294967301', // 2^32 + 5: wraps to 5 in a careless 32-bit parser
    '9007199254740993',
    String(ROUTE_CAP + 1),
    '0',
  ];
  for (const v of single) {
    const c = new CaseIds();
    const body = 'hello';
    const verdict = clExpect(v, ROUTE_CAP);
    let expect: Outcome[];
    // OWS around the value is allowed by RFC 9110 §5.5; llhttp takes spaces but not a tab: either reading is safe.
    if (verdict === 'ok' && v !== trimOws(v)) expect = [either(ok(c, 1, { method: 'POST', body }), rej(c, 1))];
    else if (verdict === 'bad') expect = [rej(c, 1)];
    else if (verdict === 'too-large') expect = [rej(c, 1, [400, 413])];
    else {
      const n = Number(trimOws(v));
      // A shorter Content-Length leaves bytes that are not a request: refused, after the first was answered.
      expect = n === 5 ? [ok(c, 1, { method: 'POST', body })] : [ok(c, 1, { method: 'POST', body: body.slice(0, n) }), rej(c, 2)];
    }
    out.push(mk(cls, c, `Content-Length:${show(v)}`, raw({ method: 'POST', target: c.path(1), lines: [HOST, `Content-Length:${v}`], body }), expect));
  }
  const pairs: [string, string][] = [
    ['5', '5'],
    ['5', '6'],
    ['6', '5'],
    ['5', ''],
    ['', '5'],
    ['5', '0'],
    ['0', '5'],
    ['5', ' 5'],
  ];
  for (const [a, b] of pairs) {
    for (const [na, nb] of [
      ['Content-Length', 'Content-Length'],
      ['Content-Length', 'content-length'],
      ['CONTENT-LENGTH', 'Content-length'],
    ] as const) {
      const c = new CaseIds();
      out.push(mk(cls, c, `${na}: ${show(a)} + ${nb}: ${show(b)}`, raw({ method: 'POST', target: c.path(1), lines: [HOST, `${na}: ${a}`, `${nb}: ${b}`], body: 'hello' }), [rej(c, 1)]));
    }
  }
  for (const name of ['Content_Length', 'content_length', 'Content-Length ', 'Content-Length\t', ' Content-Length', 'Content-Length\x00', 'Content\x80Length']) {
    const c = new CaseIds();
    out.push(mk(cls, c, `${show(name)}: 5`, raw({ method: 'POST', target: c.path(1), lines: [HOST, `${name}: 5`], body: 'hello' }), [rej(c, 1)]));
    const d = new CaseIds();
    out.push(mk(cls, d, `Content-Length: 5 + ${show(name)}: 6`, raw({ method: 'POST', target: d.path(1), lines: [HOST, 'Content-Length: 5', `${name}: 6`], body: 'hello' }), [rej(d, 1)]));
  }
  // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): its framing is faulty, whatever a front proxy made of it.
  for (const lines of [['Transfer-Encoding: chunked'], ['Transfer-Encoding: chunked', 'Content-Length: 5'], [HOST, 'Transfer-Encoding: chunked']]) {
    const c = new CaseIds();
    out.push(mk(cls, c, `HTTP/1.0 with ${lines.join(', ')}`, raw({ method: 'POST', target: c.path(1), version: 'HTTP/1.0', lines, body: CHUNKED_HELLO }), [rej(c, 1)]));
  }
  // A name that is merely similar is an ordinary header: no body, and "hello" is no request.
  for (const name of ['ContentLength', 'Content-Lengthx', 'X-Content-Length', 'Content-Lengths']) {
    const c = new CaseIds();
    out.push(mk(cls, c, `${name}: 5`, raw({ method: 'POST', target: c.path(1), lines: [HOST, `${name}: 5`], body: 'hello' }), [ok(c, 1, { method: 'POST', body: '' }), rej(c, 2)]));
  }
  // A body shorter than announced: the request never completes; the client is told 408 (the primary may have seen
  // the start of the body, never a whole request; the mirror nothing).
  for (const [cl, body] of [
    ['10', 'hello'],
    ['6', 'hello'],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, `Content-Length: ${cl} with a ${body.length}-byte body`, raw({ method: 'POST', target: c.path(1), lines: [HOST, `Content-Length: ${cl}`], body }), [rej(c, 1, 408, true)], { timeoutMs: 6000 }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 4: chunk-size and chunk-extension games.

export function chunks(): Case[] {
  const cls = 'chunk-size / chunk-ext';
  const out: Case[] = [];
  type V = 'ok' | 'bad' | 'either' | 'hang';
  const sizes: [string, V][] = [
    ['5', 'ok'],
    ['05', 'ok'],
    ['00005', 'ok'],
    ['5;a', 'ok'],
    ['5;a=b', 'ok'],
    ['5;a="b"', 'ok'],
    ['5;a=b;c=d', 'ok'],
    ['5;a="b;c"', 'ok'],
    ['5 ;a', 'either'],
    ['5\t;a', 'either'],
    ['5; a', 'either'],
    ['5;a =b', 'either'],
    ['5 ', 'either'],
    ['5\t', 'either'],
    [' 5', 'bad'],
    ['\t5', 'bad'],
    ['0x5', 'bad'],
    ['0X5', 'bad'],
    ['+5', 'bad'],
    ['-5', 'bad'],
    ['0_5', 'bad'],
    ['0_2e', 'bad'],
    ['5_', 'bad'],
    ['5.0', 'bad'],
    ['g', 'bad'],
    ['5g', 'bad'],
    ['', 'bad'],
    ['5\x00', 'bad'],
    ['\x005', 'bad'],
    ['5\x0b', 'bad'],
    ['\x0b5', 'bad'],
    ['5\r', 'bad'],
    ['5;a\rb', 'bad'],
    ['5;a\x00', 'bad'],
    ['5;\x7f', 'bad'],
    ['5,', 'bad'],
    ['5 5', 'bad'],
    ['FFFFFFFFFFFFFFFFF', 'bad'], // overflows 64 bits
    ['10000000000000000', 'bad'],
    ['FFFFFFFFFFFFFFFF', 'hang'], // fits: the parser waits for 2^64-1 bytes
    [`5;${'a'.repeat(20 * 1024)}`, 'bad'], // chunk-extension flood
    [`5;a=${'b'.repeat(1024 * 1024)}`, 'bad'],
  ];
  const data = 'hello';
  for (const [size, v] of sizes) {
    for (const where of ['first', 'second'] as const) {
      const c = new CaseIds();
      const lead = where === 'first' ? '' : `3${CRLF}abc${CRLF}`;
      const body = `${lead}${size}${CRLF}${data}${CRLF}0${CRLF}${CRLF}`;
      const good = where === 'first' ? data : `abc${data}`;
      // An error in the second chunk comes after the first was streamed to the primary: mid-body.
      const partial = where === 'second';
      let expect: Outcome[];
      if (v === 'ok') expect = [ok(c, 1, { method: 'POST', body: good })];
      else if (v === 'bad') expect = [rej(c, 1, 400, partial)];
      else if (v === 'either') expect = [either(ok(c, 1, { method: 'POST', body: good }), rej(c, 1, 400, partial))];
      else expect = [rej(c, 1, [400, 408, 413], true)];
      out.push(
        mk(cls, c, `${where} chunk-size line ${show(size.length > 40 ? `${size.slice(0, 20)}…(${size.length} bytes)` : size)}`, raw({ method: 'POST', target: c.path(1), lines: [HOST, 'Transfer-Encoding: chunked'], body }), expect, {
          timeoutMs: v === 'hang' ? 6000 : 4000,
        }),
      );
    }
  }
  // Data and framing around the chunks.
  const framings: [string, string, V, string][] = [
    ['data shorter than the size', `5${CRLF}hell${CRLF}0${CRLF}${CRLF}`, 'bad', ''],
    ['data longer than the size', `5${CRLF}hello!${CRLF}0${CRLF}${CRLF}`, 'bad', ''],
    ['no CRLF after the data', `5${CRLF}hello0${CRLF}${CRLF}`, 'bad', ''],
    ['bare LF after the size', `5\nhello${CRLF}0${CRLF}${CRLF}`, 'bad', ''],
    ['bare LF after the data', `5${CRLF}hello\n0${CRLF}${CRLF}`, 'bad', ''],
    ['CR CR LF after the size', `5\r\r\nhello${CRLF}0${CRLF}${CRLF}`, 'bad', ''],
    ['last chunk with an extension', `5${CRLF}hello${CRLF}0;a=b${CRLF}${CRLF}`, 'ok', 'hello'],
    ['last chunk 000', `5${CRLF}hello${CRLF}000${CRLF}${CRLF}`, 'ok', 'hello'],
    ['a trailer field', `5${CRLF}hello${CRLF}0${CRLF}X-Trailer: 1${CRLF}${CRLF}`, 'ok', 'hello'],
    ['a Content-Length trailer', `5${CRLF}hello${CRLF}0${CRLF}Content-Length: 5${CRLF}${CRLF}`, 'either', 'hello'],
    ['a trailer with a space before the colon', `5${CRLF}hello${CRLF}0${CRLF}X-T : 1${CRLF}${CRLF}`, 'bad', ''],
    ['a trailer with a bare LF', `5${CRLF}hello${CRLF}0${CRLF}X-T: 1\n${CRLF}`, 'bad', ''],
    ['a folded trailer', `5${CRLF}hello${CRLF}0${CRLF}X-T: 1${CRLF} 2${CRLF}${CRLF}`, 'bad', ''],
    ['no last chunk', `5${CRLF}hello${CRLF}`, 'hang', ''],
    ['no final CRLF', `5${CRLF}hello${CRLF}0${CRLF}`, 'hang', ''],
    ['zero-size chunk then data', `0${CRLF}${CRLF}hello`, 'ok', ''],
  ];
  for (const [what, body, v, good] of framings) {
    const c = new CaseIds();
    let expect: Outcome[];
    if (v === 'ok') expect = good === '' ? [ok(c, 1, { method: 'POST', body: '' }), rej(c, 2)] : [ok(c, 1, { method: 'POST', body: good })];
    else if (v === 'bad') expect = [rej(c, 1, 400, true)];
    else if (v === 'either') expect = [either(ok(c, 1, { method: 'POST', body: good }), rej(c, 1, 400, true))];
    else expect = [rej(c, 1, [408], true)];
    out.push(mk(cls, c, what, raw({ method: 'POST', target: c.path(1), lines: [HOST, 'Transfer-Encoding: chunked'], body }), expect, { timeoutMs: v === 'hang' ? 6000 : 4000 }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 5: obs-fold. RFC 9112 §5.2 lets a server reject or unfold; we reject.

export function obsFold(): Case[] {
  const cls = 'obs-fold';
  const out: Case[] = [];
  const heads = ['X-A: a', 'Transfer-Encoding: chunked', 'Content-Length: 5', 'Connection: keep-alive', 'Cookie: a=b', 'X-Forwarded-For: 1.2.3.4', 'Accept: */*'];
  const conts = [' b', '\tb', '   b', ' ', '\t', ' chunked', ' Content-Length: 5'];
  for (const h of heads) {
    for (const cont of conts) {
      const c = new CaseIds();
      // The folded line followed by a body length (unless the folded header is that length).
      const lines = h.startsWith('Content-Length') ? [HOST, h, cont] : [HOST, h, cont, 'Content-Length: 5'];
      out.push(mk(cls, c, `${h} folded onto "${show(cont)}"`, raw({ method: 'POST', target: c.path(1), lines, body: 'hello' }), [rej(c, 1)]));
    }
  }
  for (const first of [' X-A: b', '\tX-A: b', ' Host: b.example', '\tTransfer-Encoding: chunked']) {
    const c = new CaseIds();
    out.push(mk(cls, c, `whitespace before the first header line: ${show(first)}`, raw({ target: c.path(1), lines: [first, HOST] }), [rej(c, 1)]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 6: bare CR / bare LF, anywhere.

export function lineEndings(): Case[] {
  const cls = 'bare CR / bare LF';
  const out: Case[] = [];
  const replacements = ['\n', '\r', '\r\r\n', '\n\r', '\r\n\r', ' \n', '\x00\r\n'];
  for (const method of ['GET', 'POST'] as const) {
    for (let pos = 0; pos < 4; pos++) {
      for (const rep of replacements) {
        // After the last line, a CRLF followed by more bytes is a complete head plus leftovers: not this class.
        if (pos === 3 && rep.startsWith('\r\n')) continue;
        const c = new CaseIds();
        const lines = [`${method} ${c.path(1)} HTTP/1.1`, HOST, method === 'POST' ? 'Content-Length: 5' : 'X-A: b', ''];
        const text = lines.map((l, i) => l + (i === pos ? rep : CRLF)).join('') + (method === 'POST' ? 'hello' : '');
        // A lone CR at the very end cannot be judged until the next byte: the head is unfinished, 408 later.
        const status = pos === 3 && rep === '\r' ? [400, 408] : [400];
        out.push(mk(cls, c, `${method}, line end ${pos} replaced by ${show(rep)}`, Buffer.from(text, 'latin1'), [rej(c, 1, status)], { timeoutMs: 5000 }));
      }
    }
  }
  const inside: [string, (c: CaseIds) => string][] = [
    ['CR in the request target', (c) => `GET ${c.path(1)}\rx HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`],
    ['LF in the request target', (c) => `GET ${c.path(1)}\nx HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`],
    ['CRLF in the request target', (c) => `GET ${c.path(1)}${CRLF}X-Injected: 1 HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`],
    ['CR before the version', (c) => `GET ${c.path(1)} \rHTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`],
    ['CR in a header value', (c) => `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}X-A: a\rb${CRLF}${CRLF}`],
    ['LF in a header value', (c) => `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}X-A: a\nb${CRLF}${CRLF}`],
    ['CR in a header name', (c) => `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}X\r-A: b${CRLF}${CRLF}`],
    ['CR ending the header block', (c) => `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}\rX${CRLF}${CRLF}`],
    ['CR LF CR X after Host', (c) => `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}\r\n\rX: y${CRLF}${CRLF}`],
    ['LF-only request', (c) => `GET ${c.path(1)} HTTP/1.1\n${HOST}\n\n`],
    ['CR-only request', (c) => `GET ${c.path(1)} HTTP/1.1\r${HOST}\r\r`],
    ['smuggled request behind bare LFs', (c) => `GET ${c.path(1)} HTTP/1.1\n${HOST}\nContent-Length: 0\n\nGET /smuggled/${c.marker(9)} HTTP/1.1\n${HOST}\n\n`],
  ];
  for (const [what, f] of inside) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, Buffer.from(f(c), 'latin1'), [rej(c, 1)], { forbidden: [c.marker(9)] }));
  }
  // Empty lines before a request line are tolerated by RFC 9112 §2.2 (SHOULD ignore at least one).
  for (const lead of [CRLF, CRLF + CRLF]) {
    const c = new CaseIds();
    out.push(mk(cls, c, `${show(lead)} before the request line`, Buffer.from(lead + `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`, 'latin1'), [either(ok(c, 1), rej(c, 1))]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 7: bad header names, underscores.

export function headerNames(): Case[] {
  const cls = 'bad header names';
  const out: Case[] = [];
  const bytes: number[] = [];
  for (let b = 0; b <= 0x20; b++) bytes.push(b);
  bytes.push(0x7f);
  for (let b = 0x80; b <= 0xff; b++) bytes.push(b);
  for (const ch of '"(),/;<=>?@[\\]{}') bytes.push(ch.charCodeAt(0));
  for (const b of bytes) {
    if (b === 0x0a || b === 0x0d) continue; // line structure: the bare CR/LF class
    const c = new CaseIds();
    const name = `X-A${String.fromCharCode(b)}b`;
    out.push(mk(cls, c, `byte 0x${b.toString(16).padStart(2, '0')} inside a header name`, raw({ target: c.path(1), lines: [HOST, `${name}: v`] }), [rej(c, 1)]));
  }
  const shapes: [string, string][] = [
    ['space before the colon', 'X-A : v'],
    ['tab before the colon', 'X-A\t: v'],
    ['Host with a space before the colon', 'Host : b.example'],
    ['Content-Length with a space before the colon (CVE-2024-27982)', 'Content-Length : 5'],
    ['empty name', ': v'],
    ['only a colon', ':'],
    ['no colon', 'X-A v'],
    ['NUL name', '\x00: v'],
  ];
  for (const [what, line] of shapes) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, raw({ method: 'POST', target: c.path(1), lines: [HOST, line, 'Content-Length: 5'], body: 'hello' }), [rej(c, 1)]));
  }
  // Underscore names that read as a header tapwire frames with, sets or strips: refused.
  for (const dashed of SPECIAL) {
    if (!dashed.includes('-')) continue;
    for (const variant of [dashed.replaceAll('-', '_'), dashed.replaceAll('-', '_').toUpperCase()]) {
      const c = new CaseIds();
      out.push(mk(cls, c, `${variant}: 1`, raw({ target: c.path(1), lines: [HOST, `${variant}: 1`] }), [rej(c, 1)]));
    }
  }
  // Underscore names colliding with a dash name in the same request: refused.
  for (const [a, b] of [
    ['X-Custom', 'X_Custom'],
    ['X_Custom', 'X-Custom'],
    ['x-user-id', 'X_USER_ID'],
    ['X_Api_Key', 'x-api-key'],
  ]) {
    const c = new CaseIds();
    out.push(mk(cls, c, `${a} and ${b}`, raw({ target: c.path(1), lines: [HOST, `${a}: 1`, `${b}: 2`] }), [rej(c, 1)]));
  }
  // Underscore names that collide with nothing: ordinary headers, forwarded unchanged to both sides.
  for (const name of ['X_Custom', 'My_Header', 'x_trace_id', '_', 'A_B_C']) {
    const c = new CaseIds();
    out.push(
      mk(cls, c, `${name} alone`, raw({ target: c.path(1), lines: [HOST, `${name}: v1`] }), [
        ok(c, 1, {
          check: (p) => (values(p.rawHeaders, name.toLowerCase()).join() === 'v1' ? undefined : `${name} not forwarded as sent`),
        }),
      ]),
    );
  }
  // Every tchar is a legal name byte.
  {
    const c = new CaseIds();
    const name = "!#$%&'*+-.^`|~0aZ";
    out.push(mk(cls, c, 'every tchar in a name', raw({ target: c.path(1), lines: [HOST, `${name}: v`] }), [ok(c, 1, { check: (p) => (values(p.rawHeaders, name.toLowerCase()).join() === 'v' ? undefined : 'tchar name lost') })]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 8: oversize request line, headers, header count, body.

export function oversize(): Case[] {
  const cls = 'oversize';
  const out: Case[] = [];
  // The request line is METHOD SP target SP HTTP/1.1 (CRLF not counted); the limit is 8 KiB.
  for (const len of [8000, 8192, 8193, 9000, 12_000, 16_000, 17_000, 64 * 1024]) {
    const c = new CaseIds();
    const prefix = c.path(1, '/');
    const target = prefix + 'a'.repeat(len - 'GET  HTTP/1.1'.length - prefix.length);
    const expect: Outcome[] = len <= 8192 ? [ok(c, 1, { path: target })] : len < 16_000 ? [rej(c, 1, 414)] : [rej(c, 1, [414, 431])];
    out.push(mk(cls, c, `request line of ${len} bytes`, raw({ target, lines: [HOST] }), expect));
  }
  // Header fields: 100 are fine, 101 are not (Host counts).
  for (const n of [99, 100, 101, 150, 2001, 5000]) {
    const c = new CaseIds();
    const lines = [HOST, ...Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v`)];
    out.push(mk(cls, c, `${n} header fields`, raw({ target: c.path(1), lines }), n <= 100 ? [ok(c, 1)] : [rej(c, 1, 431)]));
  }
  // Header bytes: 16 KiB in all (node counts the head), one huge field, many medium ones.
  for (const [what, lines, good] of [
    ['one 15 KiB field', [`X-Big: ${'b'.repeat(15 * 1024)}`], true],
    ['one 17 KiB field', [`X-Big: ${'b'.repeat(17 * 1024)}`], false],
    ['one 1 MiB field', [`X-Big: ${'b'.repeat(1024 * 1024)}`], false],
    ['a 17 KiB header name', [`X-${'n'.repeat(17 * 1024)}: v`], false],
    ['90 fields of 200 bytes (18 KiB)', Array.from({ length: 90 }, (_, i) => `X-M${i}: ${'m'.repeat(200)}`), false],
    ['60 fields of 200 bytes (12 KiB)', Array.from({ length: 60 }, (_, i) => `X-M${i}: ${'m'.repeat(200)}`), true],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, raw({ target: c.path(1), lines: [HOST, ...lines] }), good ? [ok(c, 1)] : [rej(c, 1, 431)]));
  }
  // Bodies against the route cap (64 KiB here).
  for (const [what, lines, body, expect] of [
    ['Content-Length at the cap', [`Content-Length: ${ROUTE_CAP}`], 'c'.repeat(ROUTE_CAP), 'ok'],
    ['Content-Length one over the cap', [`Content-Length: ${ROUTE_CAP + 1}`], 'c'.repeat(ROUTE_CAP + 1), 413],
    ['Content-Length of 1 GiB, no body', ['Content-Length: 1073741824'], '', 413],
    ['Content-Length over the cap with Expect', [`Content-Length: ${ROUTE_CAP + 1}`, 'Expect: 100-continue'], '', 413],
  ] as const) {
    const c = new CaseIds();
    const e: Outcome[] = expect === 'ok' ? [ok(c, 1, { method: 'POST', body })] : [rej(c, 1, expect)];
    out.push(mk(cls, c, what, raw({ method: 'POST', target: c.path(1), lines: [HOST, ...lines], body }), e, { timeoutMs: 8000 }));
  }
  for (const total of [ROUTE_CAP, ROUTE_CAP + 1, 4 * ROUTE_CAP]) {
    const c = new CaseIds();
    const piece = 4096;
    let body = '';
    let left = total;
    while (left > 0) {
      const n = Math.min(piece, left);
      body += `${n.toString(16)}${CRLF}${'k'.repeat(n)}${CRLF}`;
      left -= n;
    }
    body += `0${CRLF}${CRLF}`;
    const expect: Outcome[] = total <= ROUTE_CAP ? [ok(c, 1, { method: 'POST', body: 'k'.repeat(total) })] : [rej(c, 1, 413, true)];
    out.push(mk(cls, c, `chunked body of ${total} bytes`, raw({ method: 'POST', target: c.path(1), lines: [HOST, 'Transfer-Encoding: chunked'], body }), expect, { timeoutMs: 8000 }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 9: slowloris and slow bodies (limits in the rig: headersTimeout 1 s, requestTimeout 2 s, checked every 1 s).

export function slow(): Case[] {
  const cls = 'slowloris / slow body';
  const out: Case[] = [];
  const dribble = (text: string, everyMs: number, size = 1): Step[] => {
    const steps: Step[] = [];
    const b = Buffer.from(text, 'latin1');
    for (let i = 0; i < b.length; i += size) steps.push(b.subarray(i, i + size), { pauseMs: everyMs });
    return steps;
  };
  for (const everyMs of [100, 250, 600]) {
    const c = new CaseIds();
    const text = `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}X-Slow: ${'s'.repeat(40)}${CRLF}${CRLF}`;
    out.push(mk(cls, c, `headers one byte every ${everyMs} ms`, dribble(text, everyMs), [rej(c, 1, 408)], { timeoutMs: 6000 }));
  }
  for (const everyMs of [100, 400]) {
    // A header block that is never finished: a header line every so often, the empty line never.
    const c = new CaseIds();
    const steps: Step[] = [Buffer.from(`GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}`, 'latin1')];
    for (let i = 0; i < 30; i++) steps.push({ pauseMs: everyMs }, Buffer.from(`X-More-${i}: m${CRLF}`));
    out.push(mk(cls, c, `a header line every ${everyMs} ms, never finished`, steps, [rej(c, 1, 408)], { timeoutMs: 6000 }));
  }
  {
    const c = new CaseIds();
    out.push(mk(cls, c, 'a request line, then silence', [Buffer.from(`GET ${c.path(1)} HTTP/1.1${CRLF}`), { pauseMs: 5000 }], [rej(c, 1, 408)], { timeoutMs: 6000 }));
  }
  for (const [what, cl, everyMs] of [
    ['Content-Length body one byte every 300 ms', 40, 300],
    ['Content-Length body one byte every 100 ms', 100, 100],
  ] as const) {
    const c = new CaseIds();
    const head = Buffer.from(`POST ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}Content-Length: ${cl}${CRLF}${CRLF}`, 'latin1');
    out.push(mk(cls, c, what, [head, ...dribble('b'.repeat(cl), everyMs)], [rej(c, 1, 408, true)], { timeoutMs: 7000 }));
  }
  {
    const c = new CaseIds();
    const head = Buffer.from(`POST ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}`, 'latin1');
    const steps: Step[] = [head];
    for (let i = 0; i < 40; i++) steps.push(Buffer.from(`1${CRLF}x${CRLF}`), { pauseMs: 150 });
    out.push(mk(cls, c, 'chunked body one chunk every 150 ms', steps, [rej(c, 1, 408, true)], { timeoutMs: 7000 }));
  }
  {
    const c = new CaseIds();
    const head = Buffer.from(`POST ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}Content-Length: 5${CRLF}Expect: 100-continue${CRLF}${CRLF}`, 'latin1');
    out.push(mk(cls, c, 'Expect: 100-continue, then no body', [head, { pauseMs: 5000 }], [rej(c, 1, 408, true)], { timeoutMs: 7000 }));
  }
  // A slow but steady client inside the limits is served.
  {
    const c = new CaseIds();
    const text = `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`;
    out.push(mk(cls, c, 'headers in 4 pieces over 300 ms', dribble(text, 100, Math.ceil(text.length / 4)), [ok(c, 1)], { timeoutMs: 4000 }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Rows 10 and 11: absolute-form, authority-form, asterisk-form, CONNECT.

export function targets(bystanderPort: number): Case[] {
  const cls = 'absolute-form / CONNECT';
  const out: Case[] = [];
  const b = `127.0.0.1:${bystanderPort}`;
  // Absolute-form whose authority equals Host: routed by configuration, forwarded in origin form, to the primary.
  for (const [scheme, host] of [
    ['http', 'a.example'],
    ['HTTP', 'a.example'],
    ['http', b],
    ['http', '169.254.169.254'],
    ['http', '[::1]:8080'],
    ['https', 'a.example'],
    ['http', 'A.EXAMPLE'],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, `${scheme}://${host}/… with Host: ${host}`, raw({ target: `${scheme}://${host}${c.path(1)}?q=1`, lines: [`Host: ${host}`] }), [ok(c, 1, { path: `${c.path(1)}?q=1` })]));
  }
  const refused: [string, string, string][] = [
    ['authority differs from Host', `http://${b}`, HOST],
    ['metadata address, Host differs', 'http://169.254.169.254', HOST],
    ['userinfo in the authority', 'http://a.example@evil.example', 'Host: evil.example'],
    ['userinfo equal to Host', 'http://u:p@a.example', 'Host: a.example'],
    ['port differs', 'http://a.example:8080', HOST],
    ['ftp scheme', 'ftp://a.example', HOST],
    ['file scheme', 'file://a.example', HOST],
    ['scheme-relative', '//a.example', HOST],
    ['empty authority', 'http://', HOST],
    ['default port spelled out', 'http://a.example:80', HOST],
    ['trailing dot', 'http://a.example.', HOST],
    ['encoded slash in the authority', 'http://a.example%2f@b.example', HOST],
    ['backslash in the authority', 'http://a.example\\@b.example', HOST],
    ['IPv6 literal, Host without brackets', 'http://[::1]', 'Host: ::1'],
  ];
  for (const [what, prefix, host] of refused) {
    const c = new CaseIds();
    out.push(mk(cls, c, `absolute-form: ${what}`, raw({ target: `${prefix}${c.path(1)}`, lines: [host] }), [rej(c, 1)]));
  }
  for (const [what, target, method] of [
    ['asterisk-form OPTIONS', '*', 'OPTIONS'],
    ['asterisk-form GET', '*', 'GET'],
    ['authority-form GET', b, 'GET'],
    ['authority-form POST', 'a.example:80', 'POST'],
    ['empty target', '', 'GET'],
    ['relative target', 'a/b', 'GET'],
    ['fragment', '/t#frag', 'GET'],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, Buffer.from(`${method} ${target} HTTP/1.1${CRLF}${HOST}${CRLF}X-Case: ${c.marker(1)}${CRLF}${CRLF}`, 'latin1'), [rej(c, 1)]));
  }
  for (const [what, target] of [
    ['the bystander', b],
    ['ssh on localhost', '127.0.0.1:22'],
    ['an IPv6 literal', '[::1]:22'],
    ['a name', 'internal.example:443'],
    ['the metadata address', '169.254.169.254:80'],
  ] as const) {
    for (const extra of [[], ['Content-Length: 5'], ['Upgrade: websocket', 'Connection: Upgrade']] as const) {
      const c = new CaseIds();
      out.push(
        mk(cls, c, `CONNECT ${what}${extra.length ? ` with ${extra.join(', ')}` : ''}`, Buffer.from(`CONNECT ${target} HTTP/1.1${CRLF}Host: ${target}${CRLF}X-Case: ${c.marker(1)}${CRLF}${extra.map((l) => l + CRLF).join('')}${CRLF}${extra.length === 1 ? 'hello' : ''}`, 'latin1'), [rej(c, 1, 405)]),
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Rows 12 and 13: Host tricks. The rig has a route for api.example.com (its mirror copy carries x-route: api)
// before the catch-all (x-route: all): anchored host matching is visible at the mirror.

const routedTo = (want: string) => (_p: Seen, m: Seen): string | undefined => {
  const got = values(m.rawHeaders, 'x-route').join();
  return got === want ? undefined : `routed to ${got || '?'}, expected ${want}`;
};

export function hosts(): Case[] {
  const cls = 'Host tricks';
  const out: Case[] = [];
  const good: [string, string][] = [
    ['api.example.com', 'api'],
    ['API.EXAMPLE.COM', 'api'],
    ['api.example.com:8080', 'api'],
    ['api.example.com.evil.tld', 'all'],
    ['evil-api.example.com', 'all'],
    ['xapi.example.com', 'all'],
    ['api.example.co', 'all'],
    ['[::1]', 'all'],
    ['[::1]:8080', 'all'],
    ['127.0.0.1:65535', 'all'],
    ['a_b.example', 'all'],
  ];
  for (const [host, route] of good) {
    const c = new CaseIds();
    out.push(
      mk(cls, c, `Host: ${host}`, raw({ target: c.path(1), lines: [`Host: ${host}`] }), [
        ok(c, 1, {
          check: (p, m) => (values(p.rawHeaders, 'host').join() !== host ? `Host ${values(p.rawHeaders, 'host').join()} at the primary` : routedTo(route)(p, m)),
        }),
      ]),
    );
  }
  const bad = ['a@b', 'user@api.example.com', 'a/b', 'api.example.com/x', 'a b', 'a\tb', 'a,b', 'a;b', 'a%20b', 'a:b', 'a:99999', 'a:-1', 'a:', '[::1', '::1', 'a\\b', 'a?b', 'a#b', '', ' ', 'a\xe9', 'a\x7f'];
  for (const host of bad) {
    const c = new CaseIds();
    out.push(mk(cls, c, `Host: ${show(host)}`, raw({ target: c.path(1), lines: [`Host: ${host}`] }), [rej(c, 1)]));
  }
  for (const [what, lines] of [
    ['two Host headers', ['Host: a.example', 'Host: b.example']],
    ['two equal Host headers', ['Host: a.example', 'Host: a.example']],
    ['Host and host', ['Host: a.example', 'host: a.example']],
    ['Host and HOST', ['Host: a.example', 'HOST: b.example']],
    ['no Host (HTTP/1.1)', ['X-A: b']],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, raw({ target: c.path(1), lines }), [rej(c, 1)]));
  }
  // HTTP/1.0 without Host: served by a route without a host condition (here the catch-all), Host set to the
  // upstream's; with one, the api route. And with Connection: close semantics (1.0), the connection closes.
  {
    const c = new CaseIds();
    out.push(mk(cls, c, 'HTTP/1.0 without Host goes to the route without a host condition', raw({ target: c.path(1), version: 'HTTP/1.0', lines: [] }), [ok(c, 1, { check: routedTo('all'), ownHosts: true })]));
    const d = new CaseIds();
    out.push(mk(cls, d, 'HTTP/1.0 with Host: api.example.com', raw({ target: d.path(1), version: 'HTTP/1.0', lines: ['Host: api.example.com'] }), [ok(d, 1, { check: routedTo('api') })]));
  }
  return out;
}

/** Row 13 on a rig whose only route has a host condition. */
export function hostless(): Case[] {
  const cls = 'HTTP/1.0 without Host, no default route';
  const c = new CaseIds();
  const d = new CaseIds();
  const e = new CaseIds();
  return [
    mk(cls, c, 'HTTP/1.0 without Host is refused when every route needs a host', raw({ target: c.path(1), version: 'HTTP/1.0', lines: [] }), [rej(c, 1, 400)]),
    mk(cls, d, 'HTTP/1.0 with the routed Host is served', raw({ target: d.path(1), version: 'HTTP/1.0', lines: ['Host: api.example.com'] }), [ok(d, 1)]),
    mk(cls, e, 'HTTP/1.0 with a Host no route has is 404', raw({ target: e.path(1), version: 'HTTP/1.0', lines: ['Host: other.example'] }), [rej(e, 1, 404)]),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Row 14: hop-by-hop abuse.

export function hopByHop(): Case[] {
  const cls = 'hop-by-hop abuse';
  const out: Case[] = [];
  const carried: Record<string, string> = {
    'X-Forwarded-For': '6.6.6.6',
    Authorization: 'Bearer secret',
    Cookie: 'a=b',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'evil.example',
    'X-Tapwire-Mirror': '1',
    'X-Custom': 'c',
    'Keep-Alive': 'timeout=5',
    TE: 'trailers',
    Trailer: 'X-T',
    Upgrade: 'websocket',
    'Proxy-Authorization': 'Basic eA==',
    'Proxy-Connection': 'keep-alive',
    'Content-Type': 'text/plain',
    Proxy: 'http://evil.example:3128',
    'Proxy-Foo': 'x',
  };
  const protectedNames = new Set(['host', 'content-length', 'content-type']);
  // Headers tapwire itself sets on the way: a client naming them in Connection removes only the client's copy.
  const OURS = new Set(['close', 'x-tapwire-mirror', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
  const lists = [
    'close, X-Forwarded-For, Authorization',
    'keep-alive, X-Forwarded-For',
    'Host',
    'Content-Length',
    'Content-Type',
    'Host, Content-Length, Content-Type',
    'X-Forwarded-Proto, X-Forwarded-Host',
    'X-Tapwire-Mirror',
    'Cookie',
    'x-custom',
    'X-CUSTOM',
    ' X-Custom ,, Cookie ,',
    'TE, Trailer, Keep-Alive, Upgrade',
    'Transfer-Encoding',
    'Proxy-Authorization',
    'close, close',
    'Authorization, Cookie, X-Custom, X-Forwarded-For, X-Forwarded-Host',
  ];
  for (const list of lists) {
    for (const twoHeaders of [false, true]) {
      for (const withBody of [false, true]) {
        const c = new CaseIds();
        const named = list
          .split(',')
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean);
        const connLines = twoHeaders ? list.split(',').map((s) => `Connection: ${s.trim()}`).filter((l) => l !== 'Connection: ') : [`Connection: ${list}`];
        const lines = [HOST, ...connLines, ...Object.entries(carried).map(([n, v]) => `${n}: ${v}`), ...(withBody ? ['Content-Length: 5'] : [])];
        const check = (p: Seen, m: Seen): string | undefined => {
          for (const s of [p, m]) {
            const names = new Set<string>();
            for (let i = 0; i < s.rawHeaders.length; i += 2) names.add(s.rawHeaders[i]!.toLowerCase());
            for (const n of named) {
              if (protectedNames.has(n)) {
                if (n !== 'content-length' && !names.has(n)) return `${n} was removed because Connection named it`;
              } else if (!OURS.has(n) && names.has(n)) {
                return `${n} was named in Connection and still forwarded`;
              }
            }
            const xff = values(s.rawHeaders, 'x-forwarded-for');
            const namedXff = named.includes('x-forwarded-for');
            if (xff.join() !== (namedXff ? '127.0.0.1' : '6.6.6.6, 127.0.0.1')) return `X-Forwarded-For ${xff.join(' | ')}`;
            if (values(s.rawHeaders, 'x-forwarded-proto').join() !== 'http') return 'X-Forwarded-Proto is not ours';
            if (values(s.rawHeaders, 'x-forwarded-host').join() !== 'a.example') return `X-Forwarded-Host ${values(s.rawHeaders, 'x-forwarded-host').join()}`;
          }
          if (values(p.rawHeaders, 'x-tapwire-mirror').length) return 'the client marked its request as a mirror copy';
          return undefined;
        };
        out.push(
          mk(cls, c, `Connection: ${list}${twoHeaders ? ' (one header per name)' : ''}${withBody ? ', with a body' : ''}`, raw({ method: withBody ? 'POST' : 'GET', target: c.path(1), lines, ...(withBody ? { body: 'hello' } : {}) }), [
            ok(c, 1, { method: withBody ? 'POST' : 'GET', ...(withBody ? { body: 'hello' } : {}), check }),
          ]),
        );
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Rows 15 and 16: CRLF injection attempts, invalid UTF-8 and obs-text (bytes pass through, never decoded).

export function injection(): Case[] {
  const cls = 'CRLF injection';
  const out: Case[] = [];
  // Percent-encoded CR/LF is data: forwarded as received, never decoded into a header.
  for (const enc of ['%0d%0a', '%0D%0A', '%0a', '%0d', '%E5%98%8A%E5%98%8D', '%c4%8d%c4%8a', '%250d%250a']) {
    const c = new CaseIds();
    const path = `${c.path(1)}/a${enc}X-Injected:%20yes`;
    out.push(mk(cls, c, `path with ${enc}`, raw({ target: path, lines: [HOST] }), [ok(c, 1, { path, check: noInjected })]));
    const d = new CaseIds();
    const q = `${d.path(1)}?q=${enc}X-Injected:%20yes`;
    out.push(mk(cls, d, `query with ${enc}`, raw({ target: q, lines: [HOST] }), [ok(d, 1, { path: q, check: noInjected })]));
  }
  // Raw non-ASCII in the target (U+010D U+010A as UTF-8, whose low bytes are CR LF): not a valid target, refused.
  for (const [what, bytes] of [
    ['U+010D U+010A as UTF-8', Buffer.from('\u010d\u010a', 'utf8').toString('latin1')],
    ['U+560A U+560D as UTF-8', Buffer.from('\u560a\u560d', 'utf8').toString('latin1')],
    ['raw 0x8d 0x8a', '\x8d\x8a'],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, `target with ${what}`, raw({ target: `${c.path(1)}/${bytes}X-Injected: yes`, lines: [HOST] }), [rej(c, 1)]));
  }
  // The same bytes in a header value are obs-text: forwarded byte for byte, no CR/LF appears on the way.
  for (const [what, bytes] of [
    ['U+010D U+010A as UTF-8', Buffer.from('\u010d\u010a', 'utf8').toString('latin1')],
    ['U+560A U+560D as UTF-8', Buffer.from('\u560a\u560d', 'utf8').toString('latin1')],
  ] as const) {
    const c = new CaseIds();
    const value = `a${bytes}X-Injected: yes`;
    out.push(
      mk(cls, c, `header value with ${what}`, raw({ target: c.path(1), lines: [HOST, `X-A: ${value}`] }), [
        ok(c, 1, {
          check: (p, m) => {
            for (const s of [p, m]) if (values(s.rawHeaders, 'x-a').join() !== value) return `X-A became ${show(values(s.rawHeaders, 'x-a').join())}`;
            return noInjected(p, m);
          },
        }),
      ]),
    );
  }
  return out;
}

function noInjected(p: Seen, m: Seen): string | undefined {
  for (const s of [p, m]) if (values(s.rawHeaders, 'x-injected').length) return 'an injected header reached an upstream';
  return undefined;
}

export function obsText(): Case[] {
  const cls = 'invalid UTF-8 / obs-text';
  const out: Case[] = [];
  for (let b = 0x80; b <= 0xff; b++) {
    const c = new CaseIds();
    const value = `a${String.fromCharCode(b)}b`;
    out.push(
      mk(cls, c, `header value byte 0x${b.toString(16)}`, raw({ target: c.path(1), lines: [HOST, `X-A: ${value}`] }), [
        ok(c, 1, { check: (p, m) => ([p, m].every((s) => values(s.rawHeaders, 'x-a').join() === value) ? undefined : 'obs-text changed on the way') }),
      ]),
    );
  }
  for (const [what, seq] of [
    ['overlong NUL', '\xc0\x80'],
    ['UTF-16 surrogate', '\xed\xa0\x80'],
    ['lone continuation bytes', '\x80\x80\x80'],
    ['truncated sequence', '\xe2\x82'],
    ['above U+10FFFF', '\xf4\x90\x80\x80'],
    ['0xF5+', '\xf5\xf6\xf7'],
    ['BOM', '\xef\xbb\xbf'],
    ['latin-1 e-acute', '\xe9'],
  ] as const) {
    const c = new CaseIds();
    const value = `x${seq}y`;
    out.push(
      mk(cls, c, `header value with ${what}`, raw({ target: c.path(1), lines: [HOST, `X-A: ${value}`, `Cookie: k=${seq}`] }), [
        ok(c, 1, { check: (p, m) => ([p, m].every((s) => values(s.rawHeaders, 'x-a').join() === value && values(s.rawHeaders, 'cookie').join() === `k=${seq}`) ? undefined : 'bytes changed on the way') }),
      ]),
    );
    const d = new CaseIds();
    out.push(mk(cls, d, `raw ${what} in the target`, raw({ target: `${d.path(1)}/${seq}`, lines: [HOST] }), [rej(d, 1)]));
    const e = new CaseIds();
    const pct = `${e.path(1)}/${[...Buffer.from(seq, 'latin1')].map((x) => `%${x.toString(16).toUpperCase()}`).join('')}?v=${[...Buffer.from(seq, 'latin1')].map((x) => `%${x.toString(16)}`).join('')}`;
    out.push(mk(cls, e, `percent-encoded ${what} in the target`, raw({ target: pct, lines: [HOST] }), [ok(e, 1, { path: pct })]));
  }
  // Bodies are bytes: every byte value, and invalid UTF-8 in JSON, arrive unchanged on both sides.
  {
    const c = new CaseIds();
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    out.push(mk(cls, c, 'a body with every byte value', raw({ method: 'POST', target: c.path(1), lines: [HOST, `Content-Length: ${body.length}`], body }), [ok(c, 1, { method: 'POST', body })]));
    const d = new CaseIds();
    const json = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xed, 0xa0, 0x80, 0xff]), Buffer.from('\\ud800"}')]);
    out.push(mk(cls, d, 'JSON with a lone surrogate and invalid UTF-8', raw({ method: 'POST', target: d.path(1), lines: [HOST, 'Content-Type: application/json', `Content-Length: ${json.length}`], body: json }), [ok(d, 1, { method: 'POST', body: json })]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 17: Expect.

export function expectHeader(): Case[] {
  const cls = 'Expect';
  const out: Case[] = [];
  const noExpect = (p: Seen, m: Seen): string | undefined => ([p, m].some((s) => values(s.rawHeaders, 'expect').length) ? 'Expect was forwarded' : undefined);
  for (const v of ['100-continue', '100-Continue', '100-CONTINUE']) {
    const c = new CaseIds();
    out.push(mk(cls, c, `Expect: ${v} with the body at once`, raw({ method: 'POST', target: c.path(1), lines: [HOST, `Expect: ${v}`, 'Content-Length: 5'], body: 'hello' }), [ok(c, 1, { method: 'POST', body: 'hello', check: noExpect })]));
    const d = new CaseIds();
    const head = raw({ method: 'POST', target: d.path(1), lines: [HOST, `Expect: ${v}`, 'Content-Length: 5'] });
    out.push(mk(cls, d, `Expect: ${v}, body after a pause`, [head, { pauseMs: 200 }, Buffer.from('hello')], [ok(d, 1, { method: 'POST', body: 'hello', check: noExpect })]));
  }
  {
    const c = new CaseIds();
    out.push(mk(cls, c, 'Expect: 100-continue on a GET without a body', raw({ target: c.path(1), lines: [HOST, 'Expect: 100-continue'] }), [ok(c, 1, { check: noExpect })]));
  }
  for (const v of ['foo', '200-ok', '100-continue, foo', '100-continuex', '', 'continue', '100']) {
    const c = new CaseIds();
    out.push(mk(cls, c, `Expect: ${v}`, raw({ method: 'POST', target: c.path(1), lines: [HOST, `Expect: ${v}`, 'Content-Length: 5'], body: 'hello' }), [rej(c, 1, 417)]));
  }
  {
    const c = new CaseIds();
    out.push(mk(cls, c, 'two Expect: 100-continue headers', raw({ target: c.path(1), lines: [HOST, 'Expect: 100-continue', 'Expect: 100-continue'] }), [either(ok(c, 1, { check: noExpect }), rej(c, 1, [400, 417]))]));
    // HTTP/1.0 has no Expect: ignored, and never forwarded.
    const d = new CaseIds();
    out.push(mk(cls, d, 'HTTP/1.0 with Expect: foo', raw({ target: d.path(1), version: 'HTTP/1.0', lines: [HOST, 'Expect: foo'] }), [ok(d, 1, { check: noExpect })]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 18: pipelining.

/** Second requests that must be refused, each with its expected status. */
function badSeconds(c: CaseIds): [string, string, number][] {
  const p = c.path(2);
  return [
    ['duplicate Content-Length', `POST ${p} HTTP/1.1${CRLF}${HOST}${CRLF}Content-Length: 1${CRLF}Content-Length: 2${CRLF}${CRLF}ab`, 400],
    ['CL and TE', `POST ${p} HTTP/1.1${CRLF}${HOST}${CRLF}Content-Length: 5${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}`, 400],
    ['bad header name', `GET ${p} HTTP/1.1${CRLF}${HOST}${CRLF}X A: b${CRLF}${CRLF}`, 400],
    ['bare LF', `GET ${p} HTTP/1.1\n${HOST}\n\n`, 400],
    ['obs-fold', `GET ${p} HTTP/1.1${CRLF}${HOST}${CRLF}X-A: a${CRLF} b${CRLF}${CRLF}`, 400],
    ['bad method', `G@T ${p} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`, 400],
    ['bad version', `GET ${p} HTTP/9.9${CRLF}${HOST}${CRLF}${CRLF}`, 400],
    ['Transfer_Encoding', `POST ${p} HTTP/1.1${CRLF}${HOST}${CRLF}Transfer_Encoding: chunked${CRLF}Content-Length: 5${CRLF}${CRLF}hello`, 400],
    ['two Host', `GET ${p} HTTP/1.1${CRLF}${HOST}${CRLF}Host: b.example${CRLF}${CRLF}`, 400],
    ['no Host', `GET ${p} HTTP/1.1${CRLF}X-A: b${CRLF}${CRLF}`, 400],
    ['dot-segment', `GET ${p}/../x HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`, 400],
    ['CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1${CRLF}Host: 127.0.0.1:22${CRLF}X-Case: ${c.marker(2)}${CRLF}${CRLF}`, 405],
    ['Expect: foo', `GET ${p} HTTP/1.1${CRLF}${HOST}${CRLF}Expect: foo${CRLF}${CRLF}`, 417],
    ['101 header fields', `GET ${p} HTTP/1.1${CRLF}${HOST}${CRLF}${Array.from({ length: 100 }, (_, i) => `X-H${i}: v${CRLF}`).join('')}${CRLF}`, 431],
    ['request line over 8 KiB', `GET ${p}/${'a'.repeat(9000)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`, 414],
    ['bad chunk size', `POST ${p} HTTP/1.1${CRLF}${HOST}${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0x5${CRLF}hello${CRLF}0${CRLF}${CRLF}`, 400],
    ['Content-Length: 05', `POST ${p} HTTP/1.1${CRLF}${HOST}${CRLF}Content-Length: 05${CRLF}${CRLF}hello`, 400],
    ['HTTP/0.9 request line', `GET ${p}${CRLF}${CRLF}`, 400],
  ];
}

export function pipelining(): Case[] {
  const cls = 'pipelining';
  const out: Case[] = [];
  for (const hold of [0, 150]) {
    const probe = new CaseIds();
    for (const [what] of badSeconds(probe)) {
      const c = new CaseIds();
      const bad = badSeconds(c).find(([w]) => w === what)!;
      const first = `GET ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}${hold ? `X-Hold: ${hold}${CRLF}` : ''}${CRLF}`;
      out.push(mk(cls, c, `good then ${what}${hold ? ', slow primary' : ''}`, Buffer.from(first + bad[1], 'latin1'), [ok(c, 1, { check: holdOk(hold) }), rej(c, 2, bad[2])]));
    }
  }
  {
    // A first request with a body that looks like a request: it is body, never a second request.
    const c = new CaseIds();
    const inner = `GET /smuggled/${c.marker(9)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`;
    out.push(mk(cls, c, 'a body that looks like a request', raw({ method: 'POST', target: c.path(1), lines: [HOST, `Content-Length: ${inner.length}`], body: inner }), [ok(c, 1, { method: 'POST', body: inner })]));
    // Two, three and eight good requests in one write: answered in order.
    for (const n of [2, 3, 8]) {
      const d = new CaseIds();
      const text = Array.from({ length: n }, (_, i) => `GET ${d.path(i + 1)} HTTP/1.1${CRLF}${HOST}${CRLF}${i === 0 ? `X-Hold: 100${CRLF}` : ''}${CRLF}`).join('');
      out.push(mk(cls, d, `${n} good requests in one write, the first slow`, Buffer.from(text, 'latin1'), Array.from({ length: n }, (_, i) => ok(d, i + 1, { check: holdOk(i === 0 ? 100 : 0) }))));
    }
    // A pipelined request with Expect: 100-continue whose answer is queued behind a slow one: the interim 100 must
    // never land inside another answer (node reorders a buffered 100 behind the final header block).
    for (const hold of [0, 150, 300]) {
      const x = new CaseIds();
      const text = `GET ${x.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}${hold ? `X-Hold: ${hold}${CRLF}` : ''}${CRLF}PATCH ${x.path(2)} HTTP/1.1${CRLF}${HOST}${CRLF}Expect: 100-continue${CRLF}Content-Length: 4${CRLF}${CRLF}data`;
      out.push(mk(cls, x, `a slow answer, then Expect: 100-continue pipelined behind it (hold ${hold} ms)`, Buffer.from(text, 'latin1'), [ok(x, 1, { check: holdOk(hold) }), ok(x, 2, { method: 'PATCH', body: 'data' })]));
    }
    // good, good, bad.
    const e = new CaseIds();
    const text = `GET ${e.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}X-Hold: 100${CRLF}${CRLF}POST ${e.path(2)} HTTP/1.1${CRLF}${HOST}${CRLF}Content-Length: 3${CRLF}${CRLF}abcGET ${e.path(3)} HTTP/1.1${CRLF}Host: a${CRLF}Host: b${CRLF}${CRLF}`;
    out.push(mk(cls, e, 'good, good with a body, then two Host', Buffer.from(text, 'latin1'), [ok(e, 1, { check: holdOk(100) }), ok(e, 2, { method: 'POST', body: 'abc' }), rej(e, 3)]));
    // bad first: nothing after it is even parsed.
    const f = new CaseIds();
    const t2 = `GET ${f.path(1)} HTTP/1.1${CRLF}Host: a${CRLF}Host: b${CRLF}${CRLF}GET ${f.path(2)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`;
    out.push(mk(cls, f, 'bad then good', Buffer.from(t2, 'latin1'), [rej(f, 1), rej(f, 2)]));
    const g = new CaseIds();
    const t3 = `GET ${g.path(1)} HTTP/1.1${CRLF}X A: b${CRLF}${CRLF}GET ${g.path(2)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`;
    out.push(mk(cls, g, 'unparsable then good', Buffer.from(t3, 'latin1'), [rej(g, 1), rej(g, 2)]));
  }
  return out;
}

const holdOk = (hold: number) => (p: Seen): string | undefined => (hold && values(p.rawHeaders, 'x-hold').join() !== String(hold) ? 'X-Hold lost' : undefined);

// ---------------------------------------------------------------------------------------------------------------
// Row 19: upgrades. tapwire has no upgrade handler: every upgrade is a plain request with Upgrade stripped.

export function upgrades(): Case[] {
  const cls = 'Upgrade / h2c';
  const out: Case[] = [];
  const plain = (p: Seen, m: Seen): string | undefined => {
    for (const s of [p, m]) {
      for (const n of ['upgrade', 'http2-settings', 'sec-websocket-extensions']) if (values(s.rawHeaders, n).length) return `${n} forwarded`;
      if (values(s.rawHeaders, 'connection').some((v) => /upgrade/i.test(v))) return 'Connection: upgrade forwarded';
    }
    return undefined;
  };
  const ws = ['Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
  const variants: [string, string[]][] = [
    ['websocket', ['Connection: Upgrade', ...ws]],
    ['websocket, Connection: keep-alive, Upgrade', ['Connection: keep-alive, Upgrade', ...ws]],
    ['websocket without Connection: upgrade', ws],
    ['websocket with extensions named in Connection', ['Connection: Upgrade, Sec-WebSocket-Extensions', 'Sec-WebSocket-Extensions: permessage-deflate', ...ws]],
    ['h2c', ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']],
    ['h2c without HTTP2-Settings in Connection', ['Connection: Upgrade', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']],
    ['TLS/1.0', ['Connection: Upgrade', 'Upgrade: TLS/1.0']],
    ['two protocols', ['Connection: Upgrade', 'Upgrade: h2c, websocket']],
    ['UPGRADE in capitals', ['CONNECTION: UPGRADE', 'UPGRADE: WEBSOCKET']],
  ];
  for (const [what, lines] of variants) {
    for (const withBody of [false, true]) {
      const c = new CaseIds();
      const text =
        raw({ method: withBody ? 'POST' : 'GET', target: c.path(1), lines: [HOST, ...lines, ...(withBody ? ['Content-Length: 5'] : [])], ...(withBody ? { body: 'hello' } : {}) }).toString('latin1') +
        `GET ${c.path(2)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`;
      // node's parser reads nothing after a request that asks to upgrade, so the connection ends with the answer:
      // the second request is never processed, and says so by closing (the client retries on a new connection).
      out.push(
        mk(cls, c, `Upgrade: ${what}${withBody ? ' with a body' : ''}`, Buffer.from(text, 'latin1'), [ok(c, 1, { method: withBody ? 'POST' : 'GET', ...(withBody ? { body: 'hello' } : {}), check: plain })], {
          closes: true,
          forbidden: [c.marker(2)],
        }),
      );
    }
  }
  for (const [what, text] of [
    ['HTTP/2 prior-knowledge preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['HTTP/2 preface then a request', `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /t/MARK HTTP/1.1\r\n${HOST}\r\n\r\n`],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, Buffer.from(text.replace('MARK', c.marker(1)), 'latin1'), [rej(c, 1)]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 25: path confusion. Policy: tapwire routes on and forwards the exact target it received, never a
// rewritten one; targets whose meaning a normalising upstream would change are refused with 400.

export function paths(): Case[] {
  const cls = 'path confusion';
  const out: Case[] = [];
  const refused = [
    '/a/../admin',
    '/../admin',
    '/..',
    '/a/..',
    '/./admin',
    '/a/./b',
    '/.',
    '/a/%2e%2e/admin',
    '/a/%2E%2E/admin',
    '/a/.%2e/admin',
    '/a/%2e./admin',
    '/%2e/admin',
    '/a/..;/admin',
    '/a/..;x=y/admin',
    '/a/.;/admin',
    '//admin',
    '/a//admin',
    '/admin//',
    '/a%2Fadmin',
    '/a%2fadmin',
    '/a/..%2fadmin',
    '/a%5Cadmin',
    '/a%5cadmin',
    '/a\\admin',
    '/a/..\\admin',
    '/%61dmin',
    '/adm%69n',
    '/admin%7E',
    '/a%2Db',
    '/a%5Fb',
    '/a%30',
    '/admin%00.png',
  ];
  for (const p of refused) {
    for (const where of ['origin-form', 'absolute-form'] as const) {
      const c = new CaseIds();
      const path = `${p}?c=${c.marker(1)}`;
      const target = where === 'origin-form' ? path : `http://a.example${path}`;
      out.push(mk(cls, c, `${where} ${show(p)}`, raw({ target, lines: [HOST] }), [rej(c, 1)]));
    }
  }
  const accepted: [string, string][] = [
    ['/admin', 'admin'],
    ['/admin/', 'admin'],
    ['/admin/x', 'admin'],
    ['/admin;x', 'admin'],
    ['/administrator', 'admin'],
    ['/Admin', 'all'],
    ['/x/admin', 'all'],
    ['/.well-known/x', 'all'],
    ['/...', 'all'],
    ['/a.b/c..d/e.', 'all'],
    ['/a/..b', 'all'],
    ['/a/b..', 'all'],
    ['/a%20b', 'all'],
    ['/a%252e%252e/admin', 'all'],
    ['/a%3Fb', 'all'],
    ['/a%23b', 'all'],
    ['/a%25', 'all'],
    ['/a%2b', 'all'],
    ['/~user', 'all'],
    ['/', 'all'],
  ];
  for (const [p, route] of accepted) {
    const c = new CaseIds();
    const path = `${p}?c=${c.marker(1)}&next=/a/../b//c%2F`;
    out.push(mk(cls, c, `origin-form ${p} (routed to ${route})`, raw({ target: path, lines: [HOST] }), [ok(c, 1, { path, check: routedTo(route) })]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Request-line shapes: versions, methods, separators (rows 6 and 10).

export function requestLines(): Case[] {
  const cls = 'request line';
  const out: Case[] = [];
  for (const v of ['HTTP/0.9', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/2', 'HTTP/3.0', 'HTTP/1.', 'HTTP/1', 'HTTP/01.1', 'HTTP/1.10', 'http/1.1', 'HTTPS/1.1', 'HTTP/1.1 ', 'HTTP /1.1', 'HTTP/1.1\x00', 'HTTP/1.1\t', '']) {
    const c = new CaseIds();
    out.push(mk(cls, c, `version ${show(v) || '(none)'}`, Buffer.from(`GET ${c.path(1)} ${v}${CRLF}${HOST}${CRLF}${CRLF}`, 'latin1'), [rej(c, 1)]));
  }
  {
    const c = new CaseIds();
    out.push(mk(cls, c, 'HTTP/0.9 request line without a version', Buffer.from(`GET ${c.path(1)}${CRLF}${CRLF}`, 'latin1'), [rej(c, 1)]));
  }
  for (const m of ['get', 'Get', 'G ET', 'GET\t', 'G\x00ET', 'GETT', 'FOO', 'G@T', 'GE', '', ' GET', 'GET\x7f', 'GÉT', 'BREW', 'PRI']) {
    const c = new CaseIds();
    out.push(mk(cls, c, `method ${show(m) || '(empty)'}`, Buffer.from(`${m} ${c.path(1)} HTTP/1.1${CRLF}${HOST}${CRLF}${CRLF}`, 'latin1'), [rej(c, 1, [400, 405, 501])]));
  }
  // RFC 9112 §3 lets a recipient split the request line on whitespace: either reading is safe, since tapwire
  // forwards a request line of its own making.
  for (const [what, line] of [
    ['two spaces after the method', (c: CaseIds) => `GET  ${c.path(1)} HTTP/1.1`],
    ['two spaces before the version', (c: CaseIds) => `GET ${c.path(1)}  HTTP/1.1`],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, Buffer.from(`${line(c)}${CRLF}${HOST}${CRLF}${CRLF}`, 'latin1'), [either(ok(c, 1), rej(c, 1))]));
  }
  for (const [what, line] of [
    ['tab separators', (c: CaseIds) => `GET\t${c.path(1)}\tHTTP/1.1`],
    ['space in the target', (c: CaseIds) => `GET ${c.path(1)}/a b HTTP/1.1`],
    ['NUL in the target', (c: CaseIds) => `GET ${c.path(1)}/a\x00b HTTP/1.1`],
    ['DEL in the target', (c: CaseIds) => `GET ${c.path(1)}/a\x7fb HTTP/1.1`],
    ['vertical tab in the target', (c: CaseIds) => `GET ${c.path(1)}/a\x0bb HTTP/1.1`],
    ['trailing space', (c: CaseIds) => `GET ${c.path(1)} HTTP/1.1 `],
  ] as const) {
    const c = new CaseIds();
    out.push(mk(cls, c, what, Buffer.from(`${line(c)}${CRLF}${HOST}${CRLF}${CRLF}`, 'latin1'), [rej(c, 1)]));
  }
  for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']) {
    const c = new CaseIds();
    const body = m === 'GET' || m === 'OPTIONS' || m === 'TRACE' ? '' : 'hello';
    out.push(mk(cls, c, `${m} is forwarded to both sides`, raw({ method: m, target: c.path(1), lines: [HOST, ...(body ? ['Content-Length: 5'] : [])], body }), [ok(c, 1, { method: m, body })]));
  }
  {
    const c = new CaseIds();
    out.push(mk(cls, c, 'HEAD is forwarded to both sides', raw({ method: 'HEAD', target: c.path(1), lines: [HOST] }), [ok(c, 1, { method: 'HEAD', check: () => undefined })], { heads: [true] }));
  }
  return out;
}
