/**
 * Seeded random inputs for kernel tests. Each run draws a fresh seed (printed
 * in failure messages); SR_TEST_SEED=<n> replays a run.
 */
export const TEST_SEED: number = process.env.SR_TEST_SEED ? Number(process.env.SR_TEST_SEED) : (Date.now() ^ (process.pid << 8)) >>> 0;

// Globals bound once: inside jest's sandbox each global lookup in a hot loop is slow.
const { imul, floor, max, sqrt, log, cos, abs, PI } = Math;

export class Rng {
  private state: number;
  constructor(seed: number = TEST_SEED) {
    this.state = seed >>> 0 || 1;
  }
  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hiExclusive: number): number {
    return lo + floor(this.next() * (hiExclusive - lo));
  }
  normal(): number {
    const u = max(this.next(), 1e-300);
    return sqrt(-2 * log(u)) * cos(2 * PI * this.next());
  }
  float32(n: number, lo: number, hi: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }
  normals(n: number, scale = 1, shift = 0): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = shift + scale * this.normal();
    return a;
  }
  /** Log-probabilities: negative, mostly small, some large. */
  logprobs(n: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = -abs(this.normal() * 2) - (this.next() < 0.05 ? this.uniform(0, 20) : 0);
    return a;
  }
  /** A u8 mask of shape [B, T]: each row valid up to a random length (0 allowed), with random holes. */
  mask(B: number, T: number, holeRate = 0.1): Uint8Array {
    const m = new Uint8Array(B * T);
    for (let b = 0; b < B; b++) {
      const len = this.next() < 0.1 ? 0 : this.int(1, T + 1);
      for (let t = 0; t < len; t++) m[b * T + t] = this.next() < holeRate ? 0 : 1;
    }
    return m;
  }
}

export const seedNote = `(SR_TEST_SEED=${TEST_SEED})`;
