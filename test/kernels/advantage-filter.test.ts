import { Tensor, kernels } from '../../lib';
import { loadNative } from '../../lib/native/loader';
import { describeEachDevice } from '../helpers/backends';
import { expectNativeError } from '../helpers/errors';
import { F32, Tolerance, expectClose, expectScalarClose } from '../helpers/compare';
import { Rng, seedNote } from '../helpers/random';

// Tolerances: advantages are f32 outputs of a float64 computation (F32). The
// statistics are float64: only the summation order differs from the reference.
const STATS: Tolerance = { rtol: 1e-10, atol: 1e-12 };

interface Ref {
  out: Float64Array;
  mean: number;
  std: number;
  kept: number;
  filtered: number;
  nonFinite: number;
  /** Entries whose |z| sits so close to a bound that rounding may decide either way. */
  ambiguous: Uint8Array;
}

/** float64 reference: two-pass mean / population std over mask=1 finite entries. */
function reference(values: ArrayLike<number>, mask: ArrayLike<number> | undefined, sigma = 3, eps = 1e-8, rule: 'paper' | 'released-code' = 'paper'): Ref {
  const n = values.length;
  const valid = (i: number) => (!mask || mask[i] !== 0) && Number.isFinite(values[i]);
  let count = 0;
  let sum = 0;
  let nonFinite = 0;
  for (let i = 0; i < n; i++) {
    if (mask && mask[i] === 0) continue;
    if (!Number.isFinite(values[i])) {
      nonFinite++;
      continue;
    }
    count++;
    sum += values[i];
  }
  const mean = count ? sum / count : 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) if (valid(i)) m2 += (values[i] - mean) ** 2;
  const std = count ? Math.sqrt(m2 / count) : 0;
  const inv = std > 0 ? 1 / (std + eps) : 0;
  let lo = -sigma;
  let hi = sigma;
  if (rule === 'released-code') {
    lo = Math.max(mean - sigma, -10);
    hi = Math.min(mean + sigma, 10);
  }
  const out = new Float64Array(n);
  const ambiguous = new Uint8Array(n);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (!valid(i)) continue;
    const z = (values[i] - mean) * inv;
    const near = (b: number) => Math.abs(z - b) <= 1e-9 * (1 + Math.abs(b));
    if (near(lo) || near(hi)) ambiguous[i] = 1;
    if (z >= lo && z <= hi) {
      out[i] = z;
      kept++;
    }
  }
  return { out, mean, std, kept, filtered: count - kept, nonFinite, ambiguous };
}

function expectMatches(
  got: { advantages: Float32Array; mean: number; std: number; kept: number; filtered: number; nonFinite: number },
  ref: Ref,
  what: string,
): void {
  const expected = Float64Array.from(ref.out);
  let nAmbiguous = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!ref.ambiguous[i]) continue;
    nAmbiguous++;
    // Either kept (z) or filtered (0) is right here.
    if (got.advantages[i] === 0) expected[i] = 0;
  }
  expectClose(got.advantages, expected, F32, `${what} advantages`);
  expectScalarClose(got.mean, ref.mean, { rtol: STATS.rtol, atol: STATS.atol * (1 + Math.abs(ref.mean)) }, `${what} mean`);
  expectScalarClose(got.std, ref.std, { rtol: STATS.rtol, atol: STATS.atol * (1 + Math.abs(ref.mean)) }, `${what} std`);
  expect(got.nonFinite).toBe(ref.nonFinite);
  expect(got.kept + got.filtered).toBe(ref.kept + ref.filtered);
  if (Math.abs(got.kept - ref.kept) > nAmbiguous) {
    throw new Error(`${what}: kept ${got.kept}, expected ${ref.kept} (${nAmbiguous} ambiguous) ${seedNote}`);
  }
}

/** Normal values with some outliers, NaN and infinities sprinkled in. */
function noisyValues(rng: Rng, n: number, scale = 1, shift = 0): Float32Array {
  const v = rng.normals(n, scale, shift);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    if (u < 0.01) v[i] = shift + scale * rng.uniform(-20, 20);
    else if (u < 0.012) v[i] = NaN;
    else if (u < 0.013) v[i] = rng.next() < 0.5 ? Infinity : -Infinity;
  }
  return v;
}

describeEachDevice('advantageFilter', (device) => {
  const rng = new Rng();
  type Opts = Omit<kernels.AdvantageFilterOptions, 'mask'>;
  const run = (values: Float32Array, shape: number[], mask?: Uint8Array, opts: Opts = {}) => {
    const tv = Tensor.from(values, shape, { device });
    const tm = mask ? Tensor.from(mask, shape, { device }) : undefined;
    const r = kernels.advantageFilter(tv, { ...opts, mask: tm });
    expect(r.advantages.device).toBe(device);
    expect(r.advantages.shape).toEqual(shape);
    expect(r.advantages.dtype).toBe('f32');
    const advantages = r.advantages.toArray() as Float32Array;
    for (const t of [tv, tm, r.advantages]) t?.dispose();
    return { ...r, advantages };
  };

  test.each([
    [1, 1],
    [3, 7],
    [17, 333],
    [64, 1025],
    [5, 32771],
    [1, (1 << 20) + 3],
  ])('random masked batch [%i, %i] with outliers, NaN and Inf', (B, T) => {
    const n = B * T;
    const v = noisyValues(rng, n, rng.uniform(0.1, 10), rng.uniform(-5, 5));
    const m = rng.mask(B, T, 0.2);
    // Garbage at masked positions must not matter.
    for (let i = 0; i < n; i += 7) if (!m[i]) v[i] = i % 2 ? NaN : 1e30;
    const got = run(v, [B, T], m);
    expectMatches(got, reference(v, m), `[${B}, ${T}]`);
  });

  test.each([1, 4, 1023, 1025, 32768 * 3 + 1, 1 << 20])('no mask, n = %i', (n) => {
    const v = noisyValues(rng, n);
    expectMatches(run(v, [n]), reference(v, undefined), `n=${n}`);
  });

  test('outliers beyond 3 sigma are zeroed and counted', () => {
    const n = 10000;
    const v = rng.normals(n);
    v[10] = 50;
    v[20] = -50;
    const got = run(v, [n]);
    const ref = reference(v, undefined);
    expectMatches(got, ref, 'outliers');
    expect(got.advantages[10]).toBe(0);
    expect(got.advantages[20]).toBe(0);
    expect(got.filtered).toBeGreaterThanOrEqual(2);
    expect(got.kept + got.filtered).toBe(n);
  });

  test('sigma and eps options', () => {
    const n = 5000;
    const v = rng.normals(n, 2, 1);
    for (const opts of [{ sigma: 1.5 }, { sigma: 0.25 }, { eps: 0.5 }, { sigma: 100, eps: 0 }]) {
      const got = run(v, [n], undefined, opts);
      expectMatches(got, reference(v, undefined, opts.sigma ?? 3, opts.eps ?? 1e-8), JSON.stringify(opts));
    }
    expect(run(v, [n], undefined, { sigma: 1 }).filtered).toBeGreaterThan(n / 5);
  });

  test('NaN and Inf under the mask give 0, are counted and left out of mean/std', () => {
    const v = new Float32Array([1, NaN, 2, Infinity, 3, -Infinity, NaN, 100]);
    const m = new Uint8Array([1, 1, 1, 1, 1, 1, 0, 0]);
    const got = run(v, [8], m);
    expectMatches(got, reference(v, m), 'nonfinite');
    expect(got.nonFinite).toBe(3);
    expect(got.kept).toBe(3);
    expectScalarClose(got.mean, 2, STATS, 'mean');
    expectScalarClose(got.std, Math.sqrt(2 / 3), STATS, 'std (population)');
    expect(Array.from(got.advantages).every(Number.isFinite)).toBe(true);
  });

  test('no valid entry: mean 0, std 0, all zeros', () => {
    const v = rng.normals(1000);
    for (const [m, nonFinite] of [
      [new Uint8Array(1000), 0],
      [undefined, 1000],
    ] as const) {
      const vv = m ? v : new Float32Array(1000).fill(NaN);
      const got = run(vv, [10, 100], m);
      expect(got.mean).toBe(0);
      expect(got.std).toBe(0);
      expect(got.kept).toBe(0);
      expect(got.filtered).toBe(0);
      expect(got.nonFinite).toBe(nonFinite);
      expect(got.advantages.every((x) => x === 0)).toBe(true);
    }
  });

  test('zero variance: every z is 0 and every entry is kept (also with eps = 0)', () => {
    const n = 70001;
    const v = new Float32Array(n).fill(2.5);
    v[5] = NaN;
    const m = new Uint8Array(n).fill(1);
    m[7] = 0;
    for (const eps of [1e-8, 0]) {
      const got = run(v, [n], m, { eps });
      expect(got.std).toBe(0);
      expect(got.mean).toBe(2.5);
      expect(got.kept).toBe(n - 2);
      expect(got.filtered).toBe(0);
      expect(got.nonFinite).toBe(1);
      expect(got.advantages.every((x) => x === 0)).toBe(true);
    }
  });

  test.each([
    [1e4, 1e-2, 1 << 20],
    [1e6, 1, 1 << 20],
    [-3e5, 0.5, 100003],
  ])('large common offset %s + noise of scale %s (n = %i): std stays accurate', (shift, scale, n) => {
    // A one-pass sum of squares loses the noise against shift^2 here.
    const v = rng.normals(n, scale, shift);
    const m = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i += 11) m[i] = 0;
    const got = run(v, [n], m);
    const ref = reference(v, m);
    expect(got.std).toBeGreaterThan(0.5 * scale);
    expectScalarClose(got.std, ref.std, { rtol: 1e-9, atol: 0 }, 'std');
    expectMatches(got, ref, `offset ${shift}`);
  });

  test("released-code rule on a high-accuracy batch discards the negative advantages the paper's rule keeps", () => {
    // R1-Reward rewards: 80% right and consistent (2.0), 20% wrong but well formatted (0.5).
    const n = 4096;
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = rng.next() < 0.8 ? 2.0 : 0.5;
    v[0] = 0.5;
    v[1] = 2.0;
    const paper = run(v, [n]);
    const released = run(v, [n], undefined, { rule: 'released-code' });
    expectMatches(paper, reference(v, undefined), 'paper');
    expectMatches(released, reference(v, undefined, 3, 1e-8, 'released-code'), 'released-code');
    const negatives = (a: Float32Array) => a.filter((x) => x < 0).length;
    expect(negatives(paper.advantages)).toBeGreaterThan(0);
    expect(paper.filtered).toBe(0);
    expect(negatives(released.advantages)).toBe(0);
    expect(released.filtered).toBe(negatives(paper.advantages));
    expect(released.advantages[1]).toBe(paper.advantages[1]); // positive ones survive
    expect(released.advantages[1]).toBeGreaterThan(0);
  });

  test('released-code rule on random data, including |z| > 10', () => {
    const n = 30011;
    const v = rng.normals(n, 1, 0.5);
    for (let i = 0; i < n; i += 997) v[i] = rng.uniform(-200, 200);
    const m = rng.mask(1, n, 0.1).fill(1, 0, 10);
    expectMatches(run(v, [n], m, { rule: 'released-code' }), reference(v, m, 3, 1e-8, 'released-code'), 'rc');
    expectMatches(run(v, [n], m, { rule: 'released-code', sigma: 12 }), reference(v, m, 12, 1e-8, 'released-code'), 'rc sigma 12');
  });

  test('deterministic: the same input gives the same bits', () => {
    const n = (1 << 18) + 5;
    const v = noisyValues(rng, n, 3, 7);
    const a = run(v, [n]);
    const b = run(v, [n]);
    expect(b.mean).toBe(a.mean);
    expect(b.std).toBe(a.std);
    expect(Buffer.from(b.advantages.buffer).equals(Buffer.from(a.advantages.buffer))).toBe(true);
  });

  test('empty input', () => {
    const got = run(new Float32Array(0), [0, 4], new Uint8Array(0));
    expect(got.advantages.length).toBe(0);
    expect([got.mean, got.std, got.kept, got.filtered, got.nonFinite]).toEqual([0, 0, 0, 0, 0]);
  });

  test('async variant gives the same result', async () => {
    const n = 40000;
    const v = noisyValues(rng, n);
    const m = rng.mask(40, 1000);
    const tv = Tensor.from(v, [40, 1000], { device });
    const tm = Tensor.from(m, [40, 1000], { device });
    const r = await kernels.advantageFilterAsync(tv, { mask: tm, rule: 'paper' });
    expect(r.advantages.device).toBe(device);
    expectMatches({ ...r, advantages: r.advantages.toArray() as Float32Array }, reference(v, m), 'async');
    for (const t of [tv, tm, r.advantages]) t.dispose();
  });

  if (device === 'cuda') {
    test('mask on another device is a TypeError naming it', () => {
      const tv = Tensor.from(new Float32Array(4), [4], { device });
      const tm = Tensor.from(new Uint8Array(4), [4], { device: 'cpu' });
      expect(() => kernels.advantageFilter(tv, { mask: tm })).toThrow(TypeError);
      expect(() => kernels.advantageFilter(tv, { mask: tm })).toThrow(/mask.*(cpu|cuda)/);
      tv.dispose();
      tm.dispose();
    });
  }
});

describe('advantageFilter input checks', () => {
  const v = new Float32Array([1, 2, 3, 4]);
  test('plain arrays are accepted', () => {
    const r = kernels.advantageFilter(v, { mask: new Uint8Array([1, 1, 1, 0]) });
    expectScalarClose(r.mean, 2, STATS, 'mean');
    expect(r.advantages.device).toBe('cpu');
    r.advantages.dispose();
  });
  test('wrong dtypes', () => {
    expect(() => kernels.advantageFilter(Tensor.from(new Int32Array(4)))).toThrow(/values.*f32/);
    expect(() => kernels.advantageFilter(v, { mask: Tensor.from(v) })).toThrow(TypeError);
    expect(() => kernels.advantageFilter(v, { mask: Tensor.from(v) })).toThrow(/mask.*u8/);
  });
  test('mask shape mismatch', () => {
    expect(() => kernels.advantageFilter(v, { mask: Tensor.from(new Uint8Array(4), [2, 2]) })).toThrow(RangeError);
    expect(() => kernels.advantageFilter(v, { mask: new Uint8Array(3) })).toThrow(/mask/);
    expect(() => kernels.advantageFilter(v, { mask: [1, 2, 300, 0] })).toThrow(/u8/);
  });
  test('bad options', () => {
    expect(() => kernels.advantageFilter(v, { sigma: 0 })).toThrow(RangeError);
    expect(() => kernels.advantageFilter(v, { sigma: -1 })).toThrow(/sigma/);
    expect(() => kernels.advantageFilter(v, { sigma: NaN })).toThrow(/sigma.*finite/);
    expect(() => kernels.advantageFilter(v, { sigma: '3' as unknown as number })).toThrow(TypeError);
    expect(() => kernels.advantageFilter(v, { eps: -1e-9 })).toThrow(/eps/);
    expect(() => kernels.advantageFilter(v, { eps: Infinity })).toThrow(RangeError);
    expect(() => kernels.advantageFilter(v, { rule: 'code' as 'paper' })).toThrow(/rule/);
    expect(() => kernels.advantageFilter(v, 5 as unknown as kernels.AdvantageFilterOptions)).toThrow(/options/);
  });
  test('disposed tensors and non-tensors', () => {
    const t = Tensor.from(v);
    t.dispose();
    expect(() => kernels.advantageFilter(t)).toThrow(/values is a disposed Tensor/);
    const m = Tensor.from(new Uint8Array(4));
    m.dispose();
    expect(() => kernels.advantageFilter(v, { mask: m })).toThrow(/mask is a disposed Tensor/);
    expect(() => kernels.advantageFilter({} as unknown as Float32Array)).toThrow(/values must be a Tensor/);
  });
  test('async errors reject instead of throwing', async () => {
    await expect(kernels.advantageFilterAsync(v, { sigma: -1 })).rejects.toThrow(/sigma/);
    await expect(kernels.advantageFilterAsync(v, { mask: new Uint8Array(2) })).rejects.toThrow(/mask/);
  });
  test('the native binding checks its arguments too', () => {
    const native = loadNative() as unknown as { advantageFilter: (args: object) => unknown };
    const tv = Tensor.from(v);
    const tm = Tensor.from(new Uint8Array(3));
    const call = (over: object) => () => native.advantageFilter({ values: tv.handle, sigma: 3, eps: 0, rule: 'paper', ...over });
    expect(call({})).not.toThrow();
    expectNativeError(call({ sigma: -1 }), 'RangeError', /options\.sigma must be > 0, got -1/);
    expectNativeError(call({ eps: -1 }), 'RangeError', /options\.eps must be >= 0/);
    expectNativeError(call({ rule: 'x' }), 'TypeError', /options\.rule must be one of 'paper', 'released-code', got "x"/);
    expectNativeError(call({ mask: tm.handle }), 'RangeError', /options\.mask must have shape/);
    expectNativeError(call({ values: tm.handle }), 'TypeError', /values.*f32/);
    expectNativeError(call({ values: {} }), 'TypeError', /values must be a Tensor/);
    expectNativeError(call({ values: undefined }), 'TypeError', /values is required/);
    expectNativeError(call({ async: 'yes' }), 'TypeError', /async must be a boolean/);
    expectNativeError(() => (native.advantageFilter as (...a: unknown[]) => unknown)(tv.handle, null, 3), 'TypeError', /one object of named inputs/);
    tv.dispose();
    tm.dispose();
  });
});
