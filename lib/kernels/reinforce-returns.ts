/**
 * REINFORCE++ token rewards and returns, [B, T]:
 *
 *   r_t = [t is the last valid token of row b] * rewards[b] - klCoef * KL_t   (valid tokens)
 *   r_t = 0                                                                  (masked tokens)
 *   KL_t from x = logpOld - logpRef: k1 = x, k2 = x^2 / 2, k3 = exp(-x) - 1 + x
 *   G_t = r_t + gamma * G_{t+1} over every position of the row (masked ones
 *         carry r = 0, as OpenRLHF does); the output is G_t on valid tokens, 0 elsewhere.
 *
 * A row without a valid token is all zeros. Accumulated in float64. NaN/Inf in a
 * valid token's inputs propagate to the returns before it (the Advantage Filter
 * then zeroes them). Native: native/kernels/reinforce_returns.
 */
import { optionsObject } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor } from '../tensor';
import { MaybeAsync, binding, mapResult, settle, withTemporaries, wrapHandle } from './binding';

export type KlEstimator = 'k1' | 'k2' | 'k3';

export interface ReinforceReturnsInputs {
  /** f32 [B]: one scalar reward per sequence, given to its last valid token. */
  rewards: TensorLike;
  /** u8 [B, T], nonzero = valid token. A plain array is read as [B, length / B]. */
  mask: TensorLike;
  /** f32 [B, T], log-probs of the sampling policy; required when klCoef > 0. */
  logpOld?: TensorLike;
  /** f32 [B, T], log-probs of the reference policy; required when klCoef > 0. */
  logpRef?: TensorLike;
  /** KL penalty per token, >= 0; default 0 (the paper's RL stage). */
  klCoef?: number;
  /** Default 'k1'. */
  klEstimator?: KlEstimator;
  /** Discount in [0, 1]; default 1. */
  gamma?: number;
}

interface ReinforceReturnsBinding {
  reinforceReturns(args: {
    rewards?: NativeTensor;
    mask?: NativeTensor;
    logpOld?: NativeTensor;
    logpRef?: NativeTensor;
    klCoef: number;
    klEstimator: KlEstimator;
    gamma: number;
    async: boolean;
  }): MaybeAsync<NativeTensor>;
}

function run<A extends boolean>(inputs: ReinforceReturnsInputs, async: A): A extends true ? Promise<Tensor> : Tensor {
  if (inputs === null || typeof inputs !== 'object') throw new TypeError('inputs must be an object');
  const opts = optionsObject(inputs, 'inputs');
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    // Plain arrays become tensors here (a plain mask is read as [B, length / B]); the binding checks the rest.
    const given = (value: TensorLike | undefined, name: string, dtype: 'f32' | 'u8', shape?: number[]) =>
      value === undefined ? undefined : asTensor(value, name, dtype, owned, shape);
    const rewards = given(opts.rewards, 'inputs.rewards', 'f32');
    const B = rewards?.shape.length === 1 ? rewards.shape[0] : undefined;
    let maskShape: number[] | undefined;
    const len = (opts.mask as ArrayLike<number> | undefined)?.length;
    if (B !== undefined && !(opts.mask instanceof Tensor) && typeof len === 'number') {
      if (B === 0 ? len !== 0 : len % B !== 0) {
        throw new RangeError(`inputs.mask has ${len} elements, not a multiple of B = ${B}`);
      }
      maskShape = [B, B === 0 ? 0 : len / B];
    }
    const mask = given(opts.mask, 'inputs.mask', 'u8', maskShape);
    const out = binding<ReinforceReturnsBinding>().reinforceReturns({
      rewards: rewards?.handle,
      mask: mask?.handle,
      logpOld: given(opts.logpOld, 'inputs.logpOld', 'f32', mask?.shape as number[])?.handle,
      logpRef: given(opts.logpRef, 'inputs.logpRef', 'f32', mask?.shape as number[])?.handle,
      klCoef: opts.klCoef ?? 0,
      klEstimator: opts.klEstimator ?? 'k1',
      gamma: opts.gamma ?? 1,
      async,
    });
    return mapResult(out, async, (h: NativeTensor) => wrapHandle(h, (mask as Tensor).shape, 'f32', (mask as Tensor).device));
  });
}

/** The per-token returns G, f32 [B, T], on the inputs' device. */
export function reinforceReturns(inputs: ReinforceReturnsInputs): Tensor {
  return run(inputs, false);
}

/** reinforceReturns off the JavaScript thread. */
export function reinforceReturnsAsync(inputs: ReinforceReturnsInputs): Promise<Tensor> {
  return settle(() => run(inputs, true));
}
