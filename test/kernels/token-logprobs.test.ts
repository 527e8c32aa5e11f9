import { Tensor, kernels } from '../../lib';
import type { Device } from '../../lib';
import { CUDA_USABLE, describeEachDevice } from '../helpers/backends';
import { Tolerance, expectClose } from '../helpers/compare';
import { expectNativeError, expectNativeRejection } from '../helpers/errors';
import { Rng } from '../helpers/random';

type LogitsDType = 'f32' | 'bf16';

/*
 * Tolerances. The references run in float64 on the exact logits the kernel read
 * (bf16 inputs are rounded first and read back), so bf16 inputs get the same
 * tolerance as f32: what remains is f32 accumulation over V terms and a few f32
 * roundings of values up to |lp| ~ 1e4 (hence the relative part).
 */
const LOGPROB_TOL: Tolerance = { rtol: 5e-6, atol: 1e-5 };
const ENTROPY_TOL: Tolerance = { rtol: 5e-6, atol: 1e-5 };
/** Gradients are computed in f32 (p_j = exp(log p_j): relative error ~ the abs. error of log p_j). */
const GRAD_TOL: Record<LogitsDType, Tolerance> = {
  f32: { rtol: 1e-4, atol: 1e-6 },
  // bf16 output: rounding to 8 significant bits adds up to 2^-8 relative on top of the f32 error (a bound).
  bf16: { rtol: 2 ** -8 + 2e-4, atol: 2e-6 },
};

/** float64 reference: per row log-softmax of logits / T, the token's entry, and the entropy. */
function refForward(l: ArrayLike<number>, tokens: ArrayLike<number>, n: number, v: number, T: number) {
  const lp = new Float64Array(n);
  const h = new Float64Array(n);
  const lse = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * v;
    let m = -Infinity;
    let bad = false;
    for (let j = 0; j < v; j++) {
      const x = l[o + j] / T;
      if (Number.isNaN(x) || x === Infinity) bad = true;
      if (x > m) m = x;
    }
    if (bad || m === -Infinity) {
      lp[i] = h[i] = lse[i] = NaN;
      continue;
    }
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(l[o + j] / T - m);
    lse[i] = m + Math.log(s);
    lp[i] = l[o + tokens[i]] / T - lse[i];
    let H = 0;
    for (let j = 0; j < v; j++) {
      const lpj = l[o + j] / T - lse[i];
      if (lpj > -Infinity) H -= Math.exp(lpj) * lpj;
    }
    h[i] = H;
  }
  return { lp, h, lse };
}

/** float64 analytic gradient of sum_i gLp_i lp_i + gH_i H_i w.r.t. the logits. */
function refBackward(
  l: ArrayLike<number>,
  tokens: ArrayLike<number>,
  glp: ArrayLike<number>,
  gh: ArrayLike<number> | undefined,
  n: number,
  v: number,
  T: number,
): Float64Array {
  const { h, lse } = refForward(l, tokens, n, v, T);
  const out = new Float64Array(n * v);
  for (let i = 0; i < n; i++) {
    const gH = gh ? gh[i] : 0;
    const bad = Number.isNaN(lse[i]) || !Number.isFinite(glp[i]) || !Number.isFinite(gH);
    for (let j = 0; j < v; j++) {
      if (bad) {
        out[i * v + j] = NaN;
        continue;
      }
      const lpj = l[i * v + j] / T - lse[i];
      const p = Math.exp(lpj);
      let g = p > 0 ? -p * (glp[i] + gH * (lpj + h[i])) : 0;
      if (j === tokens[i]) g += glp[i];
      out[i * v + j] = g / T;
    }
  }
  return out;
}

function randomTokens(rng: Rng, n: number, v: number): Int32Array {
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = rng.int(0, v);
  return t;
}

describeEachDevice('tokenLogprobs', (device: Device) => {
  const rng = new Rng();

  /** Runs the forward on `device`; returns the outputs and the logits as the kernel saw them. */
  const forward = (data: Float32Array, n: number, v: number, tokens: Int32Array, dtype: LogitsDType, opts: kernels.TokenLogprobsOptions = {}) => {
    const lg = Tensor.from(data, [n, v], { dtype, device });
    const tk = Tensor.from(tokens, [n], { device });
    const r = kernels.tokenLogprobs(lg, tk, opts);
    expect(r.logprobs.device).toBe(device);
    expect(r.logprobs.shape).toEqual([n]);
    expect(r.logprobs.dtype).toBe('f32');
    const out = {
      lp: r.logprobs.toArray(),
      h: r.entropy?.toArray(),
      nonFiniteRows: r.nonFiniteRows,
      seen: lg.toArray(),
    };
    for (const t of [lg, tk, r.logprobs, r.entropy]) t?.dispose();
    return out;
  };

  const backward = (
    data: Float32Array,
    n: number,
    v: number,
    tokens: Int32Array,
    glp: Float32Array,
    gh: Float32Array | undefined,
    dtype: LogitsDType,
    opts: Omit<kernels.TokenLogprobsBackwardOptions, 'gradEntropy'> = {},
  ) => {
    const lg = Tensor.from(data, [n, v], { dtype, device });
    const tk = Tensor.from(tokens, [n], { device });
    const g1 = Tensor.from(glp, [n], { device });
    const g2 = gh ? Tensor.from(gh, [n], { device }) : undefined;
    const grad = kernels.tokenLogprobsBackward(lg, tk, g1, { ...opts, gradEntropy: g2 });
    expect(grad.device).toBe(device);
    expect(grad.shape).toEqual([n, v]);
    expect(grad.dtype).toBe(dtype);
    const out = { grad: grad.toArray(), seen: lg.toArray() };
    for (const t of [lg, tk, g1, g2, grad]) t?.dispose();
    return out;
  };

  const cases: Array<[LogitsDType, number, number]> = [];
  for (const dtype of ['f32', 'bf16'] as const) for (const T of [0.5, 1, 2]) for (const v of [1, 7, 1000, 32003]) cases.push([dtype, T, v]);

  test.each(cases)('forward matches float64 log-softmax: %s, T = %f, V = %i', (dtype, T, v) => {
    const n = v >= 32003 ? 9 : v >= 1000 ? 40 : 67;
    const data = rng.normals(n * v, 3, rng.uniform(-5, 5));
    const tokens = randomTokens(rng, n, v);
    const r = forward(data, n, v, tokens, dtype, { temperature: T, entropy: true });
    const ref = refForward(r.seen, tokens, n, v, T);
    expectClose(r.lp, ref.lp, LOGPROB_TOL, 'logprobs');
    expectClose(r.h!, ref.h, ENTROPY_TOL, 'entropy');
    expect(r.nonFiniteRows).toBe(0);
    // Without entropy: the same log-probs, no entropy tensor.
    const r2 = forward(data, n, v, tokens, dtype, { temperature: T });
    expect(r2.h).toBeUndefined();
    expectClose(r2.lp, ref.lp, LOGPROB_TOL, 'logprobs (no entropy)');
  });

  test('V = 1: logprob 0 and entropy 0', () => {
    const r = forward(rng.normals(5, 100), 5, 1, new Int32Array(5), 'f32', { entropy: true });
    // A one-token distribution: exactly 0 on the CPU; the GPU's exp2 approximation may leave ~1 ulp.
    for (const x of [...r.lp, ...r.h!]) expect(Math.abs(x)).toBeLessThanOrEqual(1e-6);
  });

  test.each(['f32', 'bf16'] as const)('all-negative large logits (-1e4) are exact, %s', (dtype) => {
    const n = 12;
    const v = 3001;
    const data = rng.normals(n * v, 2, -1e4);
    const tokens = randomTokens(rng, n, v);
    const r = forward(data, n, v, tokens, dtype, { entropy: true });
    const ref = refForward(r.seen, tokens, n, v, 1);
    for (const x of r.lp) expect(Number.isFinite(x)).toBe(true);
    expectClose(r.lp, ref.lp, LOGPROB_TOL, 'logprobs');
    expectClose(r.h!, ref.h, ENTROPY_TOL, 'entropy');
  });

  test.each([0.5, 1, 3])('spreads of 1e4 (T = %f)', (T) => {
    const n = 16;
    const v = 1031;
    const data = rng.float32(n * v, -1e4, 1e4);
    const tokens = randomTokens(rng, n, v);
    // Some rows whose token is the maximum, some with two near-equal maxima.
    for (let i = 0; i < n; i += 3) {
      let best = 0;
      for (let j = 1; j < v; j++) if (data[i * v + j] > data[i * v + best]) best = j;
      tokens[i] = best;
      data[i * v + ((best + 1) % v)] = data[i * v + best] - 0.5;
    }
    const r = forward(data, n, v, tokens, 'f32', { temperature: T, entropy: true });
    const ref = refForward(r.seen, tokens, n, v, T);
    expectClose(r.lp, ref.lp, LOGPROB_TOL, 'logprobs');
    expectClose(r.h!, ref.h, ENTROPY_TOL, 'entropy');
  });

  test.each(['f32', 'bf16'] as const)('-inf logits (masked vocabulary) contribute 0; a masked target gives -inf, %s', (dtype) => {
    const n = 20;
    const v = 517;
    const data = rng.normals(n * v, 2);
    for (let i = 0; i < data.length; i++) if (rng.next() < 0.4) data[i] = -Infinity;
    // Row 0: one finite logit; row 1: only the first and last are finite.
    for (let j = 0; j < v; j++) {
      data[j] = j === 100 ? 1.5 : -Infinity;
      data[v + j] = j === 0 || j === v - 1 ? 0.25 * j : -Infinity;
    }
    const tokens = randomTokens(rng, n, v);
    tokens[0] = 100;
    tokens[2] = 3;
    data[2 * v + 3] = -Infinity;
    const r = forward(data, n, v, tokens, dtype, { entropy: true, temperature: 0.7 });
    const ref = refForward(r.seen, tokens, n, v, 0.7);
    expect(r.lp[2]).toBe(-Infinity);
    expect(Math.abs(r.lp[0])).toBeLessThanOrEqual(1e-6); // one finite logit: probability 1
    expect(Math.abs(r.h![0])).toBeLessThanOrEqual(1e-6);
    for (const x of r.h!) expect(Number.isFinite(x)).toBe(true);
    expectClose(r.lp, ref.lp, LOGPROB_TOL, 'logprobs');
    expectClose(r.h!, ref.h, ENTROPY_TOL, 'entropy');
  });

  test('rows with NaN, +inf or only -inf throw by default, or give NaN with nonFinite: "nan"', () => {
    const n = 6;
    const v = 97;
    const data = rng.normals(n * v, 1);
    data[1 * v + 50] = NaN;
    data[3 * v + 96] = Infinity;
    for (let j = 0; j < v; j++) data[4 * v + j] = -Infinity;
    const tokens = randomTokens(rng, n, v);
    expect(() => forward(data, n, v, tokens, 'f32', { entropy: true })).toThrow(RangeError);
    expect(() => forward(data, n, v, tokens, 'f32')).toThrow(/3 row\(s\) of logits.*first is row 1/);
    const r = forward(data, n, v, tokens, 'f32', { entropy: true, nonFinite: 'nan' });
    expect(r.nonFiniteRows).toBe(3);
    const ref = refForward(r.seen, tokens, n, v, 1);
    for (const i of [1, 3, 4]) {
      expect(Number.isNaN(ref.lp[i])).toBe(true); // the reference agrees these rows are undefined
      expect(Number.isNaN(r.lp[i]) && Number.isNaN(r.h![i])).toBe(true);
    }
    expectClose(r.lp, ref.lp, LOGPROB_TOL, 'logprobs');
    expectClose(r.h!, ref.h, ENTROPY_TOL, 'entropy');
  });

  test('N = 0', () => {
    const r = forward(new Float32Array(0), 0, 11, new Int32Array(0), 'f32', { entropy: true });
    expect(r.lp.length).toBe(0);
    expect(r.h!.length).toBe(0);
    const b = backward(new Float32Array(0), 0, 11, new Int32Array(0), new Float32Array(0), new Float32Array(0), 'bf16');
    expect(b.grad.length).toBe(0);
  });

  test.each([-1, 2 ** 31 - 1, 517])('a token out of range (%i) is a RangeError naming the row and value', (bad) => {
    const n = 5;
    const v = 517;
    const tokens = randomTokens(rng, n, v);
    tokens[3] = bad;
    tokens[4] = -7;
    const data = rng.normals(n * v);
    const re = new RegExp(`tokens\\[3\\] = ${bad} is out of range \\[0, 517\\)`);
    expectNativeError(() => forward(data, n, v, tokens, 'bf16'), 'RangeError', re);
    expectNativeError(() => forward(data, n, v, tokens, 'f32', { entropy: true }), 'RangeError', re);
    expectNativeError(() => backward(data, n, v, tokens, rng.normals(n), undefined, 'f32'), 'RangeError', re);
    expectNativeError(() => backward(data, n, v, tokens, rng.normals(n), rng.normals(n), 'bf16'), 'RangeError', re);
  });

  const gradCases: Array<[LogitsDType, number, number, boolean]> = [];
  for (const dtype of ['f32', 'bf16'] as const) {
    for (const [T, v] of [
      [1, 7],
      [0.5, 1000],
      [2, 32003],
      [1, 1],
    ]) {
      for (const withEntropy of [false, true]) gradCases.push([dtype, T, v, withEntropy]);
    }
  }

  test.each(gradCases)('backward matches the float64 gradient: %s, T = %f, V = %i, gradEntropy: %s', (dtype, T, v, withEntropy) => {
    const n = v >= 32003 ? 5 : v >= 1000 ? 24 : 41;
    const data = rng.normals(n * v, 3);
    if (v > 1) for (let i = 0; i < data.length; i += 11) data[i] = -Infinity; // masked entries too
    const tokens = randomTokens(rng, n, v);
    const glp = rng.normals(n);
    const gh = withEntropy ? rng.normals(n) : undefined;
    const r = backward(data, n, v, tokens, glp, gh, dtype, { temperature: T });
    const ref = refBackward(r.seen, tokens, glp, gh, n, v, T);
    expectClose(r.grad, ref, GRAD_TOL[dtype], 'grad');
    // The gradient of each row sums to 0 (softmax normalisation).
    for (let i = 0; i < n; i++) {
      let sum = 0;
      let scale = 0;
      for (let j = 0; j < v; j++) {
        sum += r.grad[i * v + j];
        scale += Math.abs(r.grad[i * v + j]);
      }
      expect(Math.abs(sum)).toBeLessThanOrEqual((dtype === 'bf16' ? 4e-3 : 1e-4) * scale + 1e-6);
    }
  });

  test('backward agrees with finite differences of the float64 forward (logprob and entropy terms)', () => {
    const n = 4;
    const v = 6;
    const T = 0.7;
    const data = rng.normals(n * v, 2);
    data[5] = -Infinity; // a masked logit: its gradient is 0
    const tokens = randomTokens(rng, n, v);
    if (tokens[0] === 5) tokens[0] = 4; // a masked target has logprob -inf: no finite difference there
    const glp = rng.normals(n);
    const gh = rng.normals(n);
    const r = backward(data, n, v, tokens, glp, gh, 'f32', { temperature: T });
    const x = Float64Array.from(r.seen);
    const loss = (l: Float64Array) => {
      const f = refForward(l, tokens, n, v, T);
      let s = 0;
      for (let i = 0; i < n; i++) s += glp[i] * f.lp[i] + gh[i] * f.h[i];
      return s;
    };
    const fd = new Float64Array(n * v);
    for (let k = 0; k < n * v; k++) {
      if (x[k] === -Infinity) continue;
      const eps = 1e-5;
      const save = x[k];
      x[k] = save + eps;
      const up = loss(x);
      x[k] = save - eps;
      const down = loss(x);
      x[k] = save;
      fd[k] = (up - down) / (2 * eps);
    }
    // The analytic reference is right (validates the formula), and the kernel matches both.
    expectClose(refBackward(x, tokens, glp, gh, n, v, T), fd, { rtol: 1e-6, atol: 1e-8 }, 'analytic vs finite differences');
    expectClose(r.grad, fd, { rtol: 1e-4, atol: 1e-6 }, 'kernel vs finite differences');
    expect(r.grad[5] === 0).toBe(true);
  });

  test('backward: entropy term alone, and a masked (-inf) target', () => {
    const n = 3;
    const v = 300;
    const data = rng.normals(n * v, 2);
    const tokens = randomTokens(rng, n, v);
    data[tokens[1] + v] = -Infinity;
    const glp = new Float32Array([0, 1.5, 0]);
    const gh = new Float32Array([1, 0.5, -2]);
    const r = backward(data, n, v, tokens, glp, gh, 'f32');
    const ref = refBackward(r.seen, tokens, glp, gh, n, v, 1);
    expectClose(r.grad, ref, GRAD_TOL.f32, 'grad');
    expect(r.grad[v + tokens[1]]).toBeCloseTo(1.5, 6); // gLp * (1 - p) with p = 0
    for (const g of r.grad) expect(Number.isFinite(g)).toBe(true);
  });

  test('backward: non-finite rows throw, or are NaN with nonFinite: "nan"', () => {
    const n = 5;
    const v = 33;
    const data = rng.normals(n * v);
    data[v + 3] = NaN;
    const tokens = randomTokens(rng, n, v);
    const glp = rng.normals(n);
    glp[3] = Infinity;
    expect(() => backward(data, n, v, tokens, glp, undefined, 'f32')).toThrow(/2 row\(s\) have a NaN gradient.*first is row 1/);
    const r = backward(data, n, v, tokens, glp, rng.normals(n), 'bf16', { nonFinite: 'nan' });
    for (let i = 0; i < n; i++) {
      const row = Array.from(r.grad.subarray(i * v, (i + 1) * v));
      expect(row.every((g) => Number.isNaN(g))).toBe(i === 1 || i === 3);
      if (i !== 1 && i !== 3) expect(row.every((g) => Number.isFinite(g))).toBe(true);
    }
  });

  test('async variants give the same results and reject on a bad token', async () => {
    const n = 37;
    const v = 1001;
    const data = rng.normals(n * v, 2);
    const tokens = randomTokens(rng, n, v);
    const glp = rng.normals(n);
    const gh = rng.normals(n);
    const lg = Tensor.from(data, [n, v], { dtype: 'bf16', device });
    const tk = Tensor.from(tokens, [n], { device });
    const seen = lg.toArray();
    const r = await kernels.tokenLogprobsAsync(lg, tk, { entropy: true, temperature: 1.3 });
    const ref = refForward(seen, tokens, n, v, 1.3);
    expectClose(r.logprobs.toArray(), ref.lp, LOGPROB_TOL, 'logprobs');
    expectClose(r.entropy!.toArray(), ref.h, ENTROPY_TOL, 'entropy');
    const ghT = Tensor.from(gh, [n], { device });
    const glpT = Tensor.from(glp, [n], { device });
    const grad = await kernels.tokenLogprobsBackwardAsync(lg, tk, glpT, { gradEntropy: ghT, temperature: 1.3 });
    expect(grad.dtype).toBe('bf16');
    expectClose(grad.toArray(), refBackward(seen, tokens, glp, gh, n, v, 1.3), GRAD_TOL.bf16, 'grad');
    const badTokens = Tensor.from(
      Int32Array.from(tokens, (t, i) => (i === 9 ? v : t)),
      [n],
      { device },
    );
    await expectNativeRejection(kernels.tokenLogprobsAsync(lg, badTokens), 'RangeError', /tokens\[9\] = 1001/);
    await expectNativeRejection(kernels.tokenLogprobsBackwardAsync(lg, badTokens, glpT), 'RangeError', /tokens\[9\] = 1001/);
    const nanRow = Tensor.from(
      Float32Array.from(data, (x, i) => (i === 5 ? NaN : x)),
      [n, v],
      { device },
    );
    await expect(kernels.tokenLogprobsAsync(nanRow, tk)).rejects.toThrow(/first is row 0/);
    for (const t of [lg, tk, r.logprobs, r.entropy!, ghT, glpT, grad, badTokens, nanRow]) t.dispose();
  });
});

describe('tokenLogprobs input checks', () => {
  const n = 3;
  const v = 4;
  const logits = () => Tensor.from(new Float32Array(n * v), [n, v]);
  const tokens = new Int32Array([0, 1, 3]);
  const glp = new Float32Array(n);

  test('logits must be a [N, V] f32 or bf16 Tensor', () => {
    expect(() => kernels.tokenLogprobs(new Float32Array(12) as unknown as Tensor, tokens)).toThrow(/logits must be a Tensor/);
    expect(() => kernels.tokenLogprobs(Tensor.from(new Int32Array(12), [3, 4]), tokens)).toThrow(TypeError);
    expect(() => kernels.tokenLogprobs(Tensor.from(new Int32Array(12), [3, 4]), tokens)).toThrow(/logits must have dtype f32 or bf16/);
    expect(() => kernels.tokenLogprobs(Tensor.from(new Float32Array(12)), tokens)).toThrow(/logits must have shape \[N, V\]/);
    expect(() => kernels.tokenLogprobs(Tensor.from(new Float32Array(12), [1, 3, 4]), tokens)).toThrow(RangeError);
    expect(() => kernels.tokenLogprobs(Tensor.from(new Float32Array(0), [3, 0]), tokens)).toThrow(/logits.*at least one column/);
    expect(() => kernels.tokenLogprobsBackward(Tensor.from(new Float32Array(0), [3, 0]), tokens, glp)).toThrow(RangeError);
  });

  test('tokens must be i32 with shape [N]', () => {
    expect(() => kernels.tokenLogprobs(logits(), Tensor.from(new Float32Array([0, 1, 2])))).toThrow(/tokens must have dtype i32/);
    expect(() => kernels.tokenLogprobs(logits(), new Int32Array([0, 1]))).toThrow(/tokens must have shape \[3\]/);
    expect(() => kernels.tokenLogprobs(logits(), Tensor.from(new Int32Array(6), [3, 2]))).toThrow(RangeError);
    expect(() => kernels.tokenLogprobs(logits(), 'abc' as unknown as Int32Array)).toThrow(/tokens must be a Tensor/);
    // A plain array is accepted (CPU).
    expect(kernels.tokenLogprobs(logits(), [0, 1, 3]).logprobs.toArray()[0]).toBeCloseTo(-Math.log(4), 6);
  });

  test('gradients must be f32 with shape [N]', () => {
    expect(() => kernels.tokenLogprobsBackward(logits(), tokens, new Float32Array(2))).toThrow(/gradLogprobs must have shape \[3\]/);
    expect(() => kernels.tokenLogprobsBackward(logits(), tokens, Tensor.from(glp, [3], { dtype: 'bf16' }))).toThrow(/gradLogprobs must have dtype f32/);
    expect(() => kernels.tokenLogprobsBackward(logits(), tokens, glp, { gradEntropy: new Float32Array(4) })).toThrow(
      /options.gradEntropy must have shape \[3\]/,
    );
    expect(() => kernels.tokenLogprobsBackward(logits(), tokens, glp, { gradEntropy: Tensor.from(new Int32Array(3)) })).toThrow(TypeError);
  });

  test('temperature must be finite and > 0', () => {
    for (const t of [0, -1, 1e-39]) {
      expect(() => kernels.tokenLogprobs(logits(), tokens, { temperature: t })).toThrow(RangeError);
      expect(() => kernels.tokenLogprobsBackward(logits(), tokens, glp, { temperature: t })).toThrow(/options.temperature/);
    }
    expect(() => kernels.tokenLogprobs(logits(), tokens, { temperature: NaN })).toThrow(/options.temperature must be finite/);
    expect(() => kernels.tokenLogprobs(logits(), tokens, { temperature: Infinity })).toThrow(RangeError);
    expect(() => kernels.tokenLogprobs(logits(), tokens, { temperature: '1' as unknown as number })).toThrow(TypeError);
  });

  test('other options', () => {
    expect(() => kernels.tokenLogprobs(logits(), tokens, { entropy: 'yes' as unknown as boolean })).toThrow(/options.entropy must be a boolean/);
    expect(() => kernels.tokenLogprobs(logits(), tokens, { nonFinite: 'skip' as never })).toThrow(/options.nonFinite must be one of/);
    expect(() => kernels.tokenLogprobsBackward(logits(), tokens, glp, { nonFinite: 'skip' as never })).toThrow(TypeError);
    expect(() => kernels.tokenLogprobs(logits(), tokens, 5 as never)).toThrow(/options must be an object/);
  });

  test('disposed tensors', () => {
    const lg = logits();
    lg.dispose();
    expect(() => kernels.tokenLogprobs(lg, tokens)).toThrow(/logits is a disposed Tensor/);
    const tk = Tensor.from(tokens);
    tk.dispose();
    expect(() => kernels.tokenLogprobs(logits(), tk)).toThrow(/tokens is a disposed Tensor/);
    const g = Tensor.from(glp);
    g.dispose();
    expect(() => kernels.tokenLogprobsBackward(logits(), tokens, g)).toThrow(/gradLogprobs is a disposed Tensor/);
  });

  test('async errors reject instead of throwing', async () => {
    await expect(kernels.tokenLogprobsAsync(logits(), new Int32Array(2))).rejects.toThrow(/tokens must have shape/);
    await expect(kernels.tokenLogprobsBackwardAsync(logits(), tokens, glp, { temperature: -1 })).rejects.toThrow(RangeError);
    await expectNativeRejection(kernels.tokenLogprobsAsync(logits(), new Int32Array([0, 4, 0])), 'RangeError', /tokens\[1\] = 4/);
  });

  (CUDA_USABLE ? test : test.skip)('inputs on different devices', () => {
    const lg = Tensor.from(new Float32Array(n * v), [n, v], { device: 'cuda' });
    expect(() => kernels.tokenLogprobs(lg, tokens)).toThrow(/tokens is on cpu but logits is on cuda/);
    const tk = Tensor.from(tokens, [n], { device: 'cuda' });
    expect(() => kernels.tokenLogprobsBackward(lg, tk, glp)).toThrow(/gradLogprobs is on cpu/);
    expect(() => kernels.tokenLogprobsBackward(lg, tk, Tensor.from(glp, [n], { device: 'cuda' }), { gradEntropy: glp })).toThrow(TypeError);
    lg.dispose();
    tk.dispose();
  });
});
