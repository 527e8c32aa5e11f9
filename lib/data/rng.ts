/**
 * Seeded pseudo-random numbers for the data generator and the curriculum.
 *
 * Only 32-bit integer arithmetic (Math.imul, shifts) and one division by 2^32,
 * so the same seed gives the same stream on every machine and Node version
 * (Math.random and the transcendental Math functions give no such promise).
 * Generator: xoshiro128** seeded through a splitmix32-style mixer.
 */

// Local binding: global lookups are slow inside vm contexts (jest), and these run in hot loops.
const imul = Math.imul;

/** A seed: a non-negative safe integer, or a string (hashed). */
export type Seed = number | string;

function mix32(x: number): number {
  // murmur3 finaliser: every input bit affects every output bit.
  x = imul(x ^ (x >>> 16), 0x85ebca6b);
  x = imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function absorb(h: number, part: Seed): number {
  if (typeof part === 'number') {
    if (!Number.isSafeInteger(part) || part < 0) {
      throw new RangeError(`seed parts must be non-negative safe integers or strings, got ${part}`);
    }
    // Both 32-bit halves, so seeds above 2^32 stay distinct.
    h = mix32(h ^ (part >>> 0)) + 0x9e3779b9;
    h = mix32(h ^ Math.floor(part / 4294967296));
  } else if (typeof part === 'string') {
    h = mix32(h ^ 0x5bd1e995 ^ part.length);
    for (let i = 0; i < part.length; i++) h = mix32(h ^ part.charCodeAt(i)) + 0x7f4a7c15;
  } else {
    throw new TypeError(`seed parts must be numbers or strings, got ${typeof part}`);
  }
  return h >>> 0;
}

/** Hash any list of seed parts to one 32-bit seed (order matters). */
export function hashSeed(...parts: Seed[]): number {
  let h = 0x243f6a88;
  for (const p of parts) h = absorb(h, p);
  return mix32(h ^ parts.length);
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `new Rng(seed)`; `Rng.derive(seed, 'sample', 7)` for an independent sub-stream. */
  constructor(seed: Seed) {
    let x = hashSeed(seed);
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      return mix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A generator whose stream depends only on the parts, not on any other generator's state. */
  static derive(...parts: Seed[]): Rng {
    return new Rng(hashSeed(...parts));
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = imul(rotl(imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). Rejection sampling keeps it exactly uniform. */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296 && n % 1 === 0)) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`Rng.range: hi (${hi}) must be >= lo (${lo})`);
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: empty list');
    return items[this.int(items.length)];
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** k distinct items in random order. */
  sample<T>(items: readonly T[], k: number): T[] {
    if (k > items.length) throw new RangeError(`Rng.sample: k (${k}) exceeds the number of items (${items.length})`);
    return this.shuffle(items.slice()).slice(0, k);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
