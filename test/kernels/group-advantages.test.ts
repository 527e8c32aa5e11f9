import { Tensor, kernels } from '../../lib';
import { loadNative } from '../../lib/native/loader';
import { describeEachDevice } from '../helpers/backends';
import { expectNativeError } from '../helpers/errors';
import { F32, expectClose } from '../helpers/compare';
import { Rng } from '../helpers/random';

type Opts = kernels.GroupAdvantagesOptions;

/** float64 reference from the definitions: unbiased std (torch .std()), RLOO as r - mean of the others. */
function reference(r: ArrayLike<number>, o: Opts): Float64Array {
  const k = o.groupSize;
  const eps = o.eps ?? 1e-6;
  const out = new Float64Array(r.length);
  for (let g = 0; g < r.length; g += k) {
    let sum = 0;
    for (let i = g; i < g + k; i++) sum += r[i];
    const mean = sum / k;
    let m2 = 0;
    for (let i = g; i < g + k; i++) m2 += (r[i] - mean) ** 2;
    const std = Math.sqrt(m2 / (k - 1));
    for (let i = g; i < g + k; i++) {
      let a = o.baseline === 'leave-one-out' ? r[i] - (sum - r[i]) / (k - 1) : r[i] - mean;
      if ((o.scale ?? 'std') === 'std') a = std + eps > 0 ? a / (std + eps) : 0;
      out[i] = a;
    }
  }
  return out;
}

const COMBOS: Array<Omit<Opts, 'groupSize'>> = [
  {}, // GRPO
  { baseline: 'leave-one-out', scale: 'none' }, // RLOO
  { baseline: 'mean', scale: 'none' },
  { baseline: 'leave-one-out', scale: 'std', eps: 1e-3 },
];

describeEachDevice('groupAdvantages', (device) => {
  const rng = new Rng();
  const run = (r: Float32Array, o: Opts) => {
    const t = Tensor.from(r, [r.length], { device });
    const a = kernels.groupAdvantages(t, o);
    expect(a.device).toBe(device);
    expect(a.shape).toEqual([r.length]);
    const out = a.toArray();
    t.dispose();
    a.dispose();
    return out;
  };

  test.each([
    [2, 1],
    [2, 37],
    [3, 11],
    [4, 64],
    [8, 129],
    [16, 33],
    [33, 7],
    [64, 16],
    [1000, 3],
  ])('random rewards, groupSize %i, %i groups, every baseline/scale', (k, groups) => {
    const r = rng.normals(k * groups, rng.uniform(0.1, 3), rng.uniform(-2, 2));
    for (const c of COMBOS) {
      const o = { ...c, groupSize: k };
      expectClose(run(r, o), reference(r, o), F32, JSON.stringify(o));
    }
  });

  test('R1-Reward-like discrete rewards, constant groups give 0', () => {
    const k = 8;
    const values = [0, 0.5, 1.5, 2];
    const r = new Float32Array(k * 50);
    for (let i = 0; i < r.length; i++) r[i] = values[rng.int(0, 4)];
    r.fill(2, 0, k); // a group that is all right
    r.fill(0, k, 2 * k); // and one all wrong
    for (const c of COMBOS) {
      const o = { ...c, groupSize: k };
      const out = run(r, o);
      expectClose(out, reference(r, o), F32, JSON.stringify(o));
      expect(out.slice(0, 2 * k).every((x) => x === 0)).toBe(true);
    }
  });

  test('constant group with eps = 0 gives 0, not NaN', () => {
    const r = new Float32Array([3, 3, 3, 3, 1, 2, 3, 4]);
    const out = run(r, { groupSize: 4, eps: 0 });
    expect(Array.from(out.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expectClose(out, reference(r, { groupSize: 4, eps: 0 }), F32, 'eps 0');
  });

  test('matches PyTorch semantics on a small example (unbiased std)', () => {
    const r = new Float32Array([1, 2, 3, 4]);
    const out = run(r, { groupSize: 4 });
    const std = Math.sqrt(5 / 3); // torch.tensor([1., 2, 3, 4]).std()
    expectClose(
      out,
      [-1.5, -0.5, 0.5, 1.5].map((d) => d / (std + 1e-6)),
      F32,
      'grpo',
    );
    // RLOO: r - mean of the other three.
    expectClose(run(r, { groupSize: 4, baseline: 'leave-one-out', scale: 'none' }), [-2, -2 / 3, 2 / 3, 2], F32, 'rloo');
  });

  test('large common offset: advantages stay accurate', () => {
    const k = 16;
    const r = rng.normals(k * 200, 0.05, 1e4);
    for (const c of COMBOS) {
      const o = { ...c, groupSize: k };
      // Outputs are ~0.05 wide (scale none) or ~1 (std): float64 sums keep them to f32 accuracy.
      expectClose(run(r, o), reference(r, o), F32, JSON.stringify(o));
    }
  });

  test('NaN or Inf reward makes its group NaN and leaves the others alone', () => {
    const r = rng.normals(12);
    r[1] = NaN;
    r[9] = Infinity;
    const out = run(r, { groupSize: 4 });
    expect(out.slice(0, 4).every(Number.isNaN)).toBe(true);
    expect(out.slice(4, 8).every(Number.isFinite)).toBe(true);
    expect(out.slice(8, 12).every(Number.isNaN)).toBe(true);
    expectClose(out.slice(4, 8), reference(r.slice(4, 8), { groupSize: 4 }), F32, 'other group');
  });

  test('groupSize 1 with baseline mean and no scale gives zeros', () => {
    expect(run(rng.normals(9), { groupSize: 1, scale: 'none' }).every((x) => x === 0)).toBe(true);
  });

  test.each([
    [16, 1 << 16],
    [(1 << 20) + 7, 1],
  ])('large: groupSize %i x %i groups', (k, groups) => {
    const r = rng.normals(k * groups, 1, 0.3);
    for (const c of [COMBOS[0], COMBOS[1]]) {
      const o = { ...c, groupSize: k };
      expectClose(run(r, o), reference(r, o), F32, JSON.stringify(o));
    }
  });

  test('empty input', () => {
    expect(run(new Float32Array(0), { groupSize: 4 }).length).toBe(0);
  });

  test('async variant gives the same result', async () => {
    const r = rng.normals(8 * 100);
    const t = Tensor.from(r, [800], { device });
    const a = await kernels.groupAdvantagesAsync(t, { groupSize: 8, baseline: 'leave-one-out', scale: 'none' });
    expect(a.device).toBe(device);
    expectClose(a.toArray(), reference(r, { groupSize: 8, baseline: 'leave-one-out', scale: 'none' }), F32, 'async');
    t.dispose();
    a.dispose();
  });
});

describe('groupAdvantages input checks', () => {
  const r = new Float32Array([1, 2, 3, 4, 5, 6]);
  test('plain arrays are accepted', () => {
    const a = kernels.groupAdvantages(r, { groupSize: 3 });
    expectClose(a.toArray(), reference(r, { groupSize: 3 }), F32, 'plain');
    a.dispose();
  });
  test('groupSize must divide B', () => {
    expect(() => kernels.groupAdvantages(r, { groupSize: 4 })).toThrow(RangeError);
    expect(() => kernels.groupAdvantages(r, { groupSize: 4 })).toThrow(/groupSize \(4\) must divide the number of rewards \(6\)/);
    expect(() => kernels.groupAdvantages(r, { groupSize: 12 })).toThrow(/groupSize/);
  });
  test('bad groupSize', () => {
    expect(() => kernels.groupAdvantages(r, undefined as unknown as Opts)).toThrow(/groupSize/);
    expect(() => kernels.groupAdvantages(r, {} as Opts)).toThrow(/groupSize is required/);
    expect(() => kernels.groupAdvantages(r, { groupSize: 0 })).toThrow(RangeError);
    expect(() => kernels.groupAdvantages(r, { groupSize: 1.5 })).toThrow(/groupSize.*integer/);
    expect(() => kernels.groupAdvantages(r, { groupSize: '3' as unknown as number })).toThrow(TypeError);
    expect(() => kernels.groupAdvantages(r, { groupSize: 1 })).toThrow(/groupSize must be >= 2/);
    expect(() => kernels.groupAdvantages(r, { groupSize: 1, scale: 'none', baseline: 'leave-one-out' })).toThrow(/groupSize must be >= 2/);
  });
  test('bad options', () => {
    expect(() => kernels.groupAdvantages(r, { groupSize: 3, scale: 'mad' as 'std' })).toThrow(/scale/);
    expect(() => kernels.groupAdvantages(r, { groupSize: 3, baseline: 'median' as 'mean' })).toThrow(/baseline/);
    expect(() => kernels.groupAdvantages(r, { groupSize: 3, eps: -1 })).toThrow(/eps/);
    expect(() => kernels.groupAdvantages(r, { groupSize: 3, eps: NaN })).toThrow(RangeError);
  });
  test('wrong dtype, rank, disposed', () => {
    expect(() => kernels.groupAdvantages(Tensor.from(new Int32Array(6)), { groupSize: 3 })).toThrow(/rewards.*f32/);
    expect(() => kernels.groupAdvantages(Tensor.from(r, [2, 3]), { groupSize: 3 })).toThrow(/rewards must have shape/);
    const t = Tensor.from(r);
    t.dispose();
    expect(() => kernels.groupAdvantages(t, { groupSize: 3 })).toThrow(/rewards is a disposed Tensor/);
  });
  test('async errors reject instead of throwing', async () => {
    await expect(kernels.groupAdvantagesAsync(r, { groupSize: 5 })).rejects.toThrow(/groupSize/);
  });
  test('the native binding checks its arguments too', () => {
    const native = loadNative() as unknown as { groupAdvantages: (args: object) => unknown };
    const t = Tensor.from(r);
    const call = (over: object) => () => native.groupAdvantages({ rewards: t.handle, groupSize: 3, scale: 'std', baseline: 'mean', eps: 0, ...over });
    expect(call({})).not.toThrow();
    expectNativeError(call({ groupSize: 4 }), 'RangeError', /divide/);
    expectNativeError(call({ groupSize: 0 }), 'RangeError', /options\.groupSize must be a positive integer, got 0/);
    expectNativeError(call({ groupSize: 2.5 }), 'RangeError', /groupSize/);
    expectNativeError(call({ groupSize: 1e300 }), 'RangeError', /groupSize/);
    expectNativeError(call({ groupSize: 1 }), 'RangeError', />= 2/);
    expectNativeError(call({ scale: 'x' }), 'TypeError', /scale/);
    expectNativeError(call({ baseline: 'x' }), 'TypeError', /baseline/);
    expectNativeError(call({ eps: -1 }), 'RangeError', /eps/);
    t.dispose();
  });
});
