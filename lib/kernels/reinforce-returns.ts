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
import { finiteF32, finiteNumber, oneOf, optionsObject } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor, commonDevice, expectDType, expectShape } from '../tensor';
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
  reinforceReturns(
    rewards: NativeTensor,
    mask: NativeTensor,
    logpOld: NativeTensor | null,
    logpRef: NativeTensor | null,
    klCoef: number,
    klEstimator: KlEstimator,
    gamma: number,
    async: boolean,
  ): MaybeAsync<NativeTensor>;
}

function run<A extends boolean>(inputs: ReinforceReturnsInputs, async: A): A extends true ? Promise<Tensor> : Tensor {
  if (inputs === null || typeof inputs !== 'object') throw new TypeError('inputs must be an object');
  const opts = optionsObject(inputs, 'inputs');
  const klCoef = finiteF32(opts.klCoef ?? 0, 'inputs.klCoef');
  if (!(klCoef >= 0)) throw new RangeError(`inputs.klCoef must be >= 0, got ${klCoef}`);
  const klEstimator = oneOf(opts.klEstimator, 'inputs.klEstimator', ['k1', 'k2', 'k3'] as const, 'k1');
  const gamma = finiteNumber(opts.gamma ?? 1, 'inputs.gamma');
  if (!(gamma >= 0 && gamma <= 1)) throw new RangeError(`inputs.gamma must be in [0, 1], got ${gamma}`);
  if (opts.rewards === undefined) throw new TypeError('inputs.rewards is required');
  if (opts.mask === undefined) throw new TypeError('inputs.mask is required');
  if (klCoef > 0 && opts.logpOld === undefined) throw new TypeError('inputs.logpOld is required when klCoef > 0');
  if (klCoef > 0 && opts.logpRef === undefined) throw new TypeError('inputs.logpRef is required when klCoef > 0');
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const rewards = asTensor(opts.rewards as TensorLike, 'inputs.rewards', 'f32', owned);
    expectDType(rewards, 'inputs.rewards', 'f32');
    if (rewards.shape.length !== 1) {
      throw new RangeError(`inputs.rewards must have shape [B], got [${rewards.shape.join(', ')}]`);
    }
    const B = rewards.shape[0];
    let maskShape: number[] | undefined;
    if (!(opts.mask instanceof Tensor)) {
      const len = (opts.mask as ArrayLike<number>)?.length;
      if (typeof len === 'number') {
        if (B === 0 ? len !== 0 : len % B !== 0) {
          throw new RangeError(`inputs.mask has ${len} elements, not a multiple of B = ${B}`);
        }
        maskShape = [B, B === 0 ? 0 : len / B];
      }
    }
    const mask = asTensor(opts.mask as TensorLike, 'inputs.mask', 'u8', owned, maskShape);
    expectDType(mask, 'inputs.mask', 'u8');
    if (mask.shape.length !== 2 || mask.shape[0] !== B) {
      throw new RangeError(`inputs.mask must have shape [${B}, T] (B = rewards.length), got [${mask.shape.join(', ')}]`);
    }
    const named: Array<[Tensor, string]> = [[rewards, 'inputs.rewards'], [mask, 'inputs.mask']];
    const logp = (value: TensorLike | undefined, name: string): Tensor | undefined => {
      if (value === undefined) return undefined;
      const t = asTensor(value, name, 'f32', owned, mask.shape);
      expectDType(t, name, 'f32');
      expectShape(t, name, mask.shape);
      named.push([t, name]);
      return t;
    };
    const logpOld = logp(opts.logpOld, 'inputs.logpOld');
    const logpRef = logp(opts.logpRef, 'inputs.logpRef');
    const device = commonDevice(named);
    const out = binding<ReinforceReturnsBinding>().reinforceReturns(
      rewards.handle,
      mask.handle,
      logpOld ? logpOld.handle : null,
      logpRef ? logpRef.handle : null,
      klCoef,
      klEstimator,
      gamma,
      async,
    );
    const wrap = (h: NativeTensor) => wrapHandle(h, mask.shape, 'f32', device);
    return mapResult(out, async, wrap);
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
