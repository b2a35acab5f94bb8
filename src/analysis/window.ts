// Time-bucketed building blocks for the detectors and the performance view. Every structure is fixed-size
// and driven only by the timestamps it is given (events' `at`, the caller's `now`): no timers, no clock.
//
// - BucketRing: counts per time bucket (1 s by default) in a ring of the last `length` buckets. A bucket
//   older than the ring is gone; adding to it is refused (a late event) and reading it gives 0.
// - Ewma: an exponentially weighted mean of a per-second series with a half-life, bias-corrected (the mean
//   of the samples seen so far while there are few), and with closed-form runs of zeros.
// - DistinctBitmap / DistinctRing: linear counting (Whang et al.): a bitmap of hashed keys, `-m ln(zeros/m)`
//   distinct keys; a ring of per-bucket bitmaps answers "how many distinct keys in these buckets" by OR.
// - Segments: tumbling counters in two segments (current and previous): cheap sliding-ish windows covering
//   between one and two segments of history, for per-source state that must stay tiny.
// - hash32: FNV-1a with a final mix, for the bitmaps.

// Small typed arrays are zeroed by loops (faster than fill() at these sizes), one function per array type so
// each stays monomorphic: per-source state is reset a million times under a million-source flood.
function zero64(a: Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] = 0;
}
function zero32(a: Uint32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) a[i] = 0;
}

/** The ring slot of bucket `b` (≥ 0 for any b; bucket numbers are epoch seconds, beyond small integers, so no `%`). */
export function slotOf(b: number, length: number): number {
  return b - Math.floor(b / length) * length;
}

/** Counts per bucket over the last `length` buckets. */
export class BucketRing {
  readonly length: number;
  readonly widthMs: number;
  readonly #slots: Float64Array;
  /** the highest bucket written so far (-Infinity before the first) */
  #head = Number.NEGATIVE_INFINITY;

  constructor(length: number, widthMs = 1000) {
    if (!Number.isInteger(length) || length < 1) throw new RangeError('BucketRing length must be a positive integer');
    this.length = length;
    this.widthMs = widthMs;
    this.#slots = new Float64Array(length);
  }

  get head(): number {
    return this.#head;
  }

  /** Adds `n` to the bucket of `at`; false (nothing counted) when that bucket is already out of the ring. */
  add(at: number, n = 1): boolean {
    return this.addToBucket(Math.floor(at / this.widthMs), n);
  }

  addToBucket(b: number, n = 1): boolean {
    if (b > this.#head) this.#advance(b);
    else if (b <= this.#head - this.length) return false;
    this.#slots[slotOf(b, this.length)]! += n;
    return true;
  }

  /** The count of one bucket (0 outside the ring). */
  get(b: number): number {
    if (b > this.#head || b <= this.#head - this.length) return 0;
    return this.#slots[slotOf(b, this.length)]!;
  }

  /** The sum of buckets `from..to` (inclusive); buckets outside the ring count 0. */
  sum(from: number, to: number): number {
    const lo = Math.max(from, this.#head - this.length + 1);
    const hi = Math.min(to, this.#head);
    let s = 0;
    for (let b = lo; b <= hi; b++) s += this.#slots[slotOf(b, this.length)]!;
    return s;
  }

  clear(): void {
    // cleared lazily: the first add after it zeroes every slot
    this.#head = Number.NEGATIVE_INFINITY;
  }

  #advance(b: number): void {
    const gap = b - this.#head;
    if (!Number.isFinite(gap) || gap >= this.length) zero64(this.#slots);
    else {
      for (let x = this.#head + 1; x <= b; x++) this.#slots[slotOf(x, this.length)] = 0;
    }
    this.#head = b;
  }
}

/** keep^k, remembering the last answer: new per-source baselines all start with the same run of zeros. */
let lastKeep = Number.NaN;
let lastK = Number.NaN;
let lastDecay = Number.NaN;
function decay(keep: number, k: number): number {
  if (keep !== lastKeep || k !== lastK) {
    lastKeep = keep;
    lastK = k;
    lastDecay = Math.pow(keep, k);
  }
  return lastDecay;
}

/**
 * Exponentially weighted mean of one sample per second. `value` is bias-corrected: with weights summing to
 * less than 1 early on it divides by their sum, so after a few samples it is their (weighted) mean rather than
 * a fraction of it.
 */
export class Ewma {
  readonly #keep: number;
  #sum = 0;
  #weight = 0;
  #samples = 0;

  constructor(halfLifeS: number) {
    if (!(halfLifeS > 0)) throw new RangeError('half-life must be positive');
    this.#keep = Math.pow(2, -1 / halfLifeS);
  }

  /** Samples folded in so far (including zeros). */
  get samples(): number {
    return this.#samples;
  }

  /** The bias-corrected mean (0 before any sample). */
  get value(): number {
    return this.#weight > 0 ? this.#sum / this.#weight : 0;
  }

  update(x: number): void {
    this.#sum = this.#keep * this.#sum + (1 - this.#keep) * x;
    this.#weight = this.#keep * this.#weight + (1 - this.#keep);
    this.#samples++;
  }

  /** `k` samples of 0 at once. */
  zeros(k: number): void {
    if (k <= 0) return;
    const d = k === 1 ? this.#keep : decay(this.#keep, k);
    this.#sum *= d;
    this.#weight = d * this.#weight + (1 - d);
    this.#samples += k;
  }

  reset(): void {
    this.#sum = 0;
    this.#weight = 0;
    this.#samples = 0;
  }
}

/** FNV-1a, 32 bits, over UTF-16 code units. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix32) so the low bits used as bitmap positions are well mixed
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Linear-counting estimate for `zeros` unset bits of `m`: saturates at m·ln(m) when every bit is set. */
export function linearCount(zeros: number, m: number): number {
  return m * Math.log(m / Math.max(zeros, 1));
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Distinct keys (as 32-bit hashes) in a bitmap of `bits` bits (a power of two, at least 32). */
export class DistinctBitmap {
  readonly bits: number;
  readonly words: Uint32Array;
  /** the range of words that may be non-zero: clearing a nearly empty bitmap is nearly free */
  #lo: number;
  #hi = 0;

  constructor(bits = 1024) {
    if (bits < 32 || (bits & (bits - 1)) !== 0) throw new RangeError('bits must be a power of two ≥ 32');
    this.bits = bits;
    this.words = new Uint32Array(bits >>> 5);
    this.#lo = this.words.length;
  }

  add(hash: number): void {
    const bit = hash & (this.bits - 1);
    const w = bit >>> 5;
    this.words[w]! |= 1 << (bit & 31);
    if (w < this.#lo) this.#lo = w;
    if (w >= this.#hi) this.#hi = w + 1;
  }

  clear(): void {
    if (this.#hi > this.#lo) zero32(this.words, this.#lo, this.#hi);
    this.#lo = this.words.length;
    this.#hi = 0;
  }

  estimate(): number {
    let set = 0;
    for (let i = this.#lo; i < this.#hi; i++) set += popcount(this.words[i]!);
    return linearCount(this.bits - set, this.bits);
  }

  /** The estimate for the union of this bitmap and `other` (same size). */
  estimateUnion(other: DistinctBitmap): number {
    let set = 0;
    for (let i = 0; i < this.words.length; i++) set += popcount(this.words[i]! | other.words[i]!);
    return linearCount(this.bits - set, this.bits);
  }
}

/** One distinct-key bitmap per time bucket, in a ring: distinct keys over any run of recent buckets. */
export class DistinctRing {
  readonly length: number;
  readonly bits: number;
  readonly widthMs: number;
  readonly #words: Uint32Array;
  readonly #stamps: Float64Array;
  readonly #scratch: Uint32Array;

  constructor(length: number, bits = 1024, widthMs = 1000) {
    if (!Number.isInteger(length) || length < 1) throw new RangeError('DistinctRing length must be a positive integer');
    if (bits < 32 || (bits & (bits - 1)) !== 0) throw new RangeError('bits must be a power of two ≥ 32');
    this.length = length;
    this.bits = bits;
    this.widthMs = widthMs;
    const per = bits >>> 5;
    this.#words = new Uint32Array(per * length);
    this.#stamps = new Float64Array(length).fill(Number.NEGATIVE_INFINITY);
    this.#scratch = new Uint32Array(per);
  }

  /** Records `hash` in the bucket of `at`; false when that bucket is older than what its slot holds. */
  add(at: number, hash: number): boolean {
    return this.addToBucket(Math.floor(at / this.widthMs), hash);
  }

  addToBucket(b: number, hash: number): boolean {
    const slot = slotOf(b, this.length);
    const stamp = this.#stamps[slot]!;
    const per = this.bits >>> 5;
    if (stamp !== b) {
      if (b < stamp) return false;
      this.#words.fill(0, slot * per, slot * per + per);
      this.#stamps[slot] = b;
    }
    const bit = hash & (this.bits - 1);
    this.#words[slot * per + (bit >>> 5)]! |= 1 << (bit & 31);
    return true;
  }

  /** Distinct keys recorded in buckets `from..to` (inclusive; at most `length` of them are kept). */
  estimate(from: number, to: number): number {
    const per = this.bits >>> 5;
    const acc = this.#scratch;
    acc.fill(0);
    let any = false;
    for (let b = Math.max(from, to - this.length + 1); b <= to; b++) {
      const slot = slotOf(b, this.length);
      if (this.#stamps[slot] !== b) continue;
      any = true;
      const base = slot * per;
      for (let i = 0; i < per; i++) acc[i]! |= this.#words[base + i]!;
    }
    if (!any) return 0;
    let set = 0;
    for (const w of acc) set += popcount(w);
    return linearCount(this.bits - set, this.bits);
  }

  clear(): void {
    this.#words.fill(0);
    this.#stamps.fill(Number.NEGATIVE_INFINITY);
  }
}

/**
 * Tumbling counters in two segments of `segmentMs`: `value(i)` is current + previous segment, so a window
 * covers between one and two segments. Counting starts at once (no delay to detection); forgetting is coarse.
 */
export class Segments {
  readonly segmentMs: number;
  readonly counters: number;
  /** [current counters..., previous counters...] */
  readonly #c: Float64Array;
  #seg = Number.NEGATIVE_INFINITY;

  constructor(counters: number, segmentMs: number) {
    if (!(segmentMs > 0)) throw new RangeError('segment length must be positive');
    this.counters = counters;
    this.segmentMs = segmentMs;
    this.#c = new Float64Array(counters * 2);
  }

  /** The current segment index. */
  get segment(): number {
    return this.#seg;
  }

  /**
   * Moves to the segment of `at`: 0 when it is the current one, 1 when it became the current one after the
   * previous, 2 when both segments were cleared, -1 when `at` is older than the previous segment (nothing moved).
   * An `at` in the previous segment returns -2 (the caller may count it there with add(..., true)).
   */
  roll(at: number): -2 | -1 | 0 | 1 | 2 {
    const s = Math.floor(at / this.segmentMs);
    if (s === this.#seg) return 0;
    if (s === this.#seg - 1) return -2;
    if (s < this.#seg) return -1;
    const n = this.counters;
    const c = this.#c;
    if (s === this.#seg + 1) {
      for (let i = 0; i < n; i++) {
        c[n + i] = c[i]!;
        c[i] = 0;
      }
      this.#seg = s;
      return 1;
    }
    zero64(c);
    this.#seg = s;
    return 2;
  }

  /** Adds to counter `i` of the current segment (or of the previous one). */
  add(i: number, n = 1, previous = false): void {
    this.#c[previous ? this.counters + i : i]! += n;
  }

  /** Current + previous segment (0 after clear() until the next roll()). */
  value(i: number): number {
    if (this.#seg === Number.NEGATIVE_INFINITY) return 0;
    return this.#c[i]! + this.#c[this.counters + i]!;
  }

  clear(): void {
    // lazily: the next roll() finds the segments far behind and zeroes them
    this.#seg = Number.NEGATIVE_INFINITY;
  }
}
