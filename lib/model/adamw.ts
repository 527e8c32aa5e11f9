/**
 * AdamW for the built-in model: decoupled weight decay (on 2-D weights only:
 * norm gains and biases are not decayed), bias correction, and global-norm
 * gradient clipping before the moments are updated. The update is that of
 * torch.optim.AdamW; native/model/ops/adamw has the formula.
 */
import { limitedNumber, optionsObject } from '../internal/validate';
import { Tensor } from '../tensor';
import { modelBinding } from './native';
import type { PolicyModel } from './policy-model';

export interface AdamWOptions {
  /** Default 1e-3. Can be changed between steps (schedules): optimizer.lr = ... */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 0.01. */
  weightDecay?: number;
  /** Clip the global gradient norm to this; 0 or Infinity: no clipping. Default 1. */
  maxGradNorm?: number;
}

export interface StepResult {
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** True when the norm was not finite: nothing was updated (the moments neither). */
  skipped: boolean;
}

/** The optimizer's state (for checkpoints): one first and second moment per model parameter, by name. */
export interface AdamWState {
  stepCount: number;
  moments: Array<{ name: string; m: Float32Array; v: Float32Array }>;
}

export class AdamW {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  /** Steps taken (skipped steps do not count). */
  stepCount = 0;
  private readonly model: PolicyModel;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  private readonly decay: Float64Array;

  constructor(model: PolicyModel, options: AdamWOptions = {}) {
    const o = optionsObject(options);
    this.model = model;
    // The ranges the native step checks (native/model/ops/adamw/adamw.h), checked here first.
    const limit = modelBinding().limits.adamwStep;
    this.lr = limitedNumber(o.lr ?? 1e-3, limit.lr, 'options.lr');
    const betas = o.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new TypeError('options.betas must be an array of two numbers');
    this.betas = [limitedNumber(betas[0], limit.beta1, 'options.betas[0]'), limitedNumber(betas[1], limit.beta2, 'options.betas[1]')];
    this.eps = limitedNumber(o.eps ?? 1e-8, limit.eps, 'options.eps');
    this.weightDecay = limitedNumber(o.weightDecay ?? 0.01, limit.weightDecay, 'options.weightDecay');
    const mg = o.maxGradNorm ?? 1;
    // Infinity (like 0) turns clipping off; the step passes it on as 0.
    this.maxGradNorm = mg === Infinity ? mg : limitedNumber(mg, limit.maxNorm, 'options.maxGradNorm');
    const params = model.parameters();
    // The moments live with the parameters (the step runs on the model's device).
    this.m = params.map((p) => Tensor.zeros(p.value.shape, { device: model.device }));
    this.v = params.map((p) => Tensor.zeros(p.value.shape, { device: model.device }));
    this.decay = Float64Array.from(params, (p) => (p.decay ? this.weightDecay : 0));
  }

  private args(): Parameters<ReturnType<typeof modelBinding>['adamwStep']>[0] {
    this.model.idle('AdamW.step');
    const params = this.model.parameters();
    return {
      params: params.map((p) => p.value.live(p.name)),
      grads: params.map((p) => (p.grad as Tensor).live(p.name + '.grad')),
      m: this.m.map((t) => t.live('AdamW state')),
      v: this.v.map((t) => t.live('AdamW state')),
      weightDecay: this.decay,
      lr: this.lr,
      beta1: this.betas[0],
      beta2: this.betas[1],
      eps: this.eps,
      maxNorm: Number.isFinite(this.maxGradNorm) ? this.maxGradNorm : 0,
      step: this.stepCount + 1,
      async: false,
    };
  }

  private finish(norm: number): StepResult {
    const skipped = !Number.isFinite(norm);
    if (!skipped) this.stepCount++;
    return { gradNorm: norm, skipped };
  }

  /** One update from the accumulated gradients (call model.zeroGrad() after). */
  step(): StepResult {
    // lr may have changed since construction (schedules): the binding checks it ("lr must be >= 0, ...").
    return this.finish(modelBinding().adamwStep(this.args()) as number);
  }

  /** A host copy of the moments and step count, in model.parameters() order. */
  state(): AdamWState {
    const names = this.model.parameters().map((p) => p.name);
    return {
      stepCount: this.stepCount,
      moments: names.map((name, i) => ({
        name,
        m: this.m[i].toArray() as Float32Array,
        v: this.v[i].toArray() as Float32Array,
      })),
    };
  }

  /** Restores what state() returned (same model architecture); checks every name and size. */
  loadState(state: AdamWState): void {
    if (!Number.isInteger(state?.stepCount) || state.stepCount < 0) throw new RangeError('state.stepCount must be an integer >= 0');
    const params = this.model.parameters();
    if (!Array.isArray(state.moments) || state.moments.length !== params.length) {
      throw new RangeError(`state.moments must hold ${params.length} entries, one per parameter`);
    }
    const fresh = params.map((p, i) => {
      const s = state.moments[i];
      if (s?.name !== p.name) throw new RangeError(`state.moments[${i}] is for ${String(s?.name)}, expected ${p.name}`);
      for (const k of ['m', 'v'] as const) {
        if (!(s[k] instanceof Float32Array) || s[k].length !== p.value.size) {
          throw new RangeError(`state.moments[${i}].${k} (${p.name}) must be a Float32Array of ${p.value.size} values`);
        }
      }
      const on = { device: this.model.device };
      return { m: Tensor.from(s.m, p.value.shape, on), v: Tensor.from(s.v, p.value.shape, on) };
    });
    fresh.forEach((t, i) => {
      this.m[i].dispose();
      this.v[i].dispose();
      this.m[i] = t.m;
      this.v[i] = t.v;
    });
    this.stepCount = state.stepCount;
  }

  /** Frees the moment buffers. */
  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }

  /** `using opt = ...`: dispose() at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
