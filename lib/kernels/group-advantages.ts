/**
 * Group baselines (GRPO, RLOO): rewards f32 [B] hold consecutive groups of
 * `groupSize` samples of one prompt; per group, in float64:
 *
 *   baseline 'mean':          A = r - mean_g
 *   baseline 'leave-one-out': A = r - (sum_g - r) / (groupSize - 1)   (RLOO)
 *   scale 'std':              A = A / (std_g + eps), std_g the UNBIASED group std
 *                             (divides by groupSize - 1, as PyTorch's .std())
 *   scale 'none':             A as is
 *
 * GRPO = { baseline: 'mean', scale: 'std' } (the defaults); RLOO = { baseline:
 * 'leave-one-out', scale: 'none' }. A constant group gives 0. A NaN/Inf reward
 * makes its group NaN, as in PyTorch. Native: native/kernels/group_advantages.
 */
import { optionsObject } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor } from '../tensor';
import { MaybeAsync, binding, mapResult, settle, withTemporaries, wrapHandle } from './binding';

export interface GroupAdvantagesOptions {
  /** Samples per prompt; must divide the number of rewards, and be >= 2 for 'std' or 'leave-one-out'. */
  groupSize: number;
  /** Default 'std'. */
  scale?: 'std' | 'none';
  /** Default 'mean'. */
  baseline?: 'mean' | 'leave-one-out';
  /** Added to the std before dividing; default 1e-6. Must be >= 0. */
  eps?: number;
}

interface GroupAdvantagesBinding {
  groupAdvantages(args: { rewards: NativeTensor; groupSize: number; scale: string; baseline: string; eps: number; async: boolean }): MaybeAsync<NativeTensor>;
}

function run<A extends boolean>(rewards: TensorLike, options: GroupAdvantagesOptions, async: A): A extends true ? Promise<Tensor> : Tensor {
  if (options === undefined) throw new TypeError('options with groupSize is required');
  const opts = optionsObject(options);
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const r = asTensor(rewards, 'rewards', 'f32', owned);
    // The binding checks the dtype, shape, choices and ranges (native.limits.groupAdvantages).
    const out = binding<GroupAdvantagesBinding>().groupAdvantages({
      rewards: r.handle,
      groupSize: opts.groupSize as number,
      scale: opts.scale ?? 'std',
      baseline: opts.baseline ?? 'mean',
      eps: opts.eps ?? 1e-6,
      async,
    });
    return mapResult(out, async, (h: NativeTensor) => wrapHandle(h, r.shape, 'f32', r.device));
  });
}

/** Per-sample advantages, f32 [B], on the rewards' device. */
export function groupAdvantages(rewards: TensorLike, options: GroupAdvantagesOptions): Tensor {
  return run(rewards, options, false);
}

/** groupAdvantages off the JavaScript thread. */
export function groupAdvantagesAsync(rewards: TensorLike, options: GroupAdvantagesOptions): Promise<Tensor> {
  return settle(() => run(rewards, options, true));
}
