// When each replayed request is due, as an offset in ms from the start of the replay: `--speed 2x` keeps the
// recorded inter-arrival times divided by the factor, `--rate 500/s` spaces requests evenly, and unpaced sends as
// fast as the concurrency allows (every offset 0). Offsets are absolute (start + offset), never "sleep since the
// last one", so timer lateness never accumulates into drift. Pure.

export type Pacing =
  | { readonly kind: 'unpaced' }
  | { readonly kind: 'speed'; readonly factor: number }
  | { readonly kind: 'rate'; readonly perSecond: number };

export class PacingError extends Error {}

/** `2x`, `0.5x`, `2`, `200%` → 2, 0.5, 2, 2. */
export function parseSpeed(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(x|%)?\s*$/i.exec(text);
  const v = m ? Number(m[1]) / (m[2] === '%' ? 100 : 1) : NaN;
  if (!Number.isFinite(v) || v <= 0 || v > 10_000) throw new PacingError(`--speed ${JSON.stringify(text)}: expected a factor above 0 such as 2x, 0.5x or 200%`);
  return v;
}

const PER: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** `500/s`, `500`, `30/m`, `1000/h` → requests per second. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m|h))?\s*$/i.exec(text);
  const v = m ? Number(m[1]) / PER[(m[2] ?? 's').toLowerCase()]! : NaN;
  if (!Number.isFinite(v) || v <= 0 || v > 1_000_000) throw new PacingError(`--rate ${JSON.stringify(text)}: expected requests per second above 0 such as 500/s, 30/m`);
  return v;
}

/**
 * Offsets for a stream of entries. `next(at)` takes the entry's recorded epoch ms (speed mode reads it) and returns
 * its offset; offsets never go backwards (an entry recorded out of order is due at once, not in the past).
 * `newPass()` starts another loop over the input: speed mode continues one mean gap after the last offset.
 */
export class Schedule {
  readonly #pacing: Pacing;
  #index = 0;
  #last = 0;
  /** speed mode: recorded epoch ms of this pass's first entry, and the offset it maps to */
  #passAt: number | undefined;
  #passBase = 0;
  #passCount = 0;
  #passFirstOffset = 0;

  constructor(pacing: Pacing) {
    this.#pacing = pacing;
  }

  next(at: number): number {
    const p = this.#pacing;
    let offset: number;
    if (p.kind === 'unpaced') offset = 0;
    else if (p.kind === 'rate') offset = (this.#index * 1000) / p.perSecond;
    else {
      if (this.#passAt === undefined || !Number.isFinite(this.#passAt)) {
        this.#passAt = at;
        this.#passFirstOffset = this.#passBase;
      }
      offset = Number.isFinite(at) ? this.#passBase + (at - this.#passAt) / p.factor : this.#last;
      this.#passCount++;
    }
    this.#index++;
    if (offset < this.#last) offset = this.#last;
    this.#last = offset;
    return offset;
  }

  newPass(): void {
    if (this.#pacing.kind !== 'speed') return;
    const span = this.#last - this.#passFirstOffset;
    const gap = this.#passCount > 1 ? span / (this.#passCount - 1) : 0;
    this.#passBase = this.#last + gap;
    this.#passAt = undefined;
    this.#passCount = 0;
  }
}
