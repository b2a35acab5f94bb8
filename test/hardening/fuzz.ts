// An http-garden-style mutation fuzzer (reliability-anchors §5 B13): valid requests from a corpus, mutated at the
// byte level (delete, insert, replace bytes; duplicate, delete, swap lines; split and concatenate requests; insert
// Content-Length / Transfer-Encoding seeds; flip case; break line ends; inject CR, LF, NUL, 0x80+), sent over raw
// sockets to a tapwire in front of a recording primary and a recording mirror.
//
// Every exec connects from its own loopback address (127.a.b.c). tapwire appends the peer to X-Forwarded-For, so
// whatever the mutations did to the bytes, each request an upstream received is traced to the exec that caused it.
//
// Invariants, per exec: the answer parses; the connection ends in an answer or a close within a bound; a refusal is
// the last answer and the connection closes; only the expected statuses; every request an upstream received parsed
// strictly (it went through node's strict parser) and passes the forwarding rules; the primary received exactly as
// many whole requests as the client saw answers from it (so nothing refused ever reached it), and the mirror the
// same requests. Per checkpoint: tapwire answers a health request; stats.reconcile() is empty; the upstreams'
// strict parsers refused nothing (a primary request cut off mid-body is the documented streaming abort). At the end,
// at rest: reconcile with nothing in flight. Deterministic by seed: exec i's input depends on (seed, i) only.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as gen from './cases.ts';
import { MARKER, show } from './model.ts';
import type { Recorder, Seen } from './recorder.ts';
import { startRig, type Rig } from './rig.ts';
import { forwardedProblems, hostOf, normalised } from './run.ts';
import { exchange, type WireResponse, type WireResult } from './wire.ts';

// ---------------------------------------------------------------------------------------------------------------
// Randomness: mulberry32, seeded per exec from (seed, exec).

export class Rand {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** [0, 1) */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function mix(seed: number, exec: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ exec, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Corpus: hand-written valid requests, plus the suite's generated inputs (fixed markers, no HEAD, no X-Hold).

const H = 'Host: a.example';
const VALID: readonly string[] = [
  `GET /fz/a?x=1&y=%20 HTTP/1.1\r\n${H}\r\nUser-Agent: fz/1\r\nAccept: */*\r\n\r\n`,
  `POST /fz/json HTTP/1.1\r\n${H}\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"a":[1,2,3]}`,
  `POST /fz/chunked HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;e=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n`,
  `PUT /admin/x HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer t0k\r\nCookie: s=1; t=2\r\nContent-Length: 3\r\n\r\nabc`,
  `GET http://a.example/fz/abs HTTP/1.1\r\n${H}\r\nConnection: close\r\n\r\n`,
  `GET /fz/p1 HTTP/1.1\r\n${H}\r\n\r\nGET /fz/p2 HTTP/1.1\r\n${H}\r\n\r\n`,
  `POST /fz/p3 HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nokGET /fz/p4 HTTP/1.1\r\n${H}\r\n\r\n`,
  `GET /fz/ten HTTP/1.0\r\n\r\n`,
  `GET /fz/ten-ka HTTP/1.0\r\n${H}\r\nConnection: keep-alive\r\n\r\n`,
  `DELETE /fz/d HTTP/1.1\r\n${H}\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive, X-Forwarded-For\r\n\r\n`,
  `OPTIONS /fz/o HTTP/1.1\r\n${H}\r\nOrigin: https://x.example\r\n\r\n`,
  `PATCH /fz/pa HTTP/1.1\r\n${H}\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata`,
  `GET /fz/ws HTTP/1.1\r\n${H}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  `GET /fz/u%C3%A9?q=%ff HTTP/1.1\r\n${H}\r\nX-Obs: caf\xe9\r\n\r\n`,
  `POST /fz/big HTTP/1.1\r\n${H}\r\nContent-Length: 300\r\n\r\n${'b'.repeat(300)}`,
];

let generated: Buffer[] | undefined;

/** The suite's generated inputs, with markers zeroed (same length), small ones only. */
function generatedCorpus(): Buffer[] {
  if (generated) return generated;
  const all = [
    gen.clTe(),
    gen.teTe(),
    gen.contentLength(),
    gen.chunks(),
    gen.obsFold(),
    gen.lineEndings(),
    gen.headerNames(),
    gen.hosts(),
    gen.paths(),
    gen.requestLines(),
    gen.hopByHop(),
    gen.injection(),
    gen.obsText(),
    gen.expectHeader(),
    gen.pipelining(),
    gen.upgrades(),
  ].flat();
  generated = [];
  for (const c of all) {
    if (!Buffer.isBuffer(c.input) || c.input.length > 8192) continue;
    const text = c.input.toString('latin1').replace(new RegExp(MARKER.source, 'g'), (m) => m.replace(/\d/g, '0'));
    if (/X-Hold|^HEAD |\nHEAD /i.test(text)) continue;
    generated.push(Buffer.from(text, 'latin1'));
  }
  return generated;
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations.

const INTERESTING = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x0b, 0x0c, 0x7f, 0x80, 0xa0, 0xff, 0x2c, 0x3a, 0x3b, 0x22, 0x5f, 0x2d, 0x30, 0x39, 0x2f, 0x5c, 0x25, 0x2e];
const NUMBERS = ['0', '1', '-1', '+5', '05', '0x10', '2147483648', '4294967301', '18446744073709551616', '1000000000000000000000', 'FFFFFFFFFFFFFFFFF', '5 5', '5,5', '', ' 7', '65537'];
const SEEDS = [
  'Content-Length: 0',
  'Content-Length: 5',
  'Content-Length: 100',
  'Content-length: 3',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: identity',
  'Transfer-Encoding:\tchunked',
  'Transfer_Encoding: chunked',
  'Transfer-Encoding : chunked',
  ' Transfer-Encoding: chunked',
  'Content_Length: 4',
  'Host: b.example',
  'Host: a@b',
  'Expect: 100-continue',
  'Expect: x',
  'Connection: close',
  'Connection: Upgrade',
  'Upgrade: h2c',
  'X_Forwarded_For: 6.6.6.6',
  'X-Tapwire-Mirror: 1',
  'Connection: Host, Content-Length',
  '\tfolded',
  ':',
];

type Mutator = (b: string, r: Rand, other: () => string) => [string, string];

const head = (b: string): number => {
  const i = b.indexOf('\r\n\r\n');
  return i < 0 ? b.length : i;
};
const lineStarts = (b: string, limit: number): number[] => {
  const out = [0];
  for (let i = b.indexOf('\n'); i >= 0 && i < limit; i = b.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
};

const MUTATORS: readonly [string, Mutator][] = [
  ['delete bytes', (b, r) => {
    const at = r.int(b.length + 1);
    const n = 1 + r.int(8);
    return [b.slice(0, at) + b.slice(at + n), `delete ${n}@${at}`];
  }],
  ['insert bytes', (b, r) => {
    const at = r.int(b.length + 1);
    const ins = Array.from({ length: 1 + r.int(3) }, () => String.fromCharCode(r.pick(INTERESTING))).join('');
    return [b.slice(0, at) + ins + b.slice(at), `insert ${show(ins)}@${at}`];
  }],
  ['replace byte', (b, r) => {
    if (!b.length) return [b, 'noop'];
    const at = r.int(b.length);
    const ch = String.fromCharCode(r.chance(0.5) ? r.pick(INTERESTING) : r.int(256));
    return [b.slice(0, at) + ch + b.slice(at + 1), `replace@${at} ${show(ch)}`];
  }],
  ['duplicate line', (b, r) => {
    const starts = lineStarts(b, head(b));
    const s = r.pick(starts);
    const e = b.indexOf('\r\n', s);
    if (e < 0) return [b, 'noop'];
    const line = b.slice(s, e + 2);
    return [b.slice(0, s) + line + b.slice(s), `duplicate line ${show(line.trim())}`];
  }],
  ['delete line', (b, r) => {
    const starts = lineStarts(b, head(b)).slice(1);
    if (!starts.length) return [b, 'noop'];
    const s = r.pick(starts);
    const e = b.indexOf('\r\n', s);
    if (e < 0) return [b, 'noop'];
    return [b.slice(0, s) + b.slice(e + 2), `delete line ${show(b.slice(s, e))}`];
  }],
  ['swap lines', (b, r) => {
    const h = head(b);
    const lines = b.slice(0, h).split('\r\n');
    if (lines.length < 3) return [b, 'noop'];
    const i = 1 + r.int(lines.length - 1);
    const j = 1 + r.int(lines.length - 1);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return [lines.join('\r\n') + b.slice(h), `swap lines ${i},${j}`];
  }],
  ['insert seed header', (b, r) => {
    const starts = lineStarts(b, head(b)).slice(1);
    const s = starts.length ? r.pick(starts) : 0;
    const seed = r.chance(0.3) ? `${r.pick(gen.TE_NAMES)}:${r.pick(gen.TE_VALUES)}` : r.pick(SEEDS);
    return [b.slice(0, s) + seed + '\r\n' + b.slice(s), `insert header ${show(seed)}`];
  }],
  ['flip case', (b, r) => {
    const at = r.int(b.length + 1);
    const n = 1 + r.int(16);
    const part = b.slice(at, at + n);
    const flipped = [...part].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    return [b.slice(0, at) + flipped + b.slice(at + n), `flip case ${n}@${at}`];
  }],
  ['tweak number', (b, r) => {
    const runs = [...b.matchAll(/[0-9A-Fa-f]+/g)].filter((m) => /\d/.test(m[0]));
    if (!runs.length) return [b, 'noop'];
    const m = r.pick(runs);
    const n = r.pick(NUMBERS);
    return [b.slice(0, m.index) + n + b.slice(m.index + m[0].length), `number ${m[0]}→${show(n)}`];
  }],
  ['break line end', (b, r) => {
    const ends = [...b.matchAll(/\r\n/g)].map((m) => m.index);
    if (!ends.length) return [b, 'noop'];
    const at = r.pick(ends);
    const rep = r.pick(['\n', '\r', '\r\r\n', '\n\r', '\r\n ', '\r\n\t', '']);
    return [b.slice(0, at) + rep + b.slice(at + 2), `line end@${at}→${show(rep)}`];
  }],
  ['split and concat', (b, r, other) => {
    const at = r.int(b.length + 1);
    return [b.slice(0, at) + other(), `cut@${at} + another request`];
  }],
  ['append another', (b, _r, other) => [b + other(), 'pipeline another request']],
  ['duplicate whole', (b) => [b + b, 'duplicate whole']],
  ['truncate', (b, r) => {
    const at = r.int(b.length + 1);
    return [b.slice(0, at), `truncate@${at}`];
  }],
];

export interface ExecInput {
  readonly exec: number;
  readonly input: Buffer;
  readonly mutations: string[];
  /** written in two parts with a pause between them (parser resumption) */
  readonly splitAt?: number;
}

/** The input of exec `exec` under `seed`: depends on nothing else. */
export function makeInput(seed: number, exec: number): ExecInput {
  const r = new Rand(mix(seed, exec));
  const gcorpus = generatedCorpus();
  const base = (): string => (r.chance(0.5) ? r.pick(VALID) : r.pick(gcorpus).toString('latin1'));
  for (let attempt = 0; ; attempt++) {
    let b = base();
    const mutations: string[] = [];
    const n = 1 + r.int(4);
    for (let i = 0; i < n; i++) {
      const [name, m] = r.pick(MUTATORS);
      const [out, what] = m(b, r, base);
      b = out.length > 128 * 1024 ? out.slice(0, 128 * 1024) : out;
      mutations.push(`${name}: ${what}`);
    }
    // HEAD answers carry no body: a response parser must know which requests were HEAD, so they stay out.
    if (/(^|\n)HEAD /i.test(b) && attempt < 5) continue;
    const input = Buffer.from(b, 'latin1');
    const split = r.chance(0.2) && input.length > 1 ? { splitAt: 1 + r.int(input.length - 1) } : {};
    return { exec, input, mutations, ...split };
  }
}

/** Exec i's own loopback address; 127.0.0.1 is left to health checks. */
export function addressFor(exec: number): string {
  const n = exec % (254 * 256 * 254);
  return `127.${1 + Math.floor(n / (256 * 254))}.${Math.floor(n / 254) % 256}.${1 + (n % 254)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Running and checking.

/** The statuses a client may see: the primary's 200 and tapwire's refusals. (No 5xx: the primary is healthy.) */
const ALLOWED = new Set([200, 400, 405, 408, 413, 414, 417, 431]);

export interface Violation {
  readonly rule: string;
  readonly detail: string;
  readonly exec?: number;
  readonly input?: Buffer;
  readonly mutations?: string[];
}

const lastHop = (s: Seen): string => {
  for (let i = s.rawHeaders.length - 2; i >= 0; i -= 2) {
    if (s.rawHeaders[i]!.toLowerCase() === 'x-forwarded-for') return s.rawHeaders[i + 1]!.split(',').at(-1)!.trim();
  }
  return '';
};

/** Requests an upstream received, by the exec address in their X-Forwarded-For; indexed as they arrive. */
const indexes = new WeakMap<Recorder, { done: number; by: Map<string, Seen[]> }>();
function byAddress(rec: Recorder, addr: string): Seen[] {
  let ix = indexes.get(rec);
  if (!ix) indexes.set(rec, (ix = { done: 0, by: new Map() }));
  for (; ix.done < rec.requests.length; ix.done++) {
    const s = rec.requests[ix.done]!;
    const hop = lastHop(s);
    const list = ix.by.get(hop);
    if (list) list.push(s);
    else ix.by.set(hop, [s]);
  }
  return ix.by.get(addr) ?? [];
}

/** Checks one exec's answer and what the upstreams received from its address. Returns the broken rules. */
export function checkExec(rig: Rig, addr: string, r: WireResult): [string, string][] {
  const out: [string, string][] = [];
  if (r.garbage) out.push(['garbage', `tapwire wrote bytes that are not a response: ${show(r.garbage.slice(0, 100))}`]);
  if (r.timedOut && r.responses.length === 0 && !r.closed) out.push(['hung', 'no answer and no close within the bound']);
  let fromPrimary = 0;
  r.responses.forEach((x, i) => {
    if (!ALLOWED.has(x.status)) out.push(['status', `unexpected status ${x.status}: ${show(x.body.toString('latin1').slice(0, 100))}`]);
    const primary = (x.headers.get('x-upstream') ?? []).includes('primary');
    if (primary) fromPrimary++;
    else if (x.status < 400) out.push(['status', `a ${x.status} that is not the primary's`]);
    if (x.status >= 400 && i < r.responses.length - 1) out.push(['after refusal', `${r.responses.length - 1 - i} answer(s) after a ${x.status}`]);
  });
  const last = r.responses.at(-1);
  if (last && last.status >= 400 && !r.closed) out.push(['no close', `the connection stayed open after ${last.status}`]);
  const p = byAddress(rig.primary, addr);
  const m = byAddress(rig.mirror, addr);
  const whole = p.filter((s) => s.complete);
  if (whole.length !== fromPrimary) out.push(['forwarded ≠ answered', `the primary got ${whole.length} whole request(s), the client ${fromPrimary} answer(s) from it`]);
  if (m.length !== fromPrimary) out.push(['mirrored ≠ answered', `the mirror got ${m.length} request(s), the client ${fromPrimary} answer(s) from the primary`]);
  if (m.some((s) => !s.complete)) out.push(['mirror incomplete', 'the mirror got an incomplete request']);
  // The same requests at both, as multisets (pipelined requests reach the upstreams in any order). A request that
  // came without Host gets each upstream's own: both count as "own".
  const key = (s: Seen, rec: Recorder): string => `${normalised(s)}\nhost: ${hostOf(s) === new URL(rec.url).host ? '(own)' : hostOf(s)}`;
  const a = whole.map((s) => key(s, rig.primary)).sort();
  const b = m.map((s) => key(s, rig.mirror)).sort();
  if (a.length === b.length && a.some((x, i) => x !== b[i])) out.push(['primary ≠ mirror', `different requests:\n${show(a.join('\n--\n'))}\nvs\n${show(b.join('\n--\n'))}`]);
  for (const s of p) for (const problem of forwardedProblems(s, 'primary', addr)) out.push(['forwarding rule', `primary: ${problem}`]);
  for (const s of m) for (const problem of forwardedProblems(s, 'mirror', addr)) out.push(['forwarding rule', `mirror: ${problem}`]);
  return out;
}

/** Rules that can be a copy or a primary answer still on its way: re-checked a few times before they count. */
const SLOW_RULES = new Set(['forwarded ≠ answered', 'mirrored ≠ answered']);

export interface FuzzOptions {
  readonly seed: number;
  readonly durationMs: number;
  /** stop after this many execs even if time is left */
  readonly maxExecs?: number;
  /** execs in flight at once (default 64) */
  readonly concurrency?: number;
  /** a health check and a reconcile every this many execs (default 250) */
  readonly checkpointEvery?: number;
  /** write each violating input here as <hash>.bin + <hash>.json (default: nowhere) */
  readonly fixturesDir?: string;
  readonly log?: (line: string) => void;
}

export interface FuzzReport {
  readonly seed: number;
  execs: number;
  ms: number;
  readonly statuses: Record<string, number>;
  /** requests the primary received whole */
  forwarded: number;
  readonly violations: Violation[];
  readonly written: string[];
}

function tally(statuses: Record<string, number>, r: WireResult): void {
  for (const x of r.responses) statuses[x.status] = (statuses[x.status] ?? 0) + 1;
  if (r.responses.length === 0) statuses[r.closed ? 'closed' : 'none'] = (statuses[r.closed ? 'closed' : 'none'] ?? 0) + 1;
}

/** The fuzz rig: the suite's rig with shorter timeouts, so a stalled exec ends in about a second. */
export function startFuzzRig(): Promise<Rig> {
  return startRig({ headersTimeout: '500ms', requestTimeout: '1s', keepWire: false });
}

export async function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const log = o.log ?? (() => undefined);
  const rig = await startFuzzRig();
  const report: FuzzReport = { seed: o.seed, execs: 0, ms: 0, statuses: {}, forwarded: 0, violations: [], written: [] };
  const started = performance.now();
  const deadline = started + o.durationMs;
  const every = o.checkpointEvery ?? 250;
  const inFlight = new Map<number, ExecInput>();
  let next = 0;
  let refusalsSeen = { p: 0, m: 0 };
  let stop = false;

  const violate = (v: Violation): void => {
    report.violations.push(v);
    log(`VIOLATION ${v.rule}${v.exec !== undefined ? ` (exec ${v.exec})` : ''}: ${v.detail.split('\n')[0]}`);
  };
  // tapwire runs in this process: an exception it does not catch is a crash; the inputs in flight are the suspects.
  const onCrash = (err: unknown): void => {
    const suspects = [...inFlight.values()];
    violate({ rule: 'crash', detail: `uncaught: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, ...(suspects[0] ? { exec: suspects[0].exec, input: suspects[0].input, mutations: suspects[0].mutations } : {}) });
    for (const s of suspects.slice(1)) violate({ rule: 'crash suspect', detail: 'in flight when tapwire crashed', exec: s.exec, input: s.input, mutations: s.mutations });
    stop = true;
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  const checkpoint = async (): Promise<void> => {
    const health = await exchange(rig.tw.port, Buffer.from(`GET /health HTTP/1.1\r\n${H}\r\n\r\n`), { timeoutMs: 2000 });
    if (health.responses[0]?.status !== 200) violate({ rule: 'health', detail: `tapwire did not answer a health request (${health.responses[0]?.status ?? 'no answer'})` });
    for (const p of rig.tw.app.stats.reconcile()) violate({ rule: 'reconcile', detail: p });
    for (const [rec, key] of [
      [rig.primary, 'p'],
      [rig.mirror, 'm'],
    ] as const) {
      for (const f of rec.refusals.slice(refusalsSeen[key])) {
        // A request cut off mid-body (client gone, 408, 413) reaches the primary's parser as an unexpected end.
        if (key === 'p' && f.code === 'HPE_INVALID_EOF_STATE') continue;
        const hop = /X-Forwarded-For: [^\r\n]*?(127\.\d+\.\d+\.\d+)\r\n/i.exec(f.packet ?? '')?.[1];
        violate({ rule: 'upstream parse', detail: `the ${rec.name}'s strict parser refused what tapwire sent: ${f.code}${hop ? ` (from ${hop})` : ''} ${show((f.packet ?? '').slice(0, 200))}` });
      }
    }
    refusalsSeen = { p: rig.primary.refusals.length, m: rig.mirror.refusals.length };
  };

  let sinceCheckpoint = 0;
  let checking: Promise<void> | undefined;
  const worker = async (): Promise<void> => {
    while (!stop && performance.now() < deadline && (o.maxExecs === undefined || next < o.maxExecs)) {
      const i = next++;
      const x = makeInput(o.seed, i);
      inFlight.set(i, x);
      const addr = addressFor(i);
      const r = await runExec(rig, x, addr);
      tally(report.statuses, r.result);
      for (const [rule, detail] of r.problems) violate({ rule, detail, exec: i, input: x.input, mutations: x.mutations });
      inFlight.delete(i);
      report.execs++;
      if (++sinceCheckpoint >= every && !checking) {
        sinceCheckpoint = 0;
        checking = checkpoint().finally(() => (checking = undefined));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 64 }, worker));
  await checking;
  await rig.settle();
  await checkpoint();
  for (const p of rig.tw.app.stats.reconcile({ expectIdle: true })) violate({ rule: 'reconcile at rest', detail: p });
  report.forwarded = rig.primary.completeCount();
  report.ms = performance.now() - started;
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  await rig.close();
  if (o.fixturesDir) report.written.push(...writeFixtures(o.fixturesDir, o.seed, report.violations));
  return report;
}

/** Sends one exec's input from its own address and checks it. */
async function runExec(rig: Rig, x: ExecInput, addr: string): Promise<{ result: WireResult; problems: [string, string][] }> {
  const input = x.splitAt ? [x.input.subarray(0, x.splitAt), { pauseMs: 5 }, x.input.subarray(x.splitAt)] : x.input;
  // A pipelined answer can take longer than the quiet time on a loaded machine: while the primary holds more whole
  // requests from this exec than the client has answers from it, the client keeps listening (up to BOUND_MS). A
  // request that tapwire forwarded but never answered still ends in the overall bound and breaks the rule.
  const stillExpecting = (responses: readonly WireResponse[]): boolean =>
    byAddress(rig.primary, addr).filter((s) => s.complete).length > responses.filter((x) => (x.headers.get('x-upstream') ?? []).includes('primary')).length;
  const result = await exchange(rig.tw.port, input, { localAddress: addr, timeoutMs: BOUND_MS, quietMs: 300, closeWaitMs: 1000, stillExpecting });
  let problems = checkExec(rig, addr, result);
  for (let i = 0; i < 10 && problems.length && problems.every(([rule]) => SLOW_RULES.has(rule)); i++) {
    await sleep(200);
    problems = checkExec(rig, addr, result);
  }
  return { result, problems };
}

/** The bound on one exec: requestTimeout (1 s) + node's timeout check interval (1 s) + slack. */
export const BOUND_MS = 3500;

// ---------------------------------------------------------------------------------------------------------------
// Regression fixtures: test/fixtures/fuzz/<hash>.bin (the bytes) + <hash>.json (what it broke, how it was made).

/** Per broken rule, the smallest inputs are kept (a run that breaks a rule usually breaks it hundreds of times). */
export const FIXTURES_PER_RULE = 3;

export function writeFixtures(dir: string, seed: number, violations: readonly Violation[]): string[] {
  const written: string[] = [];
  const keep = new Set<Violation>();
  const rules = new Map<string, Violation[]>();
  for (const v of violations) if (v.input) rules.set(v.rule, [...(rules.get(v.rule) ?? []), v]);
  for (const list of rules.values()) for (const v of list.sort((a, b) => a.input!.length - b.input!.length).slice(0, FIXTURES_PER_RULE)) keep.add(v);
  const byHash = new Map<string, { input: Buffer; notes: Violation[] }>();
  for (const v of violations) {
    if (!v.input || !keep.has(v)) continue;
    const hash = createHash('sha256').update(v.input).digest('hex').slice(0, 16);
    const entry = byHash.get(hash) ?? { input: v.input, notes: [] };
    entry.notes.push(v);
    byHash.set(hash, entry);
  }
  if (byHash.size) mkdirSync(dir, { recursive: true });
  for (const [hash, { input, notes }] of byHash) {
    const bin = join(dir, `${hash}.bin`);
    writeFileSync(bin, input);
    const note = {
      found: new Date().toISOString().slice(0, 10),
      seed,
      exec: notes[0]!.exec,
      mutations: notes[0]!.mutations,
      violated: [...new Map(notes.map((v) => [`${v.rule}\n${v.detail}`, { rule: v.rule, detail: v.detail }])).values()],
      input: show(input.toString('latin1')),
    };
    writeFileSync(join(dir, `${hash}.json`), `${JSON.stringify(note, null, 2)}\n`);
    written.push(bin);
  }
  return written;
}

export function fixtureFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => join(dir, f));
}

/** Replays inputs (regression fixtures) one by one against a fresh rig; returns what they break now. */
export async function replay(files: readonly string[]): Promise<Violation[]> {
  const rig = await startFuzzRig();
  const out: Violation[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const input = readFileSync(file);
      const { problems } = await runExec(rig, { exec: i, input, mutations: [] }, addressFor(i));
      for (const [rule, detail] of problems) out.push({ rule, detail: `${file}: ${detail}`, exec: i, input });
    }
    await rig.settle();
    for (const p of rig.tw.app.stats.reconcile({ expectIdle: true })) out.push({ rule: 'reconcile at rest', detail: p });
    for (const f of rig.mirror.refusals) out.push({ rule: 'upstream parse', detail: `mirror: ${f.code}` });
    for (const f of rig.primary.refusals) if (f.code !== 'HPE_INVALID_EOF_STATE') out.push({ rule: 'upstream parse', detail: `primary: ${f.code}` });
  } finally {
    await rig.close();
  }
  return out;
}

/** A one-screen summary. */
export function summary(r: FuzzReport): string {
  const statuses = Object.entries(r.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}:${n}`)
    .join(' ');
  const rules = new Map<string, number>();
  for (const v of r.violations) rules.set(v.rule, (rules.get(v.rule) ?? 0) + 1);
  return [
    `seed ${r.seed}: ${r.execs} execs in ${(r.ms / 1000).toFixed(1)} s (${(r.execs / (r.ms / 1000)).toFixed(0)}/s), ${r.forwarded} whole requests reached the primary`,
    `statuses: ${statuses}`,
    `violations: ${r.violations.length}${rules.size ? ` (${[...rules].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`,
    ...r.written.map((f) => `wrote ${f}`),
  ].join('\n');
}
