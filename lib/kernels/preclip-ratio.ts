/**
 * Pre-CLIP of the probability ratio (StableReinforce):
 *   ratio = exp(clamp(logpNew - logpOld, ln(minRatio), ln(maxRatio)))
 * Clamping before the exponential bounds the ratio even for log-ratios of +-50
 * or infinite log-probs. NaN inputs give NaN. Native: native/kernels/preclip_ratio.
 */
import { optionsObject } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor } from '../tensor';
import { MaybeAsync, binding, mapResult, settle, withTemporaries, wrapHandle } from './binding';

interface PreClipBinding {
  preClipRatio(args: { logpNew: NativeTensor; logpOld: NativeTensor; minRatio: number; maxRatio: number; async: boolean }): MaybeAsync<NativeTensor>;
}

export interface PreClipOptions {
  /** Lower bound of the ratio, default 1e-3 (the paper's); in [1e-30, 1e30] and below maxRatio. */
  minRatio?: number;
  /** Upper bound of the ratio, default 1e3; in [1e-30, 1e30]. */
  maxRatio?: number;
}

function run<A extends boolean>(
  logpNew: TensorLike,
  logpOld: TensorLike,
  options: PreClipOptions | undefined,
  async: A,
): A extends true ? Promise<Tensor> : Tensor {
  const opts = optionsObject(options);
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const a = asTensor(logpNew, 'logpNew', 'f32', owned);
    const b = asTensor(logpOld, 'logpOld', 'f32', owned, a.shape);
    // The binding checks dtypes, shapes, devices and ranges (the header's, native.limits.preClipRatio).
    const out = binding<PreClipBinding>().preClipRatio({
      logpNew: a.handle,
      logpOld: b.handle,
      minRatio: opts.minRatio ?? 1e-3,
      maxRatio: opts.maxRatio ?? 1e3,
      async,
    });
    return mapResult(out, async, (h: NativeTensor) => wrapHandle(h, a.shape, 'f32', a.device));
  });
}

/** The pre-clipped ratio, same shape as logpNew, on the inputs' device. */
export function preClipRatio(logpNew: TensorLike, logpOld: TensorLike, options?: PreClipOptions): Tensor {
  return run(logpNew, logpOld, options, false);
}

/** preClipRatio off the JavaScript thread. */
export function preClipRatioAsync(logpNew: TensorLike, logpOld: TensorLike, options?: PreClipOptions): Promise<Tensor> {
  return settle(() => run(logpNew, logpOld, options, true));
}
