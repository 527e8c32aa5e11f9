/**
 * The built-in model's matrix product (internal binding modelMatmul, native/model/ops/matmul): every
 * transposition, alpha/beta, strided rows, sizes that are not multiples of the CUDA tiles (64 x 64 x 32) and
 * K = 0, against a float64 product. The CPU (the chosen engine; cpu-gemm.test.ts checks each) runs always; CUDA (tensor cores, TF32 and 3xTF32)
 * when a GPU is usable. Error budgets are per element, relative to sum_k |a_ik b_kj| (+ |beta c|).
 */
import { Tensor } from '../../lib';
import { modelBinding } from '../../lib/model/native';
import { describeEachDevice } from '../helpers/backends';
import { Rng, seedNote } from '../helpers/random';
import { gemmReference } from './helpers';

type Precision = 'tf32' | 'tf32x3';

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  pad: number;
}

const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [7, 5, 3],
  [16, 16, 8],
  [33, 65, 31],
  [64, 64, 32],
  [65, 70, 33],
  [130, 19, 129],
  [3, 200, 70],
  [5, 9, 0],
  [0, 4, 6],
];

/**
 * Runs one case; returns the worst error relative to sum |a b| and failures against the budget
 * (u + acc * (k + 8) * 2^-23) * sum |a b|: u for the rounding of the inputs, acc for the f32 accumulation
 * (tensor cores add with truncation, and 3xTF32 accumulates three products per step: acc 4 on CUDA).
 */
async function runCase(device: 'cpu' | 'cuda', c: Case, precision: Precision, u: number, rng: Rng, useAsync: boolean) {
  const acc = device === 'cuda' ? 4 : 1;
  const { m, n, k, transA, transB, alpha, beta, pad } = c;
  const [ar, ac] = transA ? [k, m] : [m, k];
  const [br, bc] = transB ? [n, k] : [k, n];
  // Tensors one column wider (pad) than the product needs: rows are strided, the extra column must stay untouched.
  const A = rng.normals(ar * (ac + pad));
  const B = rng.normals(br * (bc + pad));
  const C = rng.normals(m * (n + pad));
  const SENTINEL = 4242;
  for (let i = 0; i < m; i++) for (let j = n; j < n + pad; j++) C[i * (n + pad) + j] = SENTINEL;
  if (beta === 0) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) C[i * (n + pad) + j] = NaN; // must not be read
  const ta = Tensor.from(A, [ar, ac + pad], { device });
  const tb = Tensor.from(B, [br, bc + pad], { device });
  const tc = Tensor.from(C, [m, n + pad], { device });
  const r = modelBinding().modelMatmul({ a: ta.live(), b: tb.live(), c: tc.live(), transA, transB, alpha, beta, precision, m, n, k, async: useAsync });
  if (useAsync) await r;
  const out = tc.toArray();
  for (const t of [ta, tb, tc]) t.dispose();
  const lda = ac + pad;
  const ldb = bc + pad;
  const ldc = n + pad;
  let worst = 0;
  const failures: string[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = n; j < n + pad; j++) if (out[i * ldc + j] !== SENTINEL) failures.push(`c[${i}, ${j}] outside the product was written`);
    for (let j = 0; j < n; j++) {
      const { ref, mag } = gemmReference({ transA, transB, k, alpha, beta, A, lda, B, ldb, C, ldc }, i, j);
      const err = Math.abs(out[i * ldc + j] - ref);
      const budget = (u + acc * (k + 8) * 2 ** -23) * mag + 1e-30;
      if (!(err <= budget)) failures.push(`c[${i}, ${j}] = ${out[i * ldc + j]}, expected ${ref} (budget ${budget.toExponential(2)})`);
      if (mag > 0) worst = Math.max(worst, err / mag);
    }
  }
  return { worst, failures: failures.slice(0, 3) };
}

describeEachDevice('model matmul (op(A) op(B), strided rows, odd sizes)', (device) => {
  const rng = new Rng();
  // The CPU is f32; CUDA: TF32 rounds inputs to 10 mantissa bits, 3xTF32 keeps about 21.
  const precisions: Array<[Precision, number]> =
    device === 'cpu'
      ? [['tf32', 2 ** -22]]
      : [
          ['tf32', 2 ** -10],
          ['tf32x3', 2 ** -20],
        ];
  for (const [precision, u] of precisions) {
    test(`${device === 'cpu' ? 'f32' : precision}: every transposition, alpha/beta, K = 0, M or N = 0`, async () => {
      const failures: string[] = [];
      let worst = 0;
      let i = 0;
      for (const transA of [false, true])
        for (const transB of [false, true])
          for (const [m, n, k] of SHAPES) {
            const v = i++ % 3;
            const c: Case = { m, n, k, transA, transB, alpha: [1, 0.5, -2][v], beta: [0, 1, 0.25][v], pad: i % 2 ? 3 : 1 };
            const r = await runCase(device, c, precision, u, rng, i % 4 === 0);
            worst = Math.max(worst, r.worst);
            for (const f of r.failures) failures.push(`${JSON.stringify(c)}: ${f}`);
          }
      expect({ failures: failures.slice(0, 8), seed: seedNote }).toEqual({ failures: [], seed: seedNote });
      if (device === 'cuda') {
        // The precision really is what it says (a silent fall-back to plain TF32 would show here).
        if (precision === 'tf32x3') expect(worst).toBeLessThan(2e-5);
        else expect(worst).toBeGreaterThan(2e-5);
      }
    });
  }

  test('bad arguments are TypeErrors / RangeErrors naming them', () => {
    const t = (r: number, c: number) => Tensor.from(new Float32Array(r * c), [r, c], { device });
    const a = t(4, 3);
    const b = t(3, 5);
    const c = t(4, 5);
    const o = { a: a.live(), b: b.live(), c: c.live(), transA: false, transB: false, alpha: 1, beta: 0, precision: 'tf32' as Precision, m: 4, n: 5, k: 3 };
    const mm = modelBinding().modelMatmul;
    expect(() => mm({ ...o, k: 4 })).toThrow(/a \[4, 3\] is too small/);
    expect(() => mm({ ...o, n: 6 })).toThrow(RangeError);
    expect(() => mm({ ...o, m: -1 })).toThrow(/options.m must be an integer >= 0/);
    expect(() => mm({ ...o, precision: 'fp8' as Precision })).toThrow(/options.precision/);
    expect(() => mm({ ...o, engine: 'mkl' as never })).toThrow(/options.engine/);
    expect(() => mm({ ...o, kernel: 'sse9' as never })).toThrow(/options.kernel/);
    const i32 = Tensor.from(new Int32Array(12), [4, 3]);
    expect(() => mm({ ...o, a: i32.live() })).toThrow(/a must have dtype f32/);
    for (const x of [a, b, c, i32]) x.dispose();
  });
});
