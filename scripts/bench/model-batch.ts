/** The synthetic training batch and the training step that the model benchmarks (bench-model, bench-gemm) time. */
import { AdamW, PolicyModel, meanNllGradient } from '../../lib';

export function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `batch` rows of `seqLen` tokens in all (image tokens, bos, a prompt of `promptLen` letters, random response bytes). */
export function syntheticBatch(model: PolicyModel, batch: number, seqLen: number, promptLen: number) {
  const cfg = model.config;
  const nImg = (cfg.imageSize / cfg.patchSize) ** 2;
  const rand = mulberry(1);
  const resp = seqLen - nImg - 1 - promptLen;
  const bytes = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => 97 + Math.floor(rand() * 26)));
  return Array.from({ length: batch }, () => ({
    image: Float32Array.from({ length: cfg.imageSize * cfg.imageSize * 3 }, rand),
    prompt: bytes(promptLen),
    response: Int32Array.from({ length: resp }, () => Math.floor(rand() * 256)),
  }));
}

/** One training step: log-probs, backward of the mean NLL, AdamW, zeroed gradients. */
export async function trainingStep(model: PolicyModel, opt: AdamW, rows: ReturnType<typeof syntheticBatch>): Promise<void> {
  const r = await model.logprobs(rows);
  await model.backward(meanNllGradient(r).grad);
  opt.step();
  model.zeroGrad();
  r.logprobs.dispose();
  r.mask.dispose();
}
