/** Shared pieces of the model tests: the PyTorch reference process and small random configs. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { meanNllGradient } from '../../lib';
import type { AdamW, ModelConfigInput, ModelExample, PolicyModel } from '../../lib';
import { Rng } from '../helpers/random';

export const PYTHON = '/usr/bin/python3';
const probe = fs.existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }) : null;
export const TORCH_OK = !!probe && probe.status === 0;
export const TORCH_SKIP_REASON = !probe
  ? `${PYTHON} not found`
  : `PyTorch is not importable by ${PYTHON} (${(probe.stderr || '').trim().split('\n').pop()}); apt-get install python3-torch`;

export function runTorch<T>(mode: 'check' | 'bench', request: unknown): T {
  const r = spawnSync(PYTHON, [path.join(__dirname, 'torch_reference.py'), mode], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`torch_reference.py ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sr-model-${tag}-`));
}

/** A small random config (GQA half of the time). */
export function randomConfig(rng: Rng): ModelConfigInput {
  const nKv = rng.int(1, 3);
  const nHeads = nKv * rng.int(1, 3);
  const hd = 2 * rng.int(2, 5);
  const patchSize = rng.int(2, 4);
  const grid = rng.int(1, 4);
  return {
    dModel: nHeads * hd,
    nLayers: rng.int(1, 3),
    nHeads,
    nKvHeads: nKv,
    dFF: rng.int(8, 40),
    imageSize: patchSize * grid,
    patchSize,
    maxSeqLen: 96,
    ropeTheta: rng.uniform(100, 20000),
    normEps: 1e-5,
  };
}

/** Replaces every parameter with random values of a scale that makes every path matter. */
export function randomizeParameters(model: PolicyModel, rng: Rng, scale = 0.3): void {
  for (const p of model.parameters()) {
    const n = p.value.size;
    const data = p.name.includes('norm') ? rng.float32(n, 0.5, 1.5) : rng.normals(n, scale);
    model.setParameter(p.name, data);
  }
}

/** max |a - e| / max |e|: the normwise relative error of a whole tensor. */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    num = Math.max(num, Math.abs(actual[i] - expected[i]));
    den = Math.max(den, Math.abs(expected[i]));
  }
  return den === 0 ? num : num / den;
}

export function randomText(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(32, 127));
  return s;
}

/**
 * Central finite differences of `loss` on two entries (the largest gradient and a random one) of every parameter
 * whose name contains one of `keys`, against the accumulated gradients (call backward first). Returns the
 * failures as text. Step h = step * max(1, |value|); an entry fails when |fd - grad| > abs + rel * |grad|.
 */
export async function finiteDifferenceFailures(
  model: PolicyModel,
  keys: readonly string[],
  loss: () => Promise<number>,
  rng: Rng,
  tol: { step: number; abs: number; rel: number },
): Promise<string[]> {
  const failures: string[] = [];
  for (const key of keys) {
    const p = model.parameters().find((q) => q.name.includes(key));
    if (!p) throw new Error(`no parameter name contains ${key}`);
    const grad = p.grad!.toArray();
    const values = p.value.toArray() as Float32Array;
    let big = 0;
    for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[big])) big = i;
    for (const i of [big, rng.int(0, grad.length)]) {
      const h = tol.step * Math.max(1, Math.abs(values[i]));
      const orig = values[i];
      values[i] = orig + h;
      model.setParameter(p.name, values);
      const up = await loss();
      values[i] = orig - h;
      model.setParameter(p.name, values);
      const down = await loss();
      values[i] = orig;
      model.setParameter(p.name, values);
      const fd = (up - down) / (2 * h);
      if (Math.abs(fd - grad[i]) > tol.abs + tol.rel * Math.abs(grad[i])) failures.push(`${p.name}[${i}]: analytic ${grad[i]}, fd ${fd}`);
    }
  }
  return failures;
}

/** Three flat images, one colour each, and the colour's name as the answer: the tiny image-conditioned task. */
export function colourTask(size: number): { image: Uint8Array; prompt: string; response: string }[] {
  const flat = (rgb: number[]) => {
    const a = new Uint8Array(size * size * 3);
    for (let i = 0; i < size * size; i++) a.set(rgb, i * 3);
    return a;
  };
  return [
    { image: flat([230, 20, 20]), prompt: 'colour?', response: 'red' },
    { image: flat([20, 20, 230]), prompt: 'colour?', response: 'blue' },
    { image: flat([20, 230, 20]), prompt: 'colour?', response: 'green' },
  ];
}

/** `steps` full-batch supervised steps (mean NLL, AdamW); the first and last losses and the skipped updates. */
export async function trainSupervised(
  model: PolicyModel,
  opt: AdamW,
  data: readonly ModelExample[],
  steps: number,
): Promise<{ first: number; last: number; skipped: number }> {
  let first = 0;
  let last = 0;
  let skipped = 0;
  for (let step = 0; step < steps; step++) {
    const r = await model.logprobs(data);
    const { loss, grad } = meanNllGradient(r);
    if (step === 0) first = loss;
    last = loss;
    await model.backward(grad);
    if (opt.step().skipped) skipped++;
    model.zeroGrad();
  }
  return { first, last, skipped };
}

/** A GEMM problem as the matmul tests state it: row-major operands with row strides, C before the product. */
export interface GemmProblem {
  transA: boolean;
  transB: boolean;
  k: number;
  alpha: number;
  beta: number;
  A: ArrayLike<number>;
  lda: number;
  B: ArrayLike<number>;
  ldb: number;
  C: ArrayLike<number>;
  ldc: number;
}

/** C[i, j] after the product in float64, and the magnitude sum |alpha a b| (+ |beta c|) the error budgets scale with. */
export function gemmReference(p: GemmProblem, i: number, j: number): { ref: number; mag: number } {
  let ref = 0;
  let mag = 0;
  for (let q = 0; q < p.k; q++) {
    const x = p.transA ? p.A[q * p.lda + i] : p.A[i * p.lda + q];
    const y = p.transB ? p.B[j * p.ldb + q] : p.B[q * p.ldb + j];
    ref += x * y;
    mag += Math.abs(x * y);
  }
  ref *= p.alpha;
  mag *= Math.abs(p.alpha);
  if (p.beta !== 0) {
    ref += p.beta * p.C[i * p.ldc + j];
    mag += Math.abs(p.beta * p.C[i * p.ldc + j]);
  }
  return { ref, mag };
}
