/**
 * One guarded optimizer update: a non-finite loss never reaches backward(),
 * and a non-finite gradient norm makes AdamW skip the update (weights and
 * moments untouched). Either way the step is reported as skipped with why.
 */
import { finiteNumber } from '../internal/validate';
import type { AdamW } from '../model/adamw';
import { meanNllGradient, type ModelExample, type PolicyModel } from '../model/policy-model';

export type SkipReason = 'loss' | 'grad-norm';

export interface UpdateResult {
  loss: number;
  gradNorm: number;
  skipped: boolean;
  reason: SkipReason | null;
}

/**
 * Backpropagates `grad` (d loss / d logprobs of the last model.logprobs call) and takes an AdamW step,
 * unless `loss` (or the gradient) is not finite. `corrupt` replaces the gradient by NaN (fault injection).
 */
export async function guardedUpdate(model: PolicyModel, opt: AdamW, loss: number, grad: Float32Array, corrupt = false): Promise<UpdateResult> {
  if (!Number.isFinite(loss)) {
    model.zeroGrad();
    return { loss, gradNorm: NaN, skipped: true, reason: 'loss' };
  }
  if (corrupt) grad.fill(NaN);
  await model.backward(grad);
  return guardedStep(model, opt, loss);
}

/**
 * The AdamW step on the gradients already accumulated in the model (e.g. of several micro-batches), then zeroes
 * them; a non-finite `loss` skips the step ('loss'), a non-finite gradient norm makes AdamW skip it ('grad-norm').
 */
export function guardedStep(model: PolicyModel, opt: AdamW, loss: number): UpdateResult {
  if (!Number.isFinite(loss)) {
    model.zeroGrad();
    return { loss, gradNorm: NaN, skipped: true, reason: 'loss' };
  }
  const r = opt.step();
  model.zeroGrad();
  return { loss, gradNorm: r.gradNorm, skipped: r.skipped, reason: r.skipped ? 'grad-norm' : null };
}

/** Linear warmup to `lr`, then cosine decay to lr * minRatio at `total` steps. */
export function cosineLr(step: number, total: number, lr: number, warmup: number, minRatio: number): number {
  for (const [v, n] of [
    [step, 'step'],
    [total, 'total'],
    [warmup, 'warmup'],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`${n} must be an integer >= 0, got ${String(v)}`);
  }
  finiteNumber(lr, 'lr');
  finiteNumber(minRatio, 'minRatio');
  if (warmup > 0 && step < warmup) return (lr * (step + 1)) / warmup;
  const span = Math.max(1, total - warmup);
  const t = Math.min(1, Math.max(0, (step - warmup) / span));
  return lr * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

export interface SftStepResult extends UpdateResult {
  tokens: number;
}

/** Stage 1: mean NLL of the teacher targets -> gradient -> backward -> AdamW. */
export async function sftStep(model: PolicyModel, opt: AdamW, batch: ModelExample[], corrupt = false): Promise<SftStepResult> {
  const r = await model.logprobs(batch);
  try {
    const { loss, grad, tokens } = meanNllGradient(r);
    return { ...(await guardedUpdate(model, opt, loss, grad, corrupt)), tokens };
  } finally {
    r.logprobs.dispose();
    r.mask.dispose();
  }
}
