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
import { finiteF32, oneOf, optionsObject, positiveInteger } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor, expectDType } from '../tensor';
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
  groupAdvantages(
    rewards: NativeTensor,
    groupSize: number,
    scale: string,
    baseline: string,
    eps: number,
    async: boolean,
  ): MaybeAsync<NativeTensor>;
}

function run<A extends boolean>(
  rewards: TensorLike,
  options: GroupAdvantagesOptions,
  async: A,
): A extends true ? Promise<Tensor> : Tensor {
  if (options === undefined) throw new TypeError('options with groupSize is required');
  const opts = optionsObject(options);
  if (opts.groupSize === undefined) throw new TypeError('options.groupSize is required');
  const groupSize = positiveInteger(opts.groupSize, 'options.groupSize');
  const scale = oneOf(opts.scale, 'options.scale', ['std', 'none'] as const, 'std');
  const baseline = oneOf(opts.baseline, 'options.baseline', ['mean', 'leave-one-out'] as const, 'mean');
  const eps = finiteF32(opts.eps ?? 1e-6, 'options.eps');
  if (!(eps >= 0)) throw new RangeError(`options.eps must be >= 0, got ${eps}`);
  if (groupSize < 2 && (scale === 'std' || baseline === 'leave-one-out')) {
    throw new RangeError(
      `options.groupSize must be >= 2 for scale 'std' or baseline 'leave-one-out', got ${groupSize}`,
    );
  }
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const r = asTensor(rewards, 'rewards', 'f32', owned);
    expectDType(r, 'rewards', 'f32');
    if (r.shape.length !== 1) throw new RangeError(`rewards must have shape [B], got [${r.shape.join(', ')}]`);
    const B = r.shape[0];
    if (B % groupSize !== 0) {
      throw new RangeError(`options.groupSize (${groupSize}) must divide the number of rewards (${B})`);
    }
    const out = binding<GroupAdvantagesBinding>().groupAdvantages(r.handle, groupSize, scale, baseline, eps, async);
    const wrap = (h: NativeTensor) => wrapHandle(h, r.shape, 'f32', r.device);
    return mapResult(out, async, wrap);
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
