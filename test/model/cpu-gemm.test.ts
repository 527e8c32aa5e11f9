/**
 * The built-in CPU GEMM (native/model/ops/matmul: packing, blocking, AVX-512 / AVX2 / portable micro-kernels)
 * and the optional OpenBLAS engine: every micro-kernel this CPU runs, against a float64 product, on shapes
 * that cross every register tile and cache block edge (mr 4/6/12, nr 16/32, kc 256, mc 120-144, nb 256), all
 * four transpositions, strided rows, alpha/beta, K = 0, 1 x N and N x 1; BLAS's special values; bit-identical
 * results whatever the thread count; the engine report and choice.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { Tensor, backends, setCpuGemm } from '../../lib';
import { modelBinding } from '../../lib/model/native';
import { expectNativeError } from '../helpers/errors';
import { Rng, seedNote } from '../helpers/random';
import { gemmReference } from './helpers';

type Engine = { engine: 'builtin' | 'openblas'; kernel?: 'avx512' | 'avx2' | 'generic' };

const gemm = backends().cpu.gemm;
const ENGINES: Engine[] = [
  ...gemm.kernels.map((kernel) => ({ engine: 'builtin' as const, kernel: kernel as Engine['kernel'] })),
  ...(gemm.openblas.available ? [{ engine: 'openblas' as const }] : []),
];
const label = (e: Engine) => (e.engine === 'openblas' ? 'openblas' : `builtin ${e.kernel}`);

// [m, n, k]: tile edges (1, 5, 13, 33), cache-block edges (145 rows > mc, 257 columns > nb, 513 = 2 K blocks + 1).
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [1, 300, 257],
  [300, 1, 257],
  [13, 33, 5],
  [145, 37, 30],
  [19, 257, 21],
  [24, 40, 513],
  [7, 5, 0],
];

function multiply(
  e: Engine,
  ta: boolean,
  tb: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  beta: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  C: Float32Array,
  ldc: number,
): Float32Array {
  const t = (d: Float32Array, ld: number) => Tensor.from(d, [Math.max(1, d.length / ld), ld]);
  const [a, b, c] = [t(A, lda), t(B, ldb), t(C, ldc)];
  modelBinding().modelMatmul({ a: a.live(), b: b.live(), c: c.live(), transA: ta, transB: tb, alpha, beta, precision: 'tf32', m, n, k, ...e });
  const out = c.toArray() as Float32Array;
  for (const x of [a, b, c]) x.dispose();
  return out;
}

describe.each(ENGINES.map((e) => [label(e), e] as const))('CPU GEMM: %s', (_name, e) => {
  const rng = new Rng();

  test('every transposition, alpha/beta, strided rows, block edges, against float64', () => {
    const failures: string[] = [];
    let v = 0;
    for (const ta of [false, true])
      for (const tb of [false, true])
        for (const [m, n, k] of SHAPES) {
          v++;
          const alpha = [1, 0.5, -2][v % 3];
          const beta = [0, 1, 0.25][v % 3];
          const pad = 1 + (v % 3);
          const [ar, ac] = ta ? [k, m] : [m, k];
          const [br, bc] = tb ? [n, k] : [k, n];
          const lda = ac + pad,
            ldb = bc + pad,
            ldc = n + pad;
          const A = rng.normals(Math.max(1, ar) * lda);
          const B = rng.normals(Math.max(1, br) * ldb);
          const C = rng.normals(m * ldc);
          const SENTINEL = 4242;
          for (let i = 0; i < m; i++) for (let j = n; j < ldc; j++) C[i * ldc + j] = SENTINEL;
          if (beta === 0) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) C[i * ldc + j] = NaN; // never read
          const out = multiply(e, ta, tb, m, n, k, alpha, beta, A, lda, B, ldb, C, ldc);
          for (let i = 0; i < m; i++) {
            for (let j = n; j < ldc; j++) if (out[i * ldc + j] !== SENTINEL) failures.push(`${m}x${n}x${k}: c[${i}, ${j}] written`);
            for (let j = 0; j < n; j++) {
              const { ref, mag } = gemmReference({ transA: ta, transB: tb, k, alpha, beta, A, lda, B, ldb, C, ldc }, i, j);
              // f32 accumulation over k terms, plus the alpha/beta update.
              const budget = (k + 8) * 2 ** -23 * mag + 1e-30;
              const err = Math.abs(out[i * ldc + j] - ref);
              if (!(err <= budget)) failures.push(`${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${m}x${n}x${k}: c[${i}, ${j}] = ${out[i * ldc + j]}, expected ${ref}`);
            }
          }
        }
    expect({ failures: failures.slice(0, 6), seed: seedNote }).toEqual({ failures: [], seed: seedNote });
  });

  test('NaN and Inf in A or B reach exactly the elements of C they touch; alpha = 0 reads neither (like BLAS)', () => {
    const m = 20,
      n = 40,
      k = 30;
    const A = rng.normals(m * k);
    const B = rng.normals(k * n);
    A[3 * k + 7] = NaN; // row 3 of C
    B[11 * n + 5] = Infinity; // column 5 of C: +-Inf, or NaN where row 3's NaN meets it
    const out = multiply(e, false, false, m, n, k, 1, 0, A, k, B, n, new Float32Array(m * n), n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        const x = out[i * n + j];
        if (i === 3) expect(Number.isNaN(x)).toBe(true);
        else if (j === 5) expect(Math.abs(x)).toBe(Infinity);
        else expect(Number.isFinite(x)).toBe(true);
      }
    const C = rng.normals(m * n);
    const scaled = multiply(e, false, false, m, n, k, 0, 0.5, A, k, B, n, C, n);
    expect(Array.from(scaled)).toEqual(Array.from(C, (c) => Math.fround(0.5 * c)));
  });
});

describe('CPU GEMM engine', () => {
  test('backends() reports the engine, the micro-kernels this CPU runs and whether OpenBLAS could be loaded', () => {
    expect(gemm.engine).toMatch(/^(builtin|openblas)$/);
    expect(gemm.kernels).toContain('generic');
    expect(gemm.kernels).toContain(gemm.bestKernel);
    expect(gemm.kernels).toContain(gemm.kernel);
    expect(typeof gemm.openblas.available).toBe('boolean');
    if (!gemm.openblas.available) expect(gemm.openblas.reason).toMatch(/\S/);
  });

  test('setCpuGemm switches the engine and refuses what is unavailable by name', () => {
    const before = backends().cpu.gemm;
    try {
      setCpuGemm({ kernel: 'generic' });
      expect(backends().cpu.gemm).toMatchObject({ engine: 'builtin', kernel: 'generic' });
      expect(() => setCpuGemm({ engine: 'mkl' as never })).toThrow(/options.engine/);
      expect(() => setCpuGemm({ kernel: 'sse9' as never })).toThrow(/options.kernel/);
      if (!before.kernels.includes('avx512')) expectNativeError(() => setCpuGemm({ kernel: 'avx512' }), 'RangeError', /'avx512' is not available on this CPU/);
      if (before.openblas.available) {
        setCpuGemm({ engine: 'openblas' });
        expect(backends().cpu.gemm.engine).toBe('openblas');
      } else {
        expect(() => setCpuGemm({ engine: 'openblas' })).toThrow(/OpenBLAS could not be loaded/);
      }
    } finally {
      setCpuGemm({ engine: before.engine, kernel: 'auto' });
    }
  });

  test('an SR_GEMM setting that cannot be followed is reported, and the built-in GEMM runs', () => {
    // SR_OPENBLAS_PATH to a missing file plus an empty library path cannot hide a system libopenblas.so.0;
    // CI's scripts/check-no-blas.sh hides it for real. Here: the env choice that cannot be followed is reported.
    const script = `const l = require(${JSON.stringify(path.resolve(__dirname, '../../dist/lib'))});
      const g = l.backends().cpu.gemm; process.stdout.write(JSON.stringify({ engine: g.engine, note: g.note || '' }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, SR_GEMM: 'fortran' } });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.engine).toBe('builtin');
    expect(out.note).toMatch(/SR_GEMM=fortran/);
  });

  test('results are bit-identical for 1, 2 and 3 threads, for every micro-kernel', () => {
    const lib = JSON.stringify(path.resolve(__dirname, '../../dist/lib'));
    const native = JSON.stringify(path.resolve(__dirname, '../../dist/lib/model/native'));
    const script = `const { Tensor } = require(${lib}); const { modelBinding } = require(${native});
      const crypto = require('crypto'); let s = 7; const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
      const out = [];
      for (const kernel of ${JSON.stringify(gemm.kernels)}) for (const [m, n, k, ta, tb] of [[300, 200, 600, false, true], [130, 300, 900, true, false], [3, 700, 1300, false, true]]) {
        const f = (len) => Float32Array.from({ length: len }, r);
        const a = Tensor.from(f(m * k), ta ? [k, m] : [m, k]), b = Tensor.from(f(k * n), tb ? [n, k] : [k, n]);
        const c = Tensor.from(new Float32Array(m * n), [m, n]);
        modelBinding().modelMatmul({ a: a.live(), b: b.live(), c: c.live(), transA: ta, transB: tb, alpha: 1, beta: 0, precision: 'tf32', m, n, k, kernel });
        out.push(kernel + ':' + crypto.createHash('sha256').update(Buffer.from(c.toArray().buffer)).digest('hex').slice(0, 16));
      }
      process.stdout.write(out.join(' '));`;
    const run = (threads: number) => {
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, SR_NUM_THREADS: String(threads) } });
      expect(r.stderr).toBe('');
      return r.stdout;
    };
    const one = run(1);
    expect(one.split(' ')).toHaveLength(3 * gemm.kernels.length);
    expect(run(2)).toBe(one);
    expect(run(3)).toBe(one);
  });
});
