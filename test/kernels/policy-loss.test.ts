import { Tensor, kernels } from '../../lib';
import type { Device } from '../../lib';
import { loadNative } from '../../lib/native/loader';
import { CUDA_USABLE, describeEachDevice } from '../helpers/backends';
import { Rng, seedNote } from '../helpers/random';

type Aggregation = kernels.PolicyLossAggregation;
type Estimator = kernels.PolicyLossKlEstimator;

/** The kernel's scalar options (the tensors come from a Case). */
type Opts = Omit<kernels.PolicyLossInputs, 'logpNew' | 'logpOld' | 'advantages' | 'mask' | 'logpRef' | 'shape'>;

interface Case {
  B: number;
  T: number;
  ln: Float32Array;
  lo: Float32Array;
  adv: Float32Array; // [B, T] or [B]
  advPerRow: boolean;
  mask?: Uint8Array;
  ref?: Float32Array;
}

type RefStats = kernels.PolicyLossStats;

interface Reference {
  loss: number;
  /** Sum of w * |terms| of the loss: the scale f32 rounding errors are relative to. */
  lossMag: number;
  grad: Float64Array;
  gradMag: Float64Array;
  tokenLoss: Float64Array;
  stats: RefStats;
  approxKlMag: number;
  klMag: number;
}

/**
 * float64 reference of the contract. `exact` skips the f32 rounding of the differences the kernel makes
 * (used for finite differences, where the loss must be a smooth function of logpNew).
 */
function reference(c: Case, o: Opts, exact = false): Reference {
  const eps = o.clipEps ?? 0.2;
  const epsHigh = o.clipEpsHigh ?? eps;
  const logMin = Math.log(o.minRatio ?? 1e-3);
  const logMax = Math.log(o.maxRatio ?? 1e3);
  const lowR = 1 - eps;
  const highR = 1 + epsHigh;
  const dual = o.dualClip;
  const klCoef = o.klCoef ?? 0;
  const est = o.klEstimator ?? 'k1';
  const agg = o.aggregation ?? 'seq-mean-token-mean';
  const { B, T } = c;
  const N = B * T;
  const valid = (i: number) => (c.mask ? c.mask[i] !== 0 : true);
  const counts = new Array<number>(B).fill(0);
  for (let i = 0; i < N; i++) if (valid(i)) counts[Math.floor(i / T)]++;
  const ntok = counts.reduce((a, b) => a + b, 0);
  const nseq = counts.filter((n) => n > 0).length;
  const norm = o.normalizer ?? (agg === 'token-mean' ? ntok : nseq);
  const invNorm = norm > 0 ? 1 / norm : 0;
  const f = exact ? (x: number) => x : Math.fround;

  const grad = new Float64Array(N);
  const gradMag = new Float64Array(N);
  const tokenLoss = new Float64Array(N);
  let loss = 0;
  let lossMag = 0;
  let clipped = 0;
  let pre = 0;
  let ratioSum = 0;
  let ratioMax = 0;
  let akl = 0;
  let aklMag = 0;
  let kl = 0;
  let klMag = 0;
  let nonFinite = 0;
  for (let i = 0; i < N; i++) {
    if (!valid(i)) continue;
    const b = Math.floor(i / T);
    const A = c.advPerRow ? c.adv[b] : c.adv[i];
    const w = (agg === 'seq-mean-token-mean' ? 1 / counts[b] : 1) * invNorm;
    const d = f(c.ln[i] - c.lo[i]);
    const cc = Number.isNaN(d) ? NaN : Math.min(Math.max(d, logMin), logMax);
    const inside = d >= logMin && d <= logMax;
    const r = Math.exp(cc);
    const rc = Number.isNaN(r) ? NaN : Math.min(Math.max(r, lowR), highR);
    const m = Math.min(r * A, rc * A);
    const isClipped = (A > 0 && r > highR) || (A < 0 && r < lowR);
    const isDual = dual !== undefined && A < 0 && r > dual;
    let l = isDual ? -dual * A : -m;
    let g = inside && !isClipped && !isDual ? -A * r : 0;
    let lmag = Math.abs(isDual ? dual * A : r * A);
    let gmag = Math.abs(g);
    let k = 0;
    let kmag = 0;
    if (c.ref) {
      const x = f(c.ln[i] - c.ref[i]);
      let gk: number;
      if (est === 'k1') {
        k = x;
        gk = 1;
        kmag = Math.abs(x);
      } else if (est === 'k2') {
        k = (x * x) / 2;
        gk = x;
        kmag = k;
      } else {
        const xc = Number.isNaN(x) ? NaN : Math.min(Math.max(x, -10), 10);
        k = Math.exp(-xc) - 1 + xc;
        gk = x >= -10 && x <= 10 ? 1 - Math.exp(-xc) : 0;
        kmag = Math.exp(-xc) + 1 + Math.abs(xc);
      }
      if (klCoef > 0) {
        l += klCoef * k;
        g += klCoef * gk;
        lmag += klCoef * kmag;
        gmag += klCoef * (Math.abs(gk) + (est === 'k3' ? 1 : 0));
      }
    }
    if (Number.isNaN(l)) g = NaN;
    tokenLoss[i] = l;
    grad[i] = w * g;
    gradMag[i] = w * gmag;
    loss += w * l;
    lossMag += w * lmag;
    if (isClipped) clipped++;
    if (d < logMin || d > logMax) pre++;
    ratioSum += r;
    ratioMax = r > ratioMax ? r : ratioMax;
    akl += r - 1 - cc;
    aklMag += r + 1 + Math.abs(cc);
    kl += k;
    klMag += kmag;
    if (!Number.isFinite(l) || !Number.isFinite(grad[i])) nonFinite++;
  }
  const n = Math.max(ntok, 1);
  return {
    loss: ntok > 0 ? loss : 0,
    lossMag,
    grad,
    gradMag,
    tokenLoss,
    approxKlMag: aklMag / n,
    klMag: klMag / n,
    stats: {
      clipFraction: clipped / n,
      preClipFraction: pre / n,
      ratioMean: ratioSum / n,
      ratioMax: Number.isNaN(ratioSum) ? NaN : ratioMax,
      approxKl: akl / n,
      klMean: c.ref ? kl / n : 0,
      validTokens: ntok,
      validSequences: nseq,
      nonFinite,
    },
  };
}

// Tolerance (all inputs are f32). The kernel computes each token in f32 (exp within 2 ulp), sums short runs
// (<= 16 terms per SIMD lane on CPU, 4 on CUDA) in f32 and the rest in float64, so every result is within
// ~1e-6 of the sum of the magnitudes of the terms it is made of (the reference returns those magnitudes).
const RTOL_F32 = 2e-6;

function near(actual: number, expected: number, scale: number, rtol: number, what: string): void {
  if (Number.isNaN(expected) || Number.isNaN(actual)) {
    if (Number.isNaN(expected) !== Number.isNaN(actual)) throw new Error(`${what}: got ${actual}, expected ${expected} ${seedNote}`);
    return;
  }
  if (!Number.isFinite(expected)) {
    if (actual !== expected) throw new Error(`${what}: got ${actual}, expected ${expected} ${seedNote}`);
    return;
  }
  const tol = rtol * Math.abs(scale) + 1e-30;
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${what}: got ${actual}, expected ${expected} (|diff| ${Math.abs(actual - expected)} > ${tol}) ${seedNote}`);
  }
}

function expectMatches(out: Kout, ref: Reference, what: string): void {
  near(out.loss, ref.loss, ref.lossMag, RTOL_F32, `${what}: loss`);
  for (let i = 0; i < ref.grad.length; i++) near(out.grad[i], ref.grad[i], ref.gradMag[i], RTOL_F32, `${what}: grad[${i}]`);
  const s = out.stats;
  const e = ref.stats;
  expect({ validTokens: s.validTokens, validSequences: s.validSequences, nonFinite: s.nonFinite }).toEqual({
    validTokens: e.validTokens,
    validSequences: e.validSequences,
    nonFinite: e.nonFinite,
  });
  // Counts are exact: inputs are kept away from the bounds, where f32 and float64 could disagree.
  const n = Math.max(e.validTokens, 1);
  expect(Math.round(s.clipFraction * n)).toBe(Math.round(e.clipFraction * n));
  expect(Math.round(s.preClipFraction * n)).toBe(Math.round(e.preClipFraction * n));
  near(s.clipFraction, e.clipFraction, 1, 1e-12, `${what}: clipFraction`);
  near(s.preClipFraction, e.preClipFraction, 1, 1e-12, `${what}: preClipFraction`);
  near(s.ratioMean, e.ratioMean, e.ratioMean, RTOL_F32, `${what}: ratioMean`);
  near(s.ratioMax, e.ratioMax, e.ratioMax, RTOL_F32, `${what}: ratioMax`);
  near(s.approxKl, e.approxKl, ref.approxKlMag, RTOL_F32, `${what}: approxKl`);
  near(s.klMean, e.klMean, ref.klMag, RTOL_F32, `${what}: klMean`);
}

interface Kout {
  loss: number;
  grad: Float32Array;
  stats: kernels.PolicyLossStats;
}

function toTensors(c: Case, device: Device) {
  const shape = [c.B, c.T];
  return {
    logpNew: Tensor.from(c.ln, shape, { device }),
    logpOld: Tensor.from(c.lo, shape, { device }),
    advantages: Tensor.from(c.adv, c.advPerRow ? [c.B] : shape, { device }),
    mask: c.mask ? Tensor.from(c.mask, shape, { device }) : undefined,
    logpRef: c.ref ? Tensor.from(c.ref, shape, { device }) : undefined,
  };
}

function disposeInputs(t: ReturnType<typeof toTensors>): void {
  for (const x of Object.values(t)) if (x) x.dispose();
}

function runKernel(c: Case, o: Opts, device: Device): Kout {
  const t = toTensors(c, device);
  try {
    const r = kernels.policyLoss({ ...t, ...o });
    expect(r.grad.device).toBe(device);
    expect(r.grad.shape).toEqual([c.B, c.T]);
    expect(r.grad.dtype).toBe('f32');
    const grad = r.grad.toArray() as Float32Array;
    r.grad.dispose();
    return { loss: r.loss, grad, stats: r.stats };
  } finally {
    disposeInputs(t);
  }
}

/** Log-space kinks of d = logpNew - logpOld for these options. */
function kinksOf(o: Opts): number[] {
  const eps = o.clipEps ?? 0.2;
  const k = [Math.log(1 - eps), Math.log(1 + (o.clipEpsHigh ?? eps)), Math.log(o.minRatio ?? 1e-3), Math.log(o.maxRatio ?? 1e3)];
  if (o.dualClip !== undefined) k.push(Math.log(o.dualClip));
  return k;
}

/** Moves tokens at least `gap` away from every kink (of d and of x for k3), so f32 and float64 agree on branches. */
function keepOffKinks(c: Case, o: Opts, gap = 1e-4): void {
  const kd = kinksOf(o);
  for (let i = 0; i < c.ln.length; i++) {
    for (let guard = 0; guard < 20 && kd.some((k) => Math.abs(Math.fround(c.ln[i] - c.lo[i]) - k) < gap); guard++) {
      c.lo[i] = Math.fround(c.lo[i] - 3 * gap);
    }
    if (c.ref) {
      for (let guard = 0; guard < 20 && [-10, 10].some((k) => Math.abs(Math.fround(c.ln[i] - c.ref![i]) - k) < gap); guard++) {
        c.ref[i] = Math.fround(c.ref[i] - 3 * gap);
      }
    }
  }
}

function makeCase(rng: Rng, B: number, T: number, o: Opts, shape: { advPerRow?: boolean; mask?: boolean; ref?: boolean } = {}): Case {
  const N = B * T;
  const ln = rng.logprobs(N);
  const lo = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const u = rng.next();
    // Mostly near-on-policy log-ratios, some beyond the Pre-CLIP bounds, some huge (+-50 scale).
    const d = u < 0.04 ? (rng.next() < 0.5 ? 50 : -50) * rng.uniform(0.2, 1) : u < 0.12 ? rng.uniform(-9, 9) : rng.normal() * 0.3;
    lo[i] = ln[i] - d;
  }
  const advPerRow = shape.advPerRow ?? false;
  const adv = rng.normals(advPerRow ? B : N);
  const mask = shape.mask === false ? undefined : rng.mask(B, T);
  let ref: Float32Array | undefined;
  if (shape.ref) {
    ref = new Float32Array(N);
    for (let i = 0; i < N; i++) ref[i] = ln[i] - (rng.next() < 0.06 ? rng.uniform(-15, 15) : rng.normal() * 0.5);
  }
  const c: Case = { B, T, ln, lo, adv, advPerRow, mask, ref };
  keepOffKinks(c, o);
  return c;
}

describeEachDevice('policyLoss', (device) => {
  const rng = new Rng();

  test("the paper's example: Pre-CLIP bounds the runaway token", () => {
    const c: Case = {
      B: 1,
      T: 4,
      ln: new Float32Array([-0.1, -0.1, -0.1, -0.1]),
      lo: new Float32Array([-10, -0.2, -0.2, -5]),
      adv: new Float32Array([-1, -1, 0.5, -0.5]),
      advPerRow: false,
    };
    // Without Pre-CLIP the per-token losses would be [19930.4, 1.1, -0.5, 67.1] (the paper's numbers).
    const unclipped = [0, 1, 2, 3].map((i) => {
      const r = Math.exp(Math.fround(c.ln[i] - c.lo[i]));
      return -Math.min(r * c.adv[i], Math.min(Math.max(r, 0.8), 1.2) * c.adv[i]);
    });
    expect(unclipped[0]).toBeCloseTo(19930.4, 0);
    expect(unclipped[1]).toBeCloseTo(1.1, 1);
    expect(unclipped[3]).toBeCloseTo(67.1, 1);
    // With Pre-CLIP: one token at a time (mask), token-mean over it, so the loss is that token's loss.
    const perToken = [0, 1, 2, 3].map((i) => {
      const mask = new Uint8Array(4);
      mask[i] = 1;
      return runKernel({ ...c, mask }, { aggregation: 'token-mean' }, device).loss;
    });
    const ref = reference(c, {});
    for (let i = 0; i < 4; i++) near(perToken[i], ref.tokenLoss[i], Math.abs(ref.tokenLoss[i]), RTOL_F32, `token ${i}`);
    expect(perToken[0]).toBeCloseTo(1000, 2); // exp(ln 1e3) * 1 instead of 19930.4
    expect(perToken[1]).toBeCloseTo(Math.exp(0.1), 5);
    expect(perToken[2]).toBeCloseTo(-0.5 * Math.exp(0.1), 5);
    expect(perToken[3]).toBeCloseTo(0.5 * Math.exp(4.9), 3); // inside the bounds: unchanged (67.1)
    const out = runKernel(c, {}, device);
    expectMatches(out, ref, 'paper example');
    expect(out.grad[0]).toBe(0); // Pre-CLIP active: no gradient through the runaway token
    expect(out.grad[3]).toBeCloseTo((0.5 * Math.exp(4.9)) / 4, 3);
    expect(out.stats.preClipFraction).toBe(0.25);
    expect(out.stats.ratioMax).toBeCloseTo(1000, 2);
  });

  const aggregations: Aggregation[] = ['seq-mean-token-mean', 'token-mean', 'seq-mean-token-sum'];
  const estimators: Array<Estimator | 'none'> = ['none', 'k1', 'k2', 'k3'];
  const combos: Array<[Aggregation, Estimator | 'none', boolean, boolean]> = [];
  for (const a of aggregations) for (const k of estimators) for (const dual of [false, true]) for (const row of [false, true]) combos.push([a, k, dual, row]);

  test.each(combos)('random inputs vs float64: %s, KL %s, dual clip %s, advantages [B] %s', (agg, est, dual, advPerRow) => {
    const o: Opts = { aggregation: agg, dualClip: dual ? 1.5 + rng.next() * 2 : undefined };
    if (est !== 'none') {
      o.klEstimator = est;
      o.klCoef = rng.next() < 0.2 ? 0 : 0.01 + rng.next() * 0.2;
    }
    const B = 37;
    const T = 203;
    const c = makeCase(rng, B, T, o, { advPerRow, ref: est !== 'none' });
    expectMatches(runKernel(c, o, device), reference(c, o), `${agg}/${est}/${dual}/${advPerRow}`);
  });

  // Sizes around and past the chunk sizes of both backends, odd and multiple-of-4 row lengths
  // (CUDA's vector path), one long row, many short rows.
  test.each([
    [67, 1531],
    [96, 1024],
    [1, 70001],
    [5000, 3],
    [3, 65537],
    [130, 516],
  ])('sizes not a multiple of any chunk: B = %i, T = %i', (B, T) => {
    const o: Opts = { dualClip: 3, klCoef: 0.05, klEstimator: 'k3', clipEps: 0.2, clipEpsHigh: 0.28 };
    const c = makeCase(rng, B, T, o, { advPerRow: B % 2 === 0, ref: true });
    expectMatches(runKernel(c, o, device), reference(c, o), `B=${B} T=${T}`);
  });

  test('no mask is the same as an all-ones mask', () => {
    const o: Opts = { klCoef: 0.1, klEstimator: 'k2' };
    const c = makeCase(rng, 9, 77, o, { mask: false, ref: true });
    const out = runKernel(c, o, device);
    expectMatches(out, reference(c, o), 'no mask');
    const ones = runKernel({ ...c, mask: new Uint8Array(9 * 77).fill(1) }, o, device);
    expect(ones.loss).toBe(out.loss);
    expect(ones.grad).toEqual(out.grad);
    expect(out.stats.validTokens).toBe(9 * 77);
    expect(out.stats.validSequences).toBe(9);
  });

  test('mask values other than 0 and 1 count as valid', () => {
    const c = makeCase(rng, 4, 33, {});
    const m2 = c.mask!.map((v) => (v ? 7 : 0));
    const a = runKernel(c, {}, device);
    const b = runKernel({ ...c, mask: m2 }, {}, device);
    expect(b.loss).toBe(a.loss);
    expect(b.grad).toEqual(a.grad);
  });

  test('finite differences: the reference and the kernel gradient are the derivative of the loss', () => {
    const h = 1e-5;
    for (const o of [
      { aggregation: 'seq-mean-token-mean', dualClip: 2, klCoef: 0.3, klEstimator: 'k3' },
      { aggregation: 'token-mean', klCoef: 0.2, klEstimator: 'k2', clipEpsHigh: 0.3 },
      { aggregation: 'seq-mean-token-sum', klCoef: 0.1, klEstimator: 'k1', dualClip: 1.3 },
    ] as Opts[]) {
      const c = makeCase(rng, 3, 9, o, { ref: true });
      for (let i = 0; i < c.ln.length; i++) c.ln[i] = Math.fround(c.ln[i]);
      const analytic = reference(c, o, true);
      const kernel = runKernel(c, o, device);
      let checked = 0;
      for (let i = 0; i < c.ln.length; i++) {
        const at = (v: number) => {
          const ln = new Float64Array(c.ln);
          ln[i] = v;
          return reference({ ...c, ln: ln as unknown as Float32Array }, o, true).loss;
        };
        const up = at(c.ln[i] + h);
        const down = at(c.ln[i] - h);
        const fd = (up - down) / (2 * h);
        // Central differences lose about 1e-16 * |loss| / h to cancellation.
        const scale = analytic.gradMag[i] + 1e-5 * analytic.lossMag;
        // A clip boundary within h of the point (a kink: the two one-sided slopes differ) has no derivative to check.
        const base = at(c.ln[i]);
        if (Math.abs((up - base) / h - (base - down) / h) > 1e-3 * scale + 1e-9) continue;
        near(analytic.grad[i], fd, scale, 1e-6, `reference grad[${i}] vs finite difference`);
        near(kernel.grad[i], fd, scale, 1e-5, `kernel grad[${i}] vs finite difference`);
        if (fd !== 0) checked++;
      }
      expect(checked).toBeGreaterThan(0);
    }
  });

  test('fully masked rows, single token, everything masked', () => {
    const o: Opts = { klCoef: 0.1, klEstimator: 'k3' };
    const c = makeCase(rng, 6, 50, o, { ref: true });
    c.mask!.fill(0, 0, 50); // row 0
    c.mask!.fill(0, 150, 200); // row 3
    c.mask![100] = 1;
    const out = runKernel(c, o, device);
    expectMatches(out, reference(c, o), 'masked rows');
    expect(Array.from(out.grad.subarray(0, 50)).every((g) => g === 0)).toBe(true);

    // A single valid token: seq-mean-token-mean gives that token's loss.
    const one = new Uint8Array(300);
    one[123] = 1;
    const single = runKernel({ ...c, mask: one }, o, device);
    const r1 = reference({ ...c, mask: one }, o);
    expectMatches(single, r1, 'single token');
    near(single.loss, r1.tokenLoss[123], r1.lossMag, RTOL_F32, 'single token loss');
    expect(single.stats.validSequences).toBe(1);

    const none = runKernel({ ...c, mask: new Uint8Array(300) }, o, device);
    expect(none.loss).toBe(0);
    expect(Array.from(none.grad).every((g) => g === 0)).toBe(true);
    expect(none.stats).toEqual({
      clipFraction: 0,
      preClipFraction: 0,
      ratioMean: 0,
      ratioMax: 0,
      approxKl: 0,
      klMean: 0,
      validTokens: 0,
      validSequences: 0,
      nonFinite: 0,
    });
  });

  test('empty input', () => {
    const c: Case = { B: 0, T: 5, ln: new Float32Array(0), lo: new Float32Array(0), adv: new Float32Array(0), advPerRow: false };
    const out = runKernel(c, {}, device);
    expect(out.loss).toBe(0);
    expect(out.grad.length).toBe(0);
    expect(out.stats.validTokens).toBe(0);
  });

  test('log-ratios of +-50 are pre-clipped: finite loss, no gradient through them', () => {
    const ln = new Float32Array([-1, -60, -1, -1, -0.5, -2]);
    const lo = new Float32Array([-51, -10, -1.1, -51, -50.5, -2.05]);
    const adv = new Float32Array([-1, 1, 1, 2, -3, 1]);
    const c: Case = { B: 2, T: 3, ln, lo, adv, advPerRow: false };
    const out = runKernel(c, {}, device);
    const ref = reference(c, {});
    expectMatches(out, ref, '+-50');
    expect(Number.isFinite(out.loss)).toBe(true);
    for (const i of [0, 1, 3, 4]) expect(out.grad[i]).toBe(0);
    expect(out.stats.preClipFraction).toBeCloseTo(4 / 6, 12);
    expect(out.stats.nonFinite).toBe(0);
  });

  test('exact bounds follow torch.clamp: the gradient passes', () => {
    // d = 0 exactly: r = 1 sits on both PPO bounds (clipEps 0) and on the Pre-CLIP lower bound (minRatio 1).
    const ln = new Float32Array([-1, -2, -3, -1]);
    const lo = new Float32Array([-1, -2, -3, -1.5]);
    const adv = new Float32Array([2, -1, 0.5, 1]);
    const c: Case = { B: 1, T: 4, ln, lo, adv, advPerRow: false };
    const out = runKernel(c, { clipEps: 0, minRatio: 1, maxRatio: 2, aggregation: 'token-mean' }, device);
    for (let i = 0; i < 3; i++) expect(out.grad[i]).toBeCloseTo(-adv[i] / 4, 7);
    expect(out.grad[3]).toBe(0); // r = e^0.5 > 1 = 1 + clipEpsHigh with A > 0: clipped
    expect(out.stats.preClipFraction).toBe(0);
    expect(out.stats.clipFraction).toBe(0.25);
    // k3 at x = +-10 exactly passes its gradient 1 - exp(-x); beyond, x is clamped and the gradient is 0.
    const kc: Case = {
      B: 1,
      T: 4,
      ln: new Float32Array([0, 0, 0, 0]),
      lo: new Float32Array([0, 0, 0, 0]),
      adv: new Float32Array([0, 0, 0, 0]),
      advPerRow: false,
      ref: new Float32Array([-10, 10, -10.5, 11]),
    };
    const k = runKernel(kc, { klCoef: 1, klEstimator: 'k3', aggregation: 'seq-mean-token-sum' }, device);
    expect(k.grad[0]).toBeCloseTo(1 - Math.exp(-10), 6);
    expect(k.grad[1]).toBeCloseTo(1 - Math.exp(10), -1);
    expect(k.grad[2]).toBe(0);
    expect(k.grad[3]).toBe(0);
    near(k.loss, reference(kc, { klCoef: 1, klEstimator: 'k3', aggregation: 'seq-mean-token-sum' }).loss, 4 * Math.exp(10), RTOL_F32, 'k3 loss');
  });

  test('NaN/Inf in masked positions are ignored entirely', () => {
    const o: Opts = { klCoef: 0.1, klEstimator: 'k3', dualClip: 2 };
    const c = makeCase(rng, 8, 41, o, { ref: true });
    const clean = runKernel(c, o, device);
    const dirty: Case = { ...c, ln: c.ln.slice(), lo: c.lo.slice(), adv: c.adv.slice(), ref: c.ref!.slice() };
    const bad = [NaN, Infinity, -Infinity];
    let k = 0;
    for (let i = 0; i < c.ln.length; i++) {
      if (c.mask![i]) continue;
      dirty.ln[i] = bad[k++ % 3];
      dirty.lo[i] = bad[k++ % 3];
      dirty.adv[i] = bad[k++ % 3];
      dirty.ref![i] = bad[k++ % 3];
    }
    expect(k).toBeGreaterThan(0);
    const out = runKernel(dirty, o, device);
    expect(out.loss).toBe(clean.loss);
    expect(out.grad).toEqual(clean.grad);
    expect(out.stats).toEqual(clean.stats);
    expect(out.stats.nonFinite).toBe(0);
  });

  test('NaN/Inf in valid positions: loss not finite and counted, never silent', () => {
    const o: Opts = { aggregation: 'seq-mean-token-mean' };
    const c = makeCase(rng, 4, 30, o, { mask: false });
    const nanAt = [5, 70];
    const dirty: Case = { ...c, ln: c.ln.slice(), adv: c.adv.slice() };
    dirty.ln[nanAt[0]] = NaN;
    dirty.adv[nanAt[1]] = NaN;
    const out = runKernel(dirty, o, device);
    const ref = reference(dirty, o);
    expect(Number.isNaN(out.loss)).toBe(true);
    expect(out.stats.nonFinite).toBe(2);
    expect(ref.stats.nonFinite).toBe(2);
    for (const i of nanAt) expect(Number.isNaN(out.grad[i])).toBe(true);
    for (let i = 0; i < out.grad.length; i++) {
      if (!nanAt.includes(i)) near(out.grad[i], ref.grad[i], ref.gradMag[i], RTOL_F32, `grad[${i}]`);
    }
    expect(Number.isNaN(out.stats.ratioMean)).toBe(true); // logpNew NaN: its ratio is NaN
    expect(Number.isNaN(out.stats.ratioMax)).toBe(true);

    // An infinite advantage: infinite loss term, counted.
    const inf: Case = { ...c, adv: c.adv.slice() };
    inf.adv[3] = Infinity;
    const oi = runKernel(inf, o, device);
    expect(Number.isFinite(oi.loss)).toBe(false);
    expect(oi.stats.nonFinite).toBe(1);

    // Infinite log-probs give an infinite log-ratio, which Pre-CLIP bounds: finite, nothing counted.
    const il: Case = { ...c, ln: c.ln.slice() };
    il.ln[7] = -Infinity;
    const ol = runKernel(il, o, device);
    expectMatches(ol, reference(il, o), '-inf logpNew');
    expect(ol.stats.nonFinite).toBe(0);
    expect(ol.grad[7]).toBe(0);
  });

  test.each(aggregations)('normalizer: two micro-batches with a shared normalizer add up to the batch (%s)', (agg) => {
    const o: Opts = { aggregation: agg, klCoef: 0.05, klEstimator: 'k1' };
    const B = 10;
    const T = 57;
    const c = makeCase(rng, B, T, o, { ref: true, advPerRow: true });
    const full = runKernel(c, o, device);
    const normalizer = agg === 'token-mean' ? full.stats.validTokens : full.stats.validSequences;
    const split = 4;
    const part = (b0: number, b1: number): Case => ({
      B: b1 - b0,
      T,
      ln: c.ln.slice(b0 * T, b1 * T),
      lo: c.lo.slice(b0 * T, b1 * T),
      adv: c.adv.slice(b0, b1),
      advPerRow: true,
      mask: c.mask!.slice(b0 * T, b1 * T),
      ref: c.ref!.slice(b0 * T, b1 * T),
    });
    const p1 = runKernel(part(0, split), { ...o, normalizer }, device);
    const p2 = runKernel(part(split, B), { ...o, normalizer }, device);
    const ref = reference(c, o);
    near(p1.loss + p2.loss, full.loss, ref.lossMag, 1e-9, 'sum of micro-batch losses');
    // The weights do not depend on the split, so the gradients are the same numbers.
    expect(Array.from(p1.grad).concat(Array.from(p2.grad))).toEqual(Array.from(full.grad));
    // A normalizer that differs from the count scales everything.
    const scaled = runKernel(c, { ...o, normalizer: normalizer * 4 }, device);
    near(scaled.loss * 4, full.loss, ref.lossMag, RTOL_F32, 'scaled loss');
    expect(scaled.stats.validTokens).toBe(full.stats.validTokens);
  });

  test('deterministic: the same call gives the same bits', () => {
    const o: Opts = { klCoef: 0.1, klEstimator: 'k3' };
    const c = makeCase(rng, 50, 2049, o, { ref: true });
    const a = runKernel(c, o, device);
    const b = runKernel(c, o, device);
    expect(b.loss).toBe(a.loss);
    expect(b.grad).toEqual(a.grad);
    expect(b.stats).toEqual(a.stats);
  });

  test('async variant gives the same result', async () => {
    const o: Opts = { dualClip: 2.5, klCoef: 0.1, klEstimator: 'k2', aggregation: 'token-mean' };
    const c = makeCase(rng, 21, 333, o, { ref: true });
    const t = toTensors(c, device);
    const r = await kernels.policyLossAsync({ ...t, ...o });
    disposeInputs(t);
    const out: Kout = { loss: r.loss, grad: r.grad.toArray() as Float32Array, stats: r.stats };
    r.grad.dispose();
    expectMatches(out, reference(c, o), 'async');
    const sync = runKernel(c, o, device);
    expect(out.loss).toBe(sync.loss);
    expect(out.grad).toEqual(sync.grad);
  });

  test('N above 2^24 (identical rows, so the reference is one row)', () => {
    const T = 4099;
    const B = Math.ceil(2 ** 24 / T) + 1; // N = 16,797,702 > 2^24, not a multiple of 4
    const o: Opts = { aggregation: 'seq-mean-token-mean', clipEps: 0.2 };
    const row = makeCase(rng, 1, T, o, { mask: false });
    const ln = new Float32Array(B * T);
    const lo = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      ln.set(row.ln, b * T);
      lo.set(row.lo, b * T);
    }
    const adv = new Float32Array(B).fill(row.adv[0]);
    const advRow = new Float32Array(T).fill(row.adv[0]);
    const ref = reference({ ...row, adv: advRow }, o);
    const out = runKernel({ B, T, ln, lo, adv, advPerRow: true }, o, device);
    near(out.loss, ref.loss, ref.lossMag, RTOL_F32, 'loss');
    expect(out.stats.validTokens).toBe(B * T);
    expect(out.stats.validSequences).toBe(B);
    near(out.stats.ratioMean, ref.stats.ratioMean, ref.stats.ratioMean, RTOL_F32, 'ratioMean');
    expect(Math.round(out.stats.clipFraction * T)).toBe(Math.round(ref.stats.clipFraction * T));
    for (const b of [0, 1, Math.floor(B / 2), B - 2, B - 1]) {
      for (let t = 0; t < T; t++) {
        near(out.grad[b * T + t], ref.grad[t] / B, ref.gradMag[t] / B, RTOL_F32, `grad[${b}, ${t}]`);
      }
    }
    // Every row carries the same gradient.
    for (let i = 0; i < B * T; i += 7919) expect(out.grad[i]).toBe(out.grad[i % T]);
  });
});

describe('policyLoss with typed arrays (CPU)', () => {
  const rng = new Rng();
  test('typed arrays with shape give the same result as tensors; advantages of length B broadcast', () => {
    const o: Opts = { klCoef: 0.1, klEstimator: 'k3' };
    const c = makeCase(rng, 5, 19, o, { ref: true, advPerRow: true });
    const r = kernels.policyLoss({ logpNew: c.ln, logpOld: c.lo, advantages: c.adv, mask: c.mask, logpRef: c.ref, shape: [5, 19], ...o });
    expect(r.grad.shape).toEqual([5, 19]);
    expect(r.grad.device).toBe('cpu');
    const t = runKernel(c, o, 'cpu');
    expect(r.loss).toBe(t.loss);
    expect(r.grad.toArray()).toEqual(t.grad);
    r.grad.dispose();
  });
  test('without shape, typed arrays are one sequence', () => {
    const c = makeCase(rng, 1, 40, {});
    const r = kernels.policyLoss({ logpNew: c.ln, logpOld: c.lo, advantages: Array.from(c.adv), mask: Array.from(c.mask!) });
    expect(r.grad.shape).toEqual([40]);
    near(r.loss, reference(c, {}).loss, reference(c, {}).lossMag, RTOL_F32, 'loss');
    expect(r.stats.validSequences).toBe(c.mask!.some((v) => v) ? 1 : 0);
    r.grad.dispose();
  });
});

describe('policyLoss input checks', () => {
  const ln = Tensor.from(new Float32Array([-1, -2, -3, -4, -5, -6]), [2, 3]);
  const lo = Tensor.from(new Float32Array([-1, -2, -3, -4, -5, -6]), [2, 3]);
  const adv = Tensor.from(new Float32Array([1, -1]), [2]);
  const base = { logpNew: ln, logpOld: lo, advantages: adv };
  afterAll(() => {
    for (const t of [ln, lo, adv]) t.dispose();
  });

  test('not an object, missing or non-tensor inputs', () => {
    expect(() => kernels.policyLoss(undefined as unknown as kernels.PolicyLossInputs)).toThrow(TypeError);
    expect(() => kernels.policyLoss({ logpOld: lo, advantages: adv } as unknown as kernels.PolicyLossInputs)).toThrow(/logpNew/);
    expect(() => kernels.policyLoss({ ...base, logpOld: {} as unknown as Float32Array })).toThrow(/logpOld must be a Tensor/);
  });
  test('wrong shapes name the argument', () => {
    const wrong = Tensor.from(new Float32Array(4), [2, 2]);
    expect(() => kernels.policyLoss({ ...base, logpOld: wrong })).toThrow(RangeError);
    expect(() => kernels.policyLoss({ ...base, logpOld: wrong })).toThrow(/logpOld.*shape/);
    expect(() => kernels.policyLoss({ ...base, advantages: wrong })).toThrow(/advantages.*shape/);
    expect(() => kernels.policyLoss({ ...base, advantages: Tensor.from(new Float32Array(3)) })).toThrow(/advantages/);
    expect(() => kernels.policyLoss({ ...base, logpRef: wrong })).toThrow(/logpRef.*shape/);
    expect(() => kernels.policyLoss({ ...base, mask: Tensor.from(new Uint8Array(4), [2, 2]) })).toThrow(/mask.*shape/);
    const r3 = Tensor.from(new Float32Array(6), [1, 2, 3]);
    expect(() => kernels.policyLoss({ logpNew: r3, logpOld: r3, advantages: r3 })).toThrow(/logpNew must have shape/);
    expect(() => kernels.policyLoss({ ...base, logpOld: new Float32Array(5) })).toThrow(/logpOld has 5 elements/);
    expect(() => kernels.policyLoss({ ...base, shape: [3, 2] })).toThrow(/logpNew must have shape \[3, 2\]/);
    expect(() => kernels.policyLoss({ logpNew: new Float32Array(6), logpOld: new Float32Array(6), advantages: new Float32Array(6), shape: [4, 2] })).toThrow(
      /logpNew has 6 elements/,
    );
    expect(() => kernels.policyLoss({ ...base, shape: [6] })).toThrow(/shape must be \[B, T\]/);
    expect(() => kernels.policyLoss({ ...base, shape: [2, 'x'] as unknown as number[] })).toThrow(/shape\[1\]/);
    for (const t of [wrong, r3]) t.dispose();
  });
  test('wrong dtypes', () => {
    const i32 = Tensor.from(new Int32Array(6), [2, 3]);
    const f32 = Tensor.from(new Float32Array(6), [2, 3]);
    expect(() => kernels.policyLoss({ ...base, logpNew: i32 })).toThrow(TypeError);
    expect(() => kernels.policyLoss({ ...base, logpNew: i32 })).toThrow(/logpNew.*f32/);
    expect(() => kernels.policyLoss({ ...base, logpOld: i32 })).toThrow(/logpOld.*f32/);
    expect(() => kernels.policyLoss({ ...base, advantages: i32 })).toThrow(/advantages.*f32/);
    expect(() => kernels.policyLoss({ ...base, mask: f32 })).toThrow(/mask.*u8/);
    expect(() => kernels.policyLoss({ ...base, logpRef: i32 })).toThrow(/logpRef.*f32/);
    expect(() => kernels.policyLoss({ ...base, mask: [0, 1, 2, 3, 4, 256] })).toThrow(/256 is not a u8/);
    for (const t of [i32, f32]) t.dispose();
  });
  test('disposed tensors', () => {
    const t = Tensor.from(new Float32Array(6), [2, 3]);
    t.dispose();
    expect(() => kernels.policyLoss({ ...base, logpOld: t })).toThrow(/logpOld is a disposed Tensor/);
    expect(() => kernels.policyLoss({ ...base, logpNew: t })).toThrow(/logpNew is a disposed Tensor/);
    expect(() => kernels.policyLoss({ ...base, logpRef: t })).toThrow(/logpRef is a disposed Tensor/);
  });
  test('bad options', () => {
    const bad: Array<[Partial<kernels.PolicyLossInputs>, RegExp, typeof TypeError | typeof RangeError]> = [
      [{ clipEps: -0.1 }, /clipEps/, RangeError],
      [{ clipEps: 1.5 }, /clipEps/, RangeError],
      [{ clipEps: NaN }, /clipEps must be finite/, RangeError],
      [{ clipEps: '0.2' as unknown as number }, /clipEps must be a number/, TypeError],
      [{ clipEpsHigh: -1 }, /clipEpsHigh/, RangeError],
      [{ minRatio: 0 }, /minRatio/, RangeError],
      [{ minRatio: 2, maxRatio: 1 }, /minRatio/, RangeError],
      [{ maxRatio: Infinity }, /maxRatio must be finite/, RangeError],
      [{ maxRatio: 1e40 }, /maxRatio/, RangeError],
      [{ dualClip: 1 }, /dualClip must be > 1/, RangeError],
      [{ dualClip: NaN }, /dualClip/, RangeError],
      [{ klCoef: -1 }, /klCoef/, RangeError],
      [{ klCoef: 0.1 }, /logpRef is required/, TypeError],
      [{ klEstimator: 'k4' as Estimator }, /klEstimator/, TypeError],
      [{ aggregation: 'mean' as Aggregation }, /aggregation/, TypeError],
      [{ normalizer: 0 }, /normalizer must be > 0/, RangeError],
      [{ normalizer: -3 }, /normalizer/, RangeError],
      [{ normalizer: NaN }, /normalizer must be finite/, RangeError],
      [{ normalizer: Infinity }, /normalizer must be finite/, RangeError],
    ];
    for (const [opts, msg, cls] of bad) {
      expect(() => kernels.policyLoss({ ...base, ...opts })).toThrow(cls);
      expect(() => kernels.policyLoss({ ...base, ...opts })).toThrow(msg);
    }
  });
  test('the native layer checks too (no crash on bad input that bypasses TypeScript)', () => {
    const native = loadNative() as unknown as { policyLoss: (args: object) => unknown };
    const m = Tensor.from(new Float32Array(6), [2, 3]);
    const m3 = Tensor.from(new Float32Array(3), [3]);
    const args = {
      logpNew: ln.handle,
      logpOld: lo.handle,
      advantages: adv.handle,
      clipEps: 0.2,
      clipEpsHigh: 0.2,
      minRatio: 1e-3,
      maxRatio: 1e3,
      klCoef: 0,
      klEstimator: 'k1',
      aggregation: 'token-mean',
    };
    const call = (over: object) => () => native.policyLoss({ ...args, ...over });
    expect(call({})).not.toThrow();
    expect(call({ mask: m.handle })).toThrow(/mask must have dtype u8/);
    expect(call({ advantages: m3.handle })).toThrow(/advantages must have shape/);
    expect(call({ logpOld: m3.handle })).toThrow(/logpOld must have shape/);
    expect(call({ logpNew: 5 })).toThrow(/logpNew must be a Tensor/);
    expect(call({ clipEps: NaN })).toThrow(/clipEps must be finite/);
    expect(call({ maxRatio: 1e-4 })).toThrow(/minRatio/);
    expect(call({ dualClip: 0.5 })).toThrow(/dualClip/);
    expect(call({ klCoef: 1 })).toThrow(/logpRef is required/);
    expect(call({ klEstimator: 'k9' })).toThrow(/klEstimator/);
    expect(call({ aggregation: 'x' })).toThrow(/aggregation/);
    expect(call({ normalizer: -1 })).toThrow(/normalizer/);
    expect(call({ async: 'yes' })).toThrow(/async must be a boolean/);
    m.dispose();
    m3.dispose();
  });
  test('async errors reject instead of throwing', async () => {
    await expect(kernels.policyLossAsync({ ...base, clipEps: -1 })).rejects.toThrow(/clipEps/);
    await expect(kernels.policyLossAsync({ ...base, logpOld: new Float32Array(2) })).rejects.toThrow(/logpOld/);
  });
  (CUDA_USABLE ? test : test.skip)('inputs on different devices', () => {
    const g = ln.to('cuda');
    const h = lo.to('cuda');
    const ga = adv.to('cuda');
    expect(() => kernels.policyLoss({ ...base, logpNew: g })).toThrow(TypeError);
    expect(() => kernels.policyLoss({ ...base, logpNew: g })).toThrow(/logpOld is on cpu but logpNew is on cuda/);
    expect(() => kernels.policyLoss({ logpNew: g, logpOld: h, advantages: new Float32Array([1, 2]) })).toThrow(/advantages is on cpu/);
    expect(() => kernels.policyLoss({ logpNew: g, logpOld: h, advantages: ga, mask: [1, 1, 1, 0, 0, 0] })).toThrow(/mask is on cpu/);
    for (const t of [g, h, ga]) t.dispose();
  });
});
