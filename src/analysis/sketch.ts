// Space-Saving (Metwally, Agrawal, El Abbadi 2005): the heaviest keys of a stream in `capacity` counters,
// whatever the number of distinct keys. A new key, when every counter is taken, replaces the key with the
// smallest count and inherits that count as its possible overestimate (`error`). Guarantees, for a stream of
// total weight N: every key with true weight > N / capacity holds a counter; for a held key,
// count − error ≤ true weight ≤ count; and error ≤ the smallest count ≤ N / capacity.
// Counters live in fixed slots (parallel typed arrays) ordered by a binary min-heap of slot numbers, a Map from
// key to slot: O(log capacity) per offer, no allocation once full. `aux` is a side count per counter (the
// perf view counts errors there): exact since the key took its counter, so a lower bound.
// Also: mergeSketches (per-minute sketches into one view, with bounds), SmallSpaceSaving (the same algorithm
// with linear scans for ≤ 16 counters) and SegmentedTop (the top key over two tumbling segments).

export interface HeavyHitter {
  readonly key: string;
  /** estimated weight: an upper bound of the true weight */
  readonly count: number;
  /** how much of `count` may belong to keys evicted before this one: count − error is a lower bound */
  readonly error: number;
  /** the side count since this key took its counter */
  readonly aux: number;
}

export class SpaceSaving {
  readonly capacity: number;
  // a counter lives in a fixed slot; the heap orders slots, so moving in the heap never touches the Map
  readonly #keys: string[] = [];
  readonly #counts: Float64Array;
  readonly #errors: Float64Array;
  readonly #aux: Float64Array;
  /** heap position → slot */
  readonly #heap: Int32Array;
  /** slot → heap position */
  readonly #pos: Int32Array;
  readonly #index = new Map<string, number>();
  #size = 0;
  #total = 0;
  #evictions = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('SpaceSaving capacity must be a positive integer');
    this.capacity = capacity;
    this.#counts = new Float64Array(capacity);
    this.#errors = new Float64Array(capacity);
    this.#aux = new Float64Array(capacity);
    this.#heap = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity);
  }

  /** Counters in use. */
  get size(): number {
    return this.#size;
  }

  /** Total weight offered. */
  get total(): number {
    return this.#total;
  }

  /** Keys that lost their counter to a new key. */
  get evictions(): number {
    return this.#evictions;
  }

  /** The smallest count held when every counter is taken (the bound on any error), else 0. */
  get minCount(): number {
    return this.#size < this.capacity ? 0 : this.#counts[this.#heap[0]!]!;
  }

  /** Adds `weight` (> 0) to `key`, and `aux` to its side count. */
  offer(key: string, weight = 1, aux = 0): void {
    if (!(weight > 0)) return;
    this.#total += weight;
    const slot = this.#index.get(key);
    if (slot !== undefined) {
      this.#counts[slot]! += weight;
      this.#aux[slot]! += aux;
      this.#down(this.#pos[slot]!);
      return;
    }
    const n = this.#size;
    if (n < this.capacity) {
      this.#keys[n] = key;
      this.#counts[n] = weight;
      this.#errors[n] = 0;
      this.#aux[n] = aux;
      this.#heap[n] = n;
      this.#pos[n] = n;
      this.#index.set(key, n);
      this.#size++;
      this.#up(n);
      return;
    }
    // replace the minimum (the heap's root)
    const root = this.#heap[0]!;
    const min = this.#counts[root]!;
    this.#index.delete(this.#keys[root]!);
    this.#evictions++;
    this.#keys[root] = key;
    this.#counts[root] = min + weight;
    this.#errors[root] = min;
    this.#aux[root] = aux;
    this.#index.set(key, root);
    this.#down(0);
  }

  /** True when `key` holds a counter. */
  has(key: string): boolean {
    return this.#index.has(key);
  }

  /** The counter of `key`, when it holds one. */
  get(key: string): HeavyHitter | undefined {
    const slot = this.#index.get(key);
    return slot === undefined ? undefined : this.#entry(slot);
  }

  /** Every held counter, in no particular order. */
  entries(): HeavyHitter[] {
    const out: HeavyHitter[] = [];
    for (let slot = 0; slot < this.#size; slot++) out.push(this.#entry(slot));
    return out;
  }

  /** The `n` largest counts, largest first (ties by key). */
  top(n: number): HeavyHitter[] {
    return this.entries()
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, Math.max(0, n));
  }

  clear(): void {
    this.#keys.length = 0;
    this.#index.clear();
    this.#size = 0;
    this.#total = 0;
  }

  #entry(slot: number): HeavyHitter {
    return { key: this.#keys[slot]!, count: this.#counts[slot]!, error: this.#errors[slot]!, aux: this.#aux[slot]! };
  }

  #place(i: number, slot: number): void {
    this.#heap[i] = slot;
    this.#pos[slot] = i;
  }

  #up(i: number): void {
    const heap = this.#heap;
    const counts = this.#counts;
    const slot = heap[i]!;
    const c = counts[slot]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (counts[heap[p]!]! <= c) break;
      this.#place(i, heap[p]!);
      i = p;
    }
    this.#place(i, slot);
  }

  #down(i: number): void {
    const heap = this.#heap;
    const counts = this.#counts;
    const n = this.#size;
    const slot = heap[i]!;
    const c = counts[slot]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && counts[heap[r]!]! < counts[heap[l]!]! ? r : l;
      if (counts[heap[child]!]! >= c) break;
      this.#place(i, heap[child]!);
      i = child;
    }
    this.#place(i, slot);
  }
}

/**
 * The union of several sketches (e.g. one per minute): counts, errors and side counts added per key.
 * `count` is the sum of the counts held; `error` bounds the deviation either way: the held errors (overcount)
 * plus, for each full sketch where the key holds no counter, that sketch's minCount (what it may have had
 * there). So the true weight lies within count ± error.
 */
export function mergeSketches(sketches: readonly SpaceSaving[]): HeavyHitter[] {
  const acc = new Map<string, { count: number; error: number; aux: number }>();
  for (const sketch of sketches) {
    for (const h of sketch.entries()) {
      const a = acc.get(h.key);
      if (a) {
        a.count += h.count;
        a.error += h.error;
        a.aux += h.aux;
      } else acc.set(h.key, { count: h.count, error: h.error, aux: h.aux });
    }
  }
  const out: HeavyHitter[] = [];
  for (const [key, a] of acc) {
    let error = a.error;
    for (const sketch of sketches) if (sketch.minCount > 0 && !sketch.has(key)) error += sketch.minCount;
    out.push({ key, count: a.count, error, aux: a.aux });
  }
  return out;
}

/**
 * Space-Saving for a handful of counters (≤ 16): plain arrays and linear scans, no index Map — cheaper per
 * offer than the heap when every key is new (a million-source flood through an endpoint's tracker).
 */
export class SmallSpaceSaving {
  readonly capacity: number;
  readonly keys: string[] = [];
  readonly counts: number[] = [];
  total = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 16) throw new RangeError('SmallSpaceSaving capacity must be an integer in 1..16');
    this.capacity = capacity;
  }

  offer(key: string, weight = 1): void {
    this.total += weight;
    const keys = this.keys;
    const n = keys.length;
    for (let i = 0; i < n; i++) {
      if (keys[i] === key) {
        this.counts[i]! += weight;
        return;
      }
    }
    if (n < this.capacity) {
      keys.push(key);
      this.counts.push(weight);
      return;
    }
    let min = 0;
    for (let i = 1; i < n; i++) if (this.counts[i]! < this.counts[min]!) min = i;
    keys[min] = key;
    this.counts[min]! += weight;
  }

  /** The count of `key` (0 when it holds no counter). */
  countOf(key: string): number {
    const i = this.keys.indexOf(key);
    return i < 0 ? 0 : this.counts[i]!;
  }

  clear(): void {
    this.keys.length = 0;
    this.counts.length = 0;
    this.total = 0;
  }
}

/**
 * The heaviest keys over the last one to two tumbling segments of `segmentMs` (a current and a previous
 * small Space-Saving): e.g. which source dominates an endpoint's last few seconds.
 */
export class SegmentedTop {
  readonly segmentMs: number;
  #cur: SmallSpaceSaving;
  #prev: SmallSpaceSaving;
  #seg = Number.NEGATIVE_INFINITY;

  constructor(capacity: number, segmentMs: number) {
    this.segmentMs = segmentMs;
    this.#cur = new SmallSpaceSaving(capacity);
    this.#prev = new SmallSpaceSaving(capacity);
  }

  /** Moves the segments forward to the one of `at` (never back). */
  roll(at: number): void {
    const s = Math.floor(at / this.segmentMs);
    if (s <= this.#seg) return;
    if (s === this.#seg + 1) {
      const t = this.#prev;
      this.#prev = this.#cur;
      this.#cur = t;
      this.#cur.clear();
    } else {
      this.#cur.clear();
      this.#prev.clear();
    }
    this.#seg = s;
  }

  offer(at: number, key: string, weight = 1): void {
    const s = Math.floor(at / this.segmentMs);
    if (s > this.#seg) this.roll(at);
    if (s === this.#seg) this.#cur.offer(key, weight);
    else if (s === this.#seg - 1) this.#prev.offer(key, weight);
  }

  /** Total weight in both segments. */
  get total(): number {
    return this.#cur.total + this.#prev.total;
  }

  /** The heaviest key over both segments, its estimated weight and the total. */
  max(): { key: string; count: number; total: number } | undefined {
    let best: { key: string; count: number } | undefined;
    for (const [a, b] of [
      [this.#cur, this.#prev],
      [this.#prev, this.#cur],
    ] as const) {
      for (let i = 0; i < a.keys.length; i++) {
        const key = a.keys[i]!;
        if (a === this.#prev && this.#cur.keys.includes(key)) continue; // counted from cur already
        const count = a.counts[i]! + b.countOf(key);
        if (best === undefined || count > best.count) best = { key, count };
      }
    }
    return best && { ...best, total: this.total };
  }

  clear(): void {
    this.#cur.clear();
    this.#prev.clear();
    this.#seg = Number.NEGATIVE_INFINITY;
  }
}
