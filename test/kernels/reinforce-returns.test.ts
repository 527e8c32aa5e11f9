import { Tensor, kernels } from '../../lib';
import { loadNative } from '../../lib/native/loader';
import { describeEachDevice } from '../helpers/backends';
import { expectNativeError } from '../helpers/errors';
import { Tolerance, expectClose, expectScalarClose } from '../helpers/compare';
import { Rng } from '../helpers/random';

// f32 outputs of a float64 recurrence: f32 rounding of the result, plus an atol for
// returns that cancel to ~0 from terms of size ~1-10.
const RET: Tolerance = { rtol: 2e-5, atol: 1e-5 };

interface Opts {
  logpOld?: Float32Array;
  logpRef?: Float32Array;
  klCoef?: number;
  klEstimator?: 'k1' | 'k2' | 'k3';
  gamma?: number;
}

/** float64 reference, written straight from the definition. */
function reference(rewards: ArrayLike<number>, mask: ArrayLike<number>, T: number, o: Opts = {}): Float64Array {
  const B = rewards.length;
  const kl = o.klCoef ?? 0;
  const gamma = o.gamma ?? 1;
  const out = new Float64Array(B * T);
  for (let b = 0; b < B; b++) {
    let last = -1;
    for (let t = 0; t < T; t++) if (mask[b * T + t]) last = t;
    let g = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = b * T + t;
      let r = 0;
      if (mask[i]) {
        r = t === last ? rewards[b] : 0;
        if (kl > 0) {
          const x = o.logpOld![i] - o.logpRef![i];
          const k = o.klEstimator === 'k2' ? (x * x) / 2 : o.klEstimator === 'k3' ? Math.exp(-x) - 1 + x : x;
          r -= kl * k;
        }
      }
      g = r + gamma * g;
      out[i] = mask[i] ? g : 0;
    }
  }
  return out;
}

describeEachDevice('reinforceReturns', (device) => {
  const rng = new Rng();
  const run = (rewards: Float32Array, mask: Uint8Array, T: number, o: Opts = {}) => {
    const B = rewards.length;
    const owned: Tensor[] = [];
    const t = <A extends Float32Array | Uint8Array>(a: A | undefined, shape: number[]) => {
      if (!a) return undefined;
      const x = Tensor.from(a, shape, { device });
      owned.push(x);
      return x;
    };
    const r = kernels.reinforceReturns({
      rewards: t(rewards, [B])!,
      mask: t(mask, [B, T])!,
      logpOld: t(o.logpOld, [B, T]),
      logpRef: t(o.logpRef, [B, T]),
      klCoef: o.klCoef,
      klEstimator: o.klEstimator,
      gamma: o.gamma,
    });
    expect(r.device).toBe(device);
    expect(r.shape).toEqual([B, T]);
    const out = r.toArray();
    r.dispose();
    owned.forEach((x) => x.dispose());
    return out;
  };
  const randomCase = (B: number, T: number) => ({
    rewards: rng.normals(B, 1, 0.5),
    mask: rng.mask(B, T, 0.15),
    logpOld: rng.logprobs(B * T),
    logpRef: rng.logprobs(B * T),
  });

  test.each([
    [1, 1],
    [5, 31],
    [7, 33],
    [13, 100],
    [64, 1025],
    [3, 4097],
  ])('outcome reward only, random masks with holes and empty rows [%i, %i]', (B, T) => {
    const c = randomCase(B, T);
    for (const gamma of [1, 0.99, 0.5, 0]) {
      expectClose(run(c.rewards, c.mask, T, { gamma }), reference(c.rewards, c.mask, T, { gamma }), RET, `gamma ${gamma}`);
    }
  });

  test.each(['k1', 'k2', 'k3'] as const)('KL penalty with estimator %s', (klEstimator) => {
    for (const [B, T, gamma] of [
      [9, 257, 1],
      [33, 64, 0.95],
      [4, 5, 0.3],
    ]) {
      const c = randomCase(B, T);
      const o: Opts = { logpOld: c.logpOld, logpRef: c.logpRef, klCoef: 0.05, klEstimator, gamma };
      expectClose(run(c.rewards, c.mask, T, o), reference(c.rewards, c.mask, T, o), RET, `${klEstimator} [${B}, ${T}]`);
    }
  });

  test('a hand-worked row: holes pass the return on, masked tokens read 0', () => {
    // mask [1 1 0 1 0], R = 2, gamma = 0.5: last valid t = 3; G3 = 2, G2 (masked) = 1, G1 = 0.5, G0 = 0.25.
    const out = run(new Float32Array([2]), new Uint8Array([1, 1, 0, 1, 0]), 5, { gamma: 0.5 });
    expect(Array.from(out)).toEqual([0.25, 0.5, 0, 2, 0]);
  });

  test('fully masked row, single valid token, valid last position', () => {
    const T = 40;
    const mask = new Uint8Array(3 * T);
    mask[T + 17] = 1; // row 1: one token
    mask.fill(1, 2 * T, 3 * T); // row 2: all valid
    const rewards = new Float32Array([5, -1.5, 3]);
    const logpOld = rng.logprobs(3 * T);
    const logpRef = rng.logprobs(3 * T);
    const o: Opts = { logpOld, logpRef, klCoef: 0.1, klEstimator: 'k3', gamma: 0.9 };
    const out = run(rewards, mask, T, o);
    expectClose(out, reference(rewards, mask, T, o), RET, 'edge rows');
    expect(out.slice(0, T).every((x) => x === 0)).toBe(true);
    const x = logpOld[T + 17] - logpRef[T + 17];
    // Relative: logpOld - logpRef can be -20, and exp(20) ~ 5e8 has no 5 decimals in f32.
    expectScalarClose(out[T + 17], -1.5 - 0.1 * (Math.exp(-x) - 1 + x), RET, 'single valid token');
    expect(out.slice(T, T + 17).every((v) => v === 0)).toBe(true);
  });

  test('log-probs at masked positions are never read (NaN / -Inf there change nothing)', () => {
    const B = 6;
    const T = 70;
    const c = randomCase(B, T);
    for (let i = 0; i < B * T; i++) {
      if (!c.mask[i]) {
        c.logpOld[i] = NaN;
        c.logpRef[i] = -Infinity;
      }
    }
    const o: Opts = { logpOld: c.logpOld, logpRef: c.logpRef, klCoef: 0.2, klEstimator: 'k2', gamma: 1 };
    const out = run(c.rewards, c.mask, T, o);
    expect(out.every(Number.isFinite)).toBe(true);
    expectClose(out, reference(c.rewards, c.mask, T, o), RET, 'masked garbage');
  });

  test('klCoef = 0 ignores the log-probs, even NaN ones', () => {
    const c = randomCase(4, 50);
    c.logpOld.fill(NaN);
    const out = run(c.rewards, c.mask, 50, { logpOld: c.logpOld, logpRef: c.logpRef, klCoef: 0 });
    expectClose(out, reference(c.rewards, c.mask, 50), RET, 'kl 0');
  });

  test('NaN in a valid token propagates to its row only, at and before the token', () => {
    const T = 64;
    const rewards = new Float32Array([1, 2]);
    const mask = new Uint8Array(2 * T).fill(1);
    const logpOld = rng.logprobs(2 * T);
    const logpRef = rng.logprobs(2 * T);
    logpOld[40] = NaN;
    const o: Opts = { logpOld, logpRef, klCoef: 0.1 };
    const out = run(rewards, mask, T, o);
    expectClose(out, reference(rewards, mask, T, o), RET, 'nan');
    expect(Number.isNaN(out[0]) && Number.isNaN(out[40])).toBe(true);
    expect(out.slice(41, T).every(Number.isFinite)).toBe(true);
    expect(out.slice(T).every(Number.isFinite)).toBe(true);
  });

  test('k3 stays accurate for tiny log-ratios (no cancellation in exp(-x) - 1 + x)', () => {
    const B = 3;
    const T = 300;
    const logpRef = rng.logprobs(B * T);
    const logpOld = Float32Array.from(logpRef, (v, i) => v + (i % 2 ? 1 : -1) * 3e-4 * (1 + (i % 7)));
    const mask = new Uint8Array(B * T).fill(1);
    const rewards = new Float32Array(B);
    const o: Opts = { logpOld, logpRef, klCoef: 1, klEstimator: 'k3' };
    // Returns of size ~1e-5: only a relative tolerance means anything here.
    expectClose(run(rewards, mask, T, o), reference(rewards, mask, T, o), { rtol: 1e-5, atol: 0 }, 'k3 small');
  });

  test('large batch, [1024, 1024]', () => {
    const c = randomCase(1024, 1024);
    const o: Opts = { logpOld: c.logpOld, logpRef: c.logpRef, klCoef: 1e-3, klEstimator: 'k1', gamma: 1 };
    expectClose(run(c.rewards, c.mask, 1024, o), reference(c.rewards, c.mask, 1024, o), RET, 'large');
  });

  test('empty shapes', () => {
    expect(run(new Float32Array(0), new Uint8Array(0), 8).length).toBe(0);
    expect(run(new Float32Array(3), new Uint8Array(0), 0).length).toBe(0);
  });

  test('async variant gives the same result', async () => {
    const c = randomCase(20, 333);
    const rewards = Tensor.from(c.rewards, [20], { device });
    const mask = Tensor.from(c.mask, [20, 333], { device });
    const logpOld = Tensor.from(c.logpOld, [20, 333], { device });
    const logpRef = Tensor.from(c.logpRef, [20, 333], { device });
    const r = await kernels.reinforceReturnsAsync({ rewards, mask, logpOld, logpRef, klCoef: 0.01, klEstimator: 'k2' });
    expect(r.device).toBe(device);
    const o: Opts = { logpOld: c.logpOld, logpRef: c.logpRef, klCoef: 0.01, klEstimator: 'k2' };
    expectClose(r.toArray(), reference(c.rewards, c.mask, 333, o), RET, 'async');
    for (const t of [rewards, mask, logpOld, logpRef, r]) t.dispose();
  });

  if (device === 'cuda') {
    test('inputs on different devices are a TypeError naming them', () => {
      const rewards = Tensor.from(new Float32Array(2), [2], { device });
      const mask = Tensor.from(new Uint8Array(6), [2, 3], { device: 'cpu' });
      expect(() => kernels.reinforceReturns({ rewards, mask })).toThrow(TypeError);
      expect(() => kernels.reinforceReturns({ rewards, mask })).toThrow(/mask/);
      rewards.dispose();
      mask.dispose();
    });
  }
});

describe('reinforceReturns input checks', () => {
  const rewards = new Float32Array([1, 2]);
  const mask = new Uint8Array([1, 1, 0, 1, 1, 1]);
  const lp = new Float32Array(6);
  const call = (o: Partial<kernels.ReinforceReturnsInputs>) => kernels.reinforceReturns({ rewards, mask, ...o } as kernels.ReinforceReturnsInputs);
  test('plain arrays: the mask is read as [B, length / B]', () => {
    const r = call({});
    expect(r.shape).toEqual([2, 3]);
    expectClose(r.toArray(), reference(rewards, mask, 3), RET, 'plain');
    r.dispose();
  });
  test('missing or malformed inputs', () => {
    expect(() => kernels.reinforceReturns(undefined as unknown as kernels.ReinforceReturnsInputs)).toThrow(/inputs/);
    expect(() => call({ rewards: undefined })).toThrow(/rewards is required/);
    expect(() => call({ mask: undefined })).toThrow(/mask is required/);
    expect(() => call({ mask: new Uint8Array(5) })).toThrow(RangeError);
    expect(() => call({ mask: Tensor.from(mask) })).toThrow(/mask must have shape/);
    expect(() => call({ mask: Tensor.from(mask, [3, 2]) })).toThrow(/mask must have shape/);
    expect(() => call({ rewards: Tensor.from(rewards, [1, 2]) })).toThrow(/rewards must have shape/);
  });
  test('wrong dtypes', () => {
    expect(() => call({ rewards: Tensor.from(new Int32Array(2)) })).toThrow(/rewards.*f32/);
    expect(() => call({ mask: Tensor.from(new Float32Array(6), [2, 3]) })).toThrow(/mask.*u8/);
    expect(() => call({ klCoef: 1, logpOld: Tensor.from(new Int32Array(6), [2, 3]), logpRef: lp })).toThrow(TypeError);
  });
  test('log-prob shape mismatch', () => {
    expect(() => call({ klCoef: 1, logpOld: Tensor.from(lp, [3, 2]), logpRef: lp })).toThrow(/logpOld.*shape/);
    expect(() => call({ klCoef: 1, logpOld: lp, logpRef: new Float32Array(5) })).toThrow(/logpRef/);
  });
  test('klCoef > 0 without log-probs', () => {
    expect(() => call({ klCoef: 0.1, logpOld: lp })).toThrow(/logpRef is required when klCoef > 0/);
    expect(() => call({ klCoef: 0.1, logpRef: lp })).toThrow(/logpOld is required/);
  });
  test('bad options', () => {
    expect(() => call({ klCoef: -0.1 })).toThrow(RangeError);
    expect(() => call({ klCoef: NaN })).toThrow(/klCoef/);
    expect(() => call({ gamma: 1.01 })).toThrow(/gamma must be in \[0, 1\]/);
    expect(() => call({ gamma: -0.01 })).toThrow(RangeError);
    expect(() => call({ gamma: '1' as unknown as number })).toThrow(TypeError);
    expect(() => call({ klEstimator: 'k4' as 'k1' })).toThrow(/klEstimator/);
  });
  test('disposed tensors', () => {
    const t = Tensor.from(rewards);
    t.dispose();
    expect(() => call({ rewards: t })).toThrow(/rewards is a disposed Tensor/);
    const m = Tensor.from(mask, [2, 3]);
    m.dispose();
    expect(() => call({ mask: m })).toThrow(/mask is a disposed Tensor/);
  });
  test('async errors reject instead of throwing', async () => {
    await expect(kernels.reinforceReturnsAsync({ rewards, mask, gamma: 2 })).rejects.toThrow(/gamma/);
  });
  test('the native binding checks its arguments too', () => {
    const native = loadNative() as unknown as { reinforceReturns: (args: object) => unknown };
    const r = Tensor.from(rewards);
    const m = Tensor.from(mask, [2, 3]);
    const l = Tensor.from(lp, [2, 3]);
    const call = (over: object) => () => native.reinforceReturns({ rewards: r.handle, mask: m.handle, klCoef: 0, klEstimator: 'k1', gamma: 1, ...over });
    expect(call({})).not.toThrow();
    expectNativeError(call({ gamma: 1.5 }), 'RangeError', /inputs\.gamma must be in \[0, 1\], got 1\.5/);
    expectNativeError(call({ logpOld: l.handle, klCoef: 1 }), 'TypeError', /logpRef/);
    expectNativeError(call({ klCoef: -1 }), 'RangeError', /klCoef/);
    expectNativeError(call({ klEstimator: 'k5' }), 'TypeError', /klEstimator/);
    expectNativeError(call({ mask: r.handle }), 'TypeError', /mask/);
    expectNativeError(call({ rewards: m.handle }), 'TypeError', /rewards/);
    for (const t of [r, m, l]) t.dispose();
  });
});
