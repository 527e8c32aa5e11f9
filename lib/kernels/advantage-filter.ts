/**
 * Advantage Filter (StableReinforce): standardise advantages over the whole
 * batch and zero the outliers.
 *
 *   valid  = mask != 0 (every entry when no mask is given) and finite
 *   mean, std over the valid entries; std is the POPULATION std (divides by
 *   the count), both computed in float64
 *   z      = (A - mean) / (std + eps)   (z = 0 for every entry when std == 0)
 *   output = z where the rule keeps it, else 0; 0 at masked and NaN/Inf entries
 *
 * rule 'paper' (default) keeps |z| <= sigma. rule 'released-code' reproduces the
 * authors' released code, NOT the paper: it keeps mean - sigma <= z <= mean + sigma
 * with mean the raw mean before standardising, and also drops |z| > 10; in
 * high-accuracy batches that discards every negative advantage. Use it only to
 * reproduce their runs. Native: native/kernels/advantage_filter.
 */
import { finiteF32, oneOf, optionsObject } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor, commonDevice, expectDType, expectShape } from '../tensor';
import { MaybeAsync, binding, mapResult, settle, withTemporaries, wrapHandle } from './binding';

export type AdvantageFilterRule = 'paper' | 'released-code';

export interface AdvantageFilterOptions {
  /** u8 mask of the values' shape: nonzero = valid. Default: every entry is valid. */
  mask?: TensorLike;
  /** Keep |z| <= sigma; default 3 (the paper's 3-sigma rule). Must be > 0. */
  sigma?: number;
  /** Added to the std before dividing; default 1e-8. Must be >= 0. */
  eps?: number;
  /** 'paper' (default) or 'released-code' (a reproduction aid, see the module comment). */
  rule?: AdvantageFilterRule;
}

export interface AdvantageFilterResult {
  /** f32, the values' shape and device: z or 0. */
  advantages: Tensor;
  /** Mean of the valid entries (0 when there is none). */
  mean: number;
  /** Population std of the valid entries (0 when there is none). */
  std: number;
  /** Valid finite entries kept. */
  kept: number;
  /** Valid finite entries set to 0 by the rule. */
  filtered: number;
  /** Entries under the mask that are NaN or +-Inf (set to 0, left out of mean/std). */
  nonFinite: number;
}

interface NativeAdvantageFilterResult extends Omit<AdvantageFilterResult, 'advantages'> {
  advantages: NativeTensor;
}

interface AdvantageFilterBinding {
  advantageFilter(
    values: NativeTensor,
    mask: NativeTensor | null,
    sigma: number,
    eps: number,
    rule: AdvantageFilterRule,
    async: boolean,
  ): MaybeAsync<NativeAdvantageFilterResult>;
}

function run<A extends boolean>(
  values: TensorLike,
  options: AdvantageFilterOptions | undefined,
  async: A,
): A extends true ? Promise<AdvantageFilterResult> : AdvantageFilterResult {
  const opts = optionsObject(options);
  const sigma = finiteF32(opts.sigma ?? 3, 'options.sigma');
  if (!(sigma > 0)) throw new RangeError(`options.sigma must be > 0, got ${sigma}`);
  const eps = finiteF32(opts.eps ?? 1e-8, 'options.eps');
  if (!(eps >= 0)) throw new RangeError(`options.eps must be >= 0, got ${eps}`);
  const rule = oneOf(opts.rule, 'options.rule', ['paper', 'released-code'] as const, 'paper');
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const v = asTensor(values, 'values', 'f32', owned);
    expectDType(v, 'values', 'f32');
    let m: Tensor | undefined;
    if (opts.mask !== undefined) {
      m = asTensor(opts.mask, 'options.mask', 'u8', owned, v.shape);
      expectDType(m, 'options.mask', 'u8');
      expectShape(m, 'options.mask', v.shape);
    }
    const device = commonDevice(m ? [[v, 'values'], [m, 'options.mask']] : [[v, 'values']]);
    const out = binding<AdvantageFilterBinding>().advantageFilter(v.handle, m ? m.handle : null, sigma, eps, rule, async);
    const wrap = (r: NativeAdvantageFilterResult): AdvantageFilterResult => ({
      advantages: wrapHandle(r.advantages, v.shape, 'f32', device),
      mean: r.mean,
      std: r.std,
      kept: r.kept,
      filtered: r.filtered,
      nonFinite: r.nonFinite,
    });
    return mapResult(out, async, wrap);
  });
}

/** The filtered, standardised advantages and the batch statistics. */
export function advantageFilter(values: TensorLike, options?: AdvantageFilterOptions): AdvantageFilterResult {
  return run(values, options, false);
}

/** advantageFilter off the JavaScript thread. */
export function advantageFilterAsync(values: TensorLike, options?: AdvantageFilterOptions): Promise<AdvantageFilterResult> {
  return settle(() => run(values, options, true));
}
