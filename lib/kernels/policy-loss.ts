/**
 * The fused StableReinforce policy loss: forward and gradient w.r.t. logpNew in one pass.
 *
 * Per valid token (mask != 0), with A the advantage:
 *   d = logpNew - logpOld;  c = clamp(d, ln minRatio, ln maxRatio);  r = exp(c)   (Pre-CLIP)
 *   l = -min(r*A, clamp(r, 1 - clipEps, 1 + clipEpsHigh)*A)                      (PPO clip)
 *   dualClip (> 1), A < 0:  l = -max(min(...), dualClip*A)                        (OpenRLHF's dual clip)
 *   klCoef > 0:  l += klCoef * k(x), x = logpNew - logpRef,
 *                k1 = x, k2 = x^2/2, k3 = exp(-x) - 1 + x with x clamped to [-10, 10]
 * Aggregation (per-token weights w; the loss is sum w*l, grad = w * dl/dlogpNew):
 *   'seq-mean-token-mean' (default)  w = 1 / (Nseq * n_b)   n_b valid tokens of row b
 *   'token-mean'                     w = 1 / Ntok
 *   'seq-mean-token-sum'             w = 1 / Nseq
 * Ntok = normalizer ?? valid tokens; Nseq = normalizer ?? rows with >= 1 valid token. Give the whole batch's
 * count as `normalizer` to split a batch into micro-batches whose losses and gradients add up.
 *
 * Gradient at kinks follows torch.clamp: at an exact bound (d on a Pre-CLIP bound, r on a PPO bound, x = +-10
 * for k3) it passes. Where a clip is active it is 0. At r == dualClip exactly the gradient passes whole (torch
 * would give half). Masked tokens are ignored entirely, NaN/Inf included; their gradient is 0. A valid token
 * with a NaN or infinite loss term or gradient is counted in stats.nonFinite and makes the loss NaN/infinite
 * (the gradient of a NaN term is NaN): check it to skip the step. Rows with no valid token contribute nothing;
 * with no valid token at all the loss, gradient and stats are 0. Native: native/kernels/policy_loss.
 */
import { finiteF32, finiteNumber, oneOf } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor, commonDevice, expectDType, expectShape } from '../tensor';
import { MaybeAsync, binding, mapResult, settle, withTemporaries, wrapHandle } from './binding';

export type PolicyLossAggregation = 'seq-mean-token-mean' | 'token-mean' | 'seq-mean-token-sum';
export type PolicyLossKlEstimator = 'k1' | 'k2' | 'k3';

export interface PolicyLossInputs {
  /** Log-probs of the sampled tokens under the current policy, f32 [B, T] (or [T]: one sequence). */
  logpNew: TensorLike;
  /** Log-probs under the policy that sampled, f32, logpNew's shape. */
  logpOld: TensorLike;
  /** Advantages, f32 [B, T], or [B] broadcast over T. */
  advantages: TensorLike;
  /** Valid tokens (u8, nonzero = valid), logpNew's shape. Default: all valid. */
  mask?: TensorLike;
  /** Log-probs under the reference policy, f32, logpNew's shape; needed when klCoef > 0. */
  logpRef?: TensorLike;
  /** [B, T] for typed-array inputs when logpNew is not a Tensor (default: [length], one sequence). */
  shape?: readonly number[];
  /** PPO clip: lower bound 1 - clipEps; default 0.2, in [0, 1]. */
  clipEps?: number;
  /** PPO clip: upper bound 1 + clipEpsHigh; default clipEps, >= 0. */
  clipEpsHigh?: number;
  /** Pre-CLIP bounds of the ratio; defaults 1e-3 and 1e3, 1e-30 <= minRatio < maxRatio <= 1e30. */
  minRatio?: number;
  maxRatio?: number;
  /** Dual clip constant (> 1), off by default. */
  dualClip?: number;
  /** KL penalty coefficient, default 0, >= 0. */
  klCoef?: number;
  /** KL estimator, default 'k1'. */
  klEstimator?: PolicyLossKlEstimator;
  /** Default 'seq-mean-token-mean' (mean over each sequence's tokens, then over sequences). */
  aggregation?: PolicyLossAggregation;
  /** Replaces Ntok ('token-mean') or Nseq (the others); finite, > 0. */
  normalizer?: number;
}

export interface PolicyLossStats {
  /** Share of valid tokens where the PPO clip changes the loss: (A > 0, r > 1+epsHigh) or (A < 0, r < 1-eps). */
  clipFraction: number;
  /** Share of valid tokens whose log-ratio lies outside [ln minRatio, ln maxRatio]. */
  preClipFraction: number;
  /** Mean and max of the pre-clipped ratio r over valid tokens (ratioMax is NaN if a ratio is NaN). */
  ratioMean: number;
  ratioMax: number;
  /** Mean over valid tokens of (r - 1) - c: the k3 estimate of KL(old || new) on the pre-clipped log-ratio. */
  approxKl: number;
  /** Mean over valid tokens of the KL estimate k(x) when logpRef is given (even with klCoef 0), else 0. */
  klMean: number;
  validTokens: number;
  validSequences: number;
  /** Valid tokens whose loss term or gradient is NaN or infinite. */
  nonFinite: number;
}

export interface PolicyLossResult {
  loss: number;
  /** d loss / d logpNew, f32, logpNew's shape and device. */
  grad: Tensor;
  stats: PolicyLossStats;
}

interface NativeResult {
  loss: number;
  grad: NativeTensor;
  stats: PolicyLossStats;
}

interface PolicyLossBinding {
  policyLoss(
    logpNew: NativeTensor,
    logpOld: NativeTensor,
    advantages: NativeTensor,
    mask: NativeTensor | null,
    logpRef: NativeTensor | null,
    clipEps: number,
    clipEpsHigh: number,
    minRatio: number,
    maxRatio: number,
    dualClip: number | null,
    klCoef: number,
    klEstimator: string,
    aggregation: string,
    normalizer: number | null,
    async: boolean,
  ): MaybeAsync<NativeResult>;
}

function checkShape(shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new TypeError(`shape must be [B, T], got ${JSON.stringify(shape)}`);
  }
  return shape.map((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new TypeError(`shape[${i}] must be a non-negative integer, got ${String(d)}`);
    }
    return d;
  });
}

function run<A extends boolean>(args: PolicyLossInputs, async: A): A extends true ? Promise<PolicyLossResult> : PolicyLossResult {
  if (args === null || typeof args !== 'object') throw new TypeError('policyLoss expects an object of inputs and options');
  const clipEps = finiteNumber(args.clipEps ?? 0.2, 'clipEps');
  if (!(clipEps >= 0 && clipEps <= 1)) throw new RangeError(`clipEps must be in [0, 1], got ${clipEps}`);
  const clipEpsHigh = finiteNumber(args.clipEpsHigh ?? clipEps, 'clipEpsHigh');
  if (!(clipEpsHigh >= 0)) throw new RangeError(`clipEpsHigh must be >= 0, got ${clipEpsHigh}`);
  const minRatio = finiteNumber(args.minRatio ?? 1e-3, 'minRatio');
  const maxRatio = finiteNumber(args.maxRatio ?? 1e3, 'maxRatio');
  if (!(minRatio >= 1e-30 && minRatio < maxRatio && maxRatio <= 1e30)) {
    throw new RangeError(`minRatio and maxRatio must satisfy 1e-30 <= minRatio < maxRatio <= 1e30, got ${minRatio}, ${maxRatio}`);
  }
  let dualClip: number | null = null;
  if (args.dualClip !== undefined && args.dualClip !== null) {
    dualClip = finiteF32(args.dualClip, 'dualClip');
    if (!(dualClip > 1)) throw new RangeError(`dualClip must be > 1, got ${dualClip}`);
  }
  const klCoef = finiteF32(args.klCoef ?? 0, 'klCoef');
  if (!(klCoef >= 0)) throw new RangeError(`klCoef must be >= 0, got ${klCoef}`);
  const klEstimator = oneOf(args.klEstimator, 'klEstimator', ['k1', 'k2', 'k3'] as const, 'k1');
  const aggregation = oneOf(
    args.aggregation,
    'aggregation',
    ['seq-mean-token-mean', 'token-mean', 'seq-mean-token-sum'] as const,
    'seq-mean-token-mean',
  );
  let normalizer: number | null = null;
  if (args.normalizer !== undefined && args.normalizer !== null) {
    normalizer = finiteF32(args.normalizer, 'normalizer');
    // Its inverse scales the loss in f32: it must be a normal f32 number too.
    const inv = Math.fround(1 / normalizer);
    if (!(normalizer > 0) || !Number.isFinite(inv) || inv < 1.1754943508222875e-38) throw new RangeError(`normalizer must be > 0 with 1/normalizer a normal f32 number, got ${normalizer}`);
  }
  const hasRef = args.logpRef !== undefined && args.logpRef !== null;
  if (klCoef > 0 && !hasRef) throw new TypeError('logpRef is required when klCoef > 0');

  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    let shape: number[] | undefined = args.shape === undefined ? undefined : checkShape(args.shape);
    if (args.logpNew instanceof Tensor && shape) expectShape(args.logpNew, 'logpNew', shape);
    const ln = asTensor(args.logpNew, 'logpNew', 'f32', owned, shape);
    expectDType(ln, 'logpNew', 'f32');
    if (ln.shape.length !== 1 && ln.shape.length !== 2) {
      throw new RangeError(`logpNew must have shape [B, T] (or [T]), got [${ln.shape.join(', ')}]`);
    }
    shape = [...ln.shape];
    const B = shape.length === 2 ? shape[0] : 1;
    const lo = asTensor(args.logpOld, 'logpOld', 'f32', owned, shape);
    let advShape: number[] = shape;
    const advIn = args.advantages;
    if (!(advIn instanceof Tensor) && advIn !== null && typeof advIn === 'object' && advIn.length === B && advIn.length !== ln.size) {
      advShape = [B];
    }
    const adv = asTensor(advIn, 'advantages', 'f32', owned, advShape);
    const mask = args.mask === undefined || args.mask === null ? null : asTensor(args.mask, 'mask', 'u8', owned, shape);
    const ref = hasRef ? asTensor(args.logpRef as TensorLike, 'logpRef', 'f32', owned, shape) : null;

    expectDType(lo, 'logpOld', 'f32');
    expectShape(lo, 'logpOld', shape);
    expectDType(adv, 'advantages', 'f32');
    if (!(adv.shape.length === shape.length && adv.shape.every((d, i) => d === shape![i]))) {
      if (adv.shape.length !== 1 || adv.shape[0] !== B) {
        throw new RangeError(`advantages must have shape [${shape.join(', ')}] or [${B}], got [${adv.shape.join(', ')}]`);
      }
    }
    const named: Array<[Tensor, string]> = [[ln, 'logpNew'], [lo, 'logpOld'], [adv, 'advantages']];
    if (mask) {
      expectDType(mask, 'mask', 'u8');
      expectShape(mask, 'mask', shape);
      named.push([mask, 'mask']);
    }
    if (ref) {
      expectDType(ref, 'logpRef', 'f32');
      expectShape(ref, 'logpRef', shape);
      named.push([ref, 'logpRef']);
    }
    const device = commonDevice(named);
    const out = binding<PolicyLossBinding>().policyLoss(
      ln.handle,
      lo.handle,
      adv.handle,
      mask ? mask.handle : null,
      ref ? ref.handle : null,
      clipEps,
      clipEpsHigh,
      minRatio,
      maxRatio,
      dualClip,
      klCoef,
      klEstimator,
      aggregation,
      normalizer,
      async,
    );
    const gradShape = shape;
    const wrap = (r: NativeResult): PolicyLossResult => ({
      loss: r.loss,
      grad: wrapHandle(r.grad, gradShape, 'f32', device),
      stats: { ...r.stats },
    });
    return mapResult(out, async, wrap);
  });
}

/** Loss, gradient w.r.t. logpNew and training stats, on the inputs' device. */
export function policyLoss(args: PolicyLossInputs): PolicyLossResult {
  return run(args, false);
}

/** policyLoss off the JavaScript thread. */
export function policyLossAsync(args: PolicyLossInputs): Promise<PolicyLossResult> {
  return settle(() => run(args, true));
}
