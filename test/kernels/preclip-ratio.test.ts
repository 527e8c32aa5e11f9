import { Tensor, kernels } from '../../lib';
import { describeEachDevice } from '../helpers/backends';
import { F32, expectClose } from '../helpers/compare';
import { Rng } from '../helpers/random';

/** float64 reference: exp(clamp(new - old, ln min, ln max)), NaN propagating. */
const { exp, fround, log, max, min } = Math;

function reference(a: ArrayLike<number>, b: ArrayLike<number>, minRatio = 1e-3, maxRatio = 1e3): Float64Array {
  const lo = log(minRatio);
  const hi = log(maxRatio);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const d = fround(a[i] - b[i]); // the kernel subtracts in f32
    out[i] = d !== d ? NaN : exp(min(max(d, lo), hi));
  }
  return out;
}

describeEachDevice('preClipRatio', (device) => {
  const rng = new Rng();
  const run = (a: Float32Array, b: Float32Array, shape: number[], opts?: kernels.PreClipOptions) => {
    const ta = Tensor.from(a, shape, { device });
    const tb = Tensor.from(b, shape, { device });
    const r = kernels.preClipRatio(ta, tb, opts);
    const out = r.toArray();
    expect(r.device).toBe(device);
    expect(r.shape).toEqual(shape);
    for (const t of [ta, tb, r]) t.dispose();
    return out;
  };

  test("the paper's example: a negative advantage can no longer blow the loss up", () => {
    const a = new Float32Array([-0.1, -0.1, -0.1, -0.1]);
    const b = new Float32Array([-10, -0.2, -0.2, -5]);
    const r = run(a, b, [4]);
    expectClose(r, reference(a, b), F32, 'ratio');
    // Unclipped ratio e^9.9 ~ 19930 (loss 19930.4 with advantage -1); pre-clipped: 1000.
    expect(r[0]).toBeCloseTo(1000, 2);
    expect(r[3]).toBeCloseTo(Math.exp(4.9), 3);
  });

  test.each([1, 7, 1000, 32769, 1 << 17])('random log-probs, n = %i, various shapes', (n) => {
    const a = rng.logprobs(n);
    const b = rng.logprobs(n);
    // Some huge log-ratios, both signs.
    for (let i = 0; i < n; i += 13) a[i] = b[i] + (rng.next() < 0.5 ? 50 : -50);
    const shape = n % 7 === 0 ? [7, n / 7] : [n];
    expectClose(run(a, b, shape), reference(a, b), F32, 'ratio');
  });

  test('N above 2^24 (64-bit indexing, capped CUDA grid)', () => {
    const n = 2 ** 24 + 37;
    const a = rng.float32(n, -8, 0);
    const b = rng.float32(n, -8, 0);
    a[n - 1] = b[n - 1] + 50; // the last element is reached and clipped
    const r = run(a, b, [n]);
    expectClose(r, reference(a, b), F32, 'ratio');
    expect(r[n - 1]).toBeCloseTo(1000, 1);
  });

  test('custom bounds', () => {
    const a = rng.float32(5000, -5, 0);
    const b = rng.float32(5000, -5, 0);
    const opts = { minRatio: 0.5, maxRatio: 2 };
    expectClose(run(a, b, [5000], opts), reference(a, b, 0.5, 2), F32, 'ratio');
  });

  test('infinities are clipped, NaN propagates', () => {
    const a = new Float32Array([-Infinity, 0, -1, NaN, -Infinity, 0]);
    const b = new Float32Array([-1, -Infinity, -Infinity, 0, -Infinity, NaN]);
    const r = run(a, b, [6]);
    expectClose(r, reference(a, b), F32, 'ratio');
    expect(r[0]).toBeCloseTo(1e-3, 8);
    expect(r[1]).toBeCloseTo(1e3, 2);
    expect(Number.isNaN(r[3]) && Number.isNaN(r[4]) && Number.isNaN(r[5])).toBe(true);
  });

  test('empty input', () => {
    expect(run(new Float32Array(0), new Float32Array(0), [0, 5]).length).toBe(0);
  });

  test('async variant gives the same result', async () => {
    const a = rng.logprobs(4097);
    const b = rng.logprobs(4097);
    const ta = Tensor.from(a, [4097], { device });
    const tb = Tensor.from(b, [4097], { device });
    const r = await kernels.preClipRatioAsync(ta, tb);
    expectClose(r.toArray(), reference(a, b), F32, 'ratio');
    ta.dispose();
    tb.dispose();
    r.dispose();
  });
});

describe('preClipRatio input checks', () => {
  const a = new Float32Array([-1, -2]);
  test('shape mismatch names the argument', () => {
    expect(() => kernels.preClipRatio(Tensor.from(a), Tensor.from(new Float32Array(3)))).toThrow(/logpOld.*shape/);
  });
  test('wrong dtype', () => {
    expect(() => kernels.preClipRatio(Tensor.from(new Int32Array([1, 2])), a)).toThrow(TypeError);
    expect(() => kernels.preClipRatio(Tensor.from(new Int32Array([1, 2])), a)).toThrow(/logpNew.*f32/);
  });
  test('bad options', () => {
    expect(() => kernels.preClipRatio(a, a, { minRatio: 0 })).toThrow(RangeError);
    expect(() => kernels.preClipRatio(a, a, { minRatio: 2, maxRatio: 1 })).toThrow(/minRatio/);
    expect(() => kernels.preClipRatio(a, a, { maxRatio: NaN })).toThrow(/maxRatio.*finite/);
    expect(() => kernels.preClipRatio(a, a, { maxRatio: '3' as unknown as number })).toThrow(TypeError);
    // Finite in f64 but not in f32 (the ratio is computed in f32): refused, never a ratio of Infinity.
    expect(() => kernels.preClipRatio(a, a, { maxRatio: 1e39 })).toThrow(RangeError);
    expect(() => kernels.preClipRatio(a, a, { maxRatio: 3.4e38 })).toThrow(/options.maxRatio must be in \[1e-30, 1e\+30\]/);
    expect(() => kernels.preClipRatio(a, a, { minRatio: 1e-45 })).toThrow(/options.minRatio must be in \[1e-30, 1e\+30\]/);
  });
  test('disposed tensor', () => {
    const t = Tensor.from(a);
    t.dispose();
    t.dispose(); // idempotent
    expect(() => kernels.preClipRatio(t, a)).toThrow(/logpNew is a disposed Tensor/);
  });
  test('async errors reject instead of throwing', async () => {
    await expect(kernels.preClipRatioAsync(a, new Float32Array(1))).rejects.toThrow(/logpOld/);
  });
  test('not a tensor', () => {
    expect(() => kernels.preClipRatio({} as unknown as Float32Array, a)).toThrow(/logpNew must be a Tensor/);
  });
});
