// Capture frames: a Trial (src/core/exchange.ts) encoded compactly into a batch buffer on the main thread, and decoded
// back in the capture worker (./worker.ts). Encoding is the main thread's whole share of capture, so it is kept to a
// few native copies: the numbers as float64, every string of the trial joined and written as UTF-8 in one go (with
// each string's UTF-16 length to split them again), and the bodies' raw bytes. A batch is one ArrayBuffer holding
// frames back to back; it is transferred to the worker (zero copy) and comes back to be reused.
//
//   frame: u32 frameBytes | u32 nums | u32 strs | u32 bodies | f64 × nums | u32 × strs (UTF-16 lengths)
//          | u32 utf8Bytes | utf8 | per body: u32 (length + 1, 0 = no body) | bytes
import type { Exchange, RawHeaders, RequestSnapshot, Trial } from '../core/exchange.ts';

const ROLES = ['primary', 'mirror', 'secondary'] as const;
const HEAD = 16;

/** A trial as the worker gets it: the trial and its route's capture.maxBodyBytes. */
export interface DecodedTrial {
  readonly trial: Trial;
  readonly maxBodyBytes: number;
}

/** Frames appended to one buffer; take() hands the buffer over and starts a new one. */
export class FrameBatch {
  readonly #alloc: (min: number) => ArrayBuffer;
  #buf: Buffer | undefined;
  #off = 0;
  #count = 0;
  // Reused between frames: no allocation per trial beyond the joined string.
  readonly #nums: number[] = [];
  readonly #strs: string[] = [];
  readonly #bodies: (Buffer | undefined)[] = [];

  /** alloc: a buffer of at least min bytes (a pooled one when it is large enough) */
  constructor(alloc: (min: number) => ArrayBuffer) {
    this.#alloc = alloc;
  }

  /** bytes in the batch */
  get bytes(): number {
    return this.#off;
  }

  /** frames in the batch */
  get count(): number {
    return this.#count;
  }

  /**
   * Appends a trial; returns the frame's size in bytes. When the frame does not fit in the current buffer, onFull is
   * called first with the batch so far (take() it there), and a new buffer large enough is started.
   */
  append(t: Trial, maxBodyBytes: number, onFull: () => void): number {
    const nums = this.#nums;
    const strs = this.#strs;
    const bodies = this.#bodies;
    nums.length = 0;
    strs.length = 0;
    bodies.length = 0;
    const req = t.request;
    nums.push(t.at, maxBodyBytes, req.bodyBytes, req.headers.length, 1 + t.mirrors.length);
    strs.push(t.id, t.route, req.method, req.path);
    for (let i = 0; i < req.headers.length; i++) strs.push(req.headers[i]!);
    bodies.push(req.body);
    exchange(t.primary, nums, strs, bodies);
    for (const m of t.mirrors) exchange(m, nums, strs, bodies);
    const text = strs.join('');
    let bodyBytes = 0;
    for (const b of bodies) bodyBytes += 4 + (b ? b.length : 0);
    // The UTF-8 length is not known before writing: room for the worst case (3 bytes per UTF-16 unit).
    const worst = HEAD + 8 * nums.length + 4 * strs.length + 4 + 3 * text.length + bodyBytes;
    if (!this.#buf || this.#off + worst > this.#buf.length) {
      if (this.#off > 0) onFull();
      if (!this.#buf || this.#off + worst > this.#buf.length) {
        this.#buf = Buffer.from(this.#alloc(worst));
        this.#off = 0;
        this.#count = 0;
      }
    }
    const buf = this.#buf;
    const start = this.#off;
    let o = start + 4;
    o = buf.writeUInt32LE(nums.length, o);
    o = buf.writeUInt32LE(strs.length, o);
    o = buf.writeUInt32LE(bodies.length, o);
    for (let i = 0; i < nums.length; i++) o = buf.writeDoubleLE(nums[i]!, o);
    for (let i = 0; i < strs.length; i++) o = buf.writeUInt32LE(strs[i]!.length, o);
    const n = buf.write(text, o + 4, 'utf8');
    o = buf.writeUInt32LE(n, o) + n;
    for (const b of bodies) {
      if (b === undefined) {
        o = buf.writeUInt32LE(0, o);
      } else {
        o = buf.writeUInt32LE(b.length + 1, o);
        buf.set(b, o);
        o += b.length;
      }
    }
    buf.writeUInt32LE(o - start, start);
    this.#off = o;
    this.#count++;
    return o - start;
  }

  /** The batch so far (its buffer and length), or undefined when empty; the next append starts a new buffer. */
  take(): { buffer: ArrayBuffer; bytes: number; count: number } | undefined {
    if (!this.#buf || this.#count === 0) return undefined;
    const out = { buffer: this.#buf.buffer as ArrayBuffer, bytes: this.#off, count: this.#count };
    this.#buf = undefined;
    this.#off = 0;
    this.#count = 0;
    return out;
  }
}

function exchange(e: Exchange, nums: number[], strs: string[], bodies: (Buffer | undefined)[]): void {
  const h = e.headers;
  nums.push(
    e.role === 'primary' ? 0 : e.role === 'mirror' ? 1 : 2,
    e.status ?? -1,
    h === undefined ? -1 : h.length,
    e.bodyBytes,
    e.truncated ? 1 : 0,
    e.timings.startMs,
    e.timings.headersMs ?? NaN,
    e.timings.totalMs,
    e.error === undefined ? 0 : 1,
    e.outcome === undefined ? 0 : 1,
  );
  strs.push(e.upstream);
  if (h !== undefined) for (let i = 0; i < h.length; i++) strs.push(h[i]!);
  if (e.error !== undefined) strs.push(e.error);
  if (e.outcome !== undefined) strs.push(e.outcome);
  bodies.push(e.body);
}

/** Every frame of a batch (bytes: the batch's length in the buffer). Bodies are views of the buffer: use them before it is reused. */
export function* decodeBatch(buffer: ArrayBuffer, bytes: number): Generator<DecodedTrial> {
  const buf = Buffer.from(buffer, 0, bytes);
  let off = 0;
  while (off + HEAD <= bytes) {
    const size = buf.readUInt32LE(off);
    yield decodeFrame(buf, off);
    off += size;
  }
}

function decodeFrame(buf: Buffer, start: number): DecodedTrial {
  let o = start + 4;
  const nNums = buf.readUInt32LE(o);
  const nStrs = buf.readUInt32LE(o + 4);
  const nBodies = buf.readUInt32LE(o + 8);
  o += 12;
  const nums: number[] = new Array<number>(nNums);
  for (let i = 0; i < nNums; i++, o += 8) nums[i] = buf.readDoubleLE(o);
  const lens: number[] = new Array<number>(nStrs);
  for (let i = 0; i < nStrs; i++, o += 4) lens[i] = buf.readUInt32LE(o);
  const n = buf.readUInt32LE(o);
  const text = buf.toString('utf8', o + 4, o + 4 + n);
  o += 4 + n;
  const bodies: (Buffer | undefined)[] = new Array<Buffer | undefined>(nBodies);
  for (let i = 0; i < nBodies; i++) {
    const len = buf.readUInt32LE(o);
    o += 4;
    if (len === 0) bodies[i] = undefined;
    else {
      bodies[i] = buf.subarray(o, o + len - 1);
      o += len - 1;
    }
  }
  let ni = 0;
  let si = 0;
  let tpos = 0;
  let bi = 0;
  const num = (): number => nums[ni++]!;
  const str = (): string => {
    const s = text.slice(tpos, tpos + lens[si]!);
    tpos += lens[si++]!;
    return s;
  };
  const strList = (count: number): string[] => {
    const out = new Array<string>(count);
    for (let i = 0; i < count; i++) out[i] = str();
    return out;
  };
  const at = num();
  const maxBodyBytes = num();
  const reqBodyBytes = num();
  const reqHeaders = num();
  const nEx = num();
  const id = str();
  const route = str();
  const method = str();
  const path = str();
  const headers: RawHeaders = strList(reqHeaders);
  const reqBody = bodies[bi++];
  const request: RequestSnapshot = { method, path, headers, bodyBytes: reqBodyBytes, ...(reqBody ? { body: reqBody } : {}) };
  const exchanges: Exchange[] = [];
  for (let x = 0; x < nEx; x++) {
    const role = ROLES[num()] ?? 'mirror';
    const status = num();
    const nh = num();
    const bodyBytes = num();
    const truncated = num() === 1;
    const startMs = num();
    const headersMs = num();
    const totalMs = num();
    const hasError = num() === 1;
    const hasOutcome = num() === 1;
    const upstream = str();
    const h = nh < 0 ? undefined : strList(nh);
    const error = hasError ? str() : undefined;
    const outcome = hasOutcome ? str() : undefined;
    const body = bodies[bi++];
    exchanges.push({
      role,
      upstream,
      ...(status >= 0 ? { status } : {}),
      ...(h ? { headers: h } : {}),
      ...(body ? { body } : {}),
      bodyBytes,
      truncated,
      timings: { startMs, ...(Number.isNaN(headersMs) ? {} : { headersMs }), totalMs },
      ...(error !== undefined ? { error } : {}),
      ...(outcome !== undefined ? { outcome } : {}),
    } as Exchange);
  }
  return { trial: { id, route, at, request, primary: exchanges[0]!, mirrors: exchanges.slice(1) }, maxBodyBytes };
}
