/**
 * Pre-CLIP of the probability ratio (StableReinforce):
 *   ratio = exp(clamp(logpNew - logpOld, ln(minRatio), ln(maxRatio)))
 * Clamping before the exponential bounds the ratio even for log-ratios of +-50
 * or infinite log-probs. NaN inputs give NaN. Native: native/kernels/preclip_ratio.
 */
import { finiteNumber, optionsObject } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor, commonDevice, expectDType, expectShape } from '../tensor';
import { MaybeAsync, binding, mapResult, settle, withTemporaries, wrapHandle } from './binding';

interface PreClipBinding {
  preClipRatio(
    logpNew: NativeTensor,
    logpOld: NativeTensor,
    minRatio: number,
    maxRatio: number,
    async: boolean,
  ): MaybeAsync<NativeTensor>;
}

export interface PreClipOptions {
  /** Lower bound of the ratio, default 1e-3 (the paper's). */
  minRatio?: number;
  /** Upper bound of the ratio, default 1e3. */
  maxRatio?: number;
}

function run<A extends boolean>(
  logpNew: TensorLike,
  logpOld: TensorLike,
  options: PreClipOptions | undefined,
  async: A,
): A extends true ? Promise<Tensor> : Tensor {
  const opts = optionsObject(options);
  const minRatio = finiteNumber(opts.minRatio ?? 1e-3, 'options.minRatio');
  const maxRatio = finiteNumber(opts.maxRatio ?? 1e3, 'options.maxRatio');
  // The bounds' logarithms are f32 and exp() of them must stay finite and non-zero there (policyLoss's rule).
  if (!(minRatio >= 1e-30 && minRatio < maxRatio && maxRatio <= 1e30)) {
    throw new RangeError(`options.minRatio and options.maxRatio must satisfy 1e-30 <= minRatio < maxRatio <= 1e30, got ${minRatio}, ${maxRatio}`);
  }
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const a = asTensor(logpNew, 'logpNew', 'f32', owned);
    const b = asTensor(logpOld, 'logpOld', 'f32', owned, a.shape);
    expectDType(a, 'logpNew', 'f32');
    expectDType(b, 'logpOld', 'f32');
    expectShape(b, 'logpOld', a.shape);
    const device = commonDevice([[a, 'logpNew'], [b, 'logpOld']]);
    const out = binding<PreClipBinding>().preClipRatio(a.handle, b.handle, minRatio, maxRatio, async);
    const wrap = (h: NativeTensor) => wrapHandle(h, a.shape, 'f32', device);
    return mapResult(out, async, wrap);
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
